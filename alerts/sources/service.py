"""Polling with everything around it: a source polled in a session of its own, the admin
channel told when one starts failing or recovers, and the polling job of ``serve``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from alerts import clock
from alerts.sources import SourceConfig, build_source
from alerts.sources.catalog import configured
from alerts.sources.poll import POLL_LIMIT, Pace, PollReport, poll, told
from alerts.sources.web import USER_AGENT, HttpWeb, Manners
from notifiers.base import Message, Notifier, Verdict
from store.db import session_scope

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from alerts.config import Settings

log = logging.getLogger(__name__)


def admin_notifier(settings: Settings, http: httpx.AsyncClient) -> Notifier | None:
    """The notifier of ``[service] admin_channel``, or None when none is configured."""
    name = settings.service.admin_channel
    if name is None:
        return None
    from notifiers import build_notifier

    return build_notifier(settings.channel(name), http=http, smtp=settings.smtp, now=clock.now)


def manners(settings: Settings) -> Manners:
    polling = settings.polling
    return Manners(
        user_agent=polling.user_agent or USER_AGENT,
        timeout=polling.timeout_seconds,
        max_bytes=polling.max_bytes,
        max_redirects=polling.max_redirects,
        per_host_interval=polling.per_host_seconds,
    )


@dataclass
class Poller:
    """Polls sources on one store and tells the admin channel when one fails or recovers."""

    settings: Settings
    engine: Engine
    web: HttpWeb
    admin: Notifier | None = None  # [service] admin_channel's notifier, when there is one

    def web_for(self, config: SourceConfig) -> HttpWeb:
        """The web a source fetches through: one added through the API does not reach this
        machine or its network unless ``[polling] api_private_addresses`` says it may."""
        from_config = any(source.name == config.name for source in self.settings.sources)
        if from_config or self.settings.polling.api_private_addresses:
            return self.web
        return self.web.restricted()

    async def poll(
        self, config: SourceConfig, *, on_demand: bool, now: datetime | None = None
    ) -> PollReport:
        """Poll one source; a scheduled poll (not ``on_demand``) skips a source another
        instance polled this round, or one backing off after failures."""
        now = now or clock.now()
        pace = Pace(
            every=config.every, on_demand=on_demand, alert_after=self.settings.polling.alert_after
        )
        with session_scope(self.engine) as session:
            report = await poll(
                build_source(config),
                session,
                web=self.web_for(config),
                tz=self.settings.service.tz,
                platform=config.platform,
                pace=pace,
                now=now,
                # A page's own timeout may be set longer than a poll's usual bound.
                limit=max(POLL_LIMIT, 2 * self.settings.polling.timeout_seconds),
            )
            if report.turned is not None:
                await self._tell(session, config, report)
        if report.stored.unreadable:
            where, why = report.stored.unreadable[0]
            more = len(report.stored.unreadable) - 1
            log.warning("%s: %s%s", where, why, f" (and {more} more)" if more else "")
        if report.retry_after:
            log.info(
                "source %s: the site asked to wait %g s; the rest of its list is read then",
                config.name,
                report.retry_after,
            )
        if report.error:
            log.warning("source %s: %s", config.name, report.error)
        elif report.new_items:
            log.info(
                "source %s: %d new item(s), %d notice(s) stored",
                config.name,
                report.new_items,
                report.stored.notices_added,
            )
        return report

    async def poll_all(self, *, on_demand: bool = False) -> list[PollReport]:
        with session_scope(self.engine) as session:
            sources = [s for s in configured(self.settings, session) if s.enabled]
        return [await self.poll(source, on_demand=on_demand) for source in sources]

    async def _tell(self, session: Session, config: SourceConfig, report: PollReport) -> None:
        failing = report.turned == "failing"
        if self.admin is None:
            told(session, config.name, failing=failing)  # no one to tell: not again
            return
        message = admin_message(config, report, self.settings.service.base_url, clock.now())
        outcome = await self.admin.send(message)
        if outcome.verdict is Verdict.delivered:
            told(session, config.name, failing=failing)
        else:  # told at the next poll that still fails (or recovers)
            log.warning("admin channel: %s not sent: %s", message.subject, outcome.reason)

    async def tick(self, now: datetime | None = None) -> list[PollReport]:
        """Poll every enabled source that is due, a few at a time. Run every minute by
        ``serve`` on each instance: a source's round goes to one instance (see
        ``store.sources.claim``), and sources added through the API join at the next tick."""
        now = now or clock.now()
        with session_scope(self.engine) as session:
            sources = [s for s in configured(self.settings, session) if s.enabled]
        gate = asyncio.Semaphore(POLLS_AT_ONCE)

        async def one(source: SourceConfig) -> PollReport:
            async with gate:
                try:
                    return await self.poll(source, on_demand=False, now=now)
                except Exception:  # the store was down: the next tick tries again
                    log.exception("source %s: poll failed", source.name)
                    return PollReport(source=source.name, error="poll failed")

        reports = await asyncio.gather(*(one(source) for source in sources))
        return [report for report in reports if report.skipped is None]


# Sources fetched at once by one instance; requests to one host still go one at a time.
POLLS_AT_ONCE = 4
# How often serve looks for due sources; a source's own ``every`` is at least a minute.
TICK = timedelta(minutes=1)


def start_polling(poller: Poller, scheduler: AsyncIOScheduler) -> None:
    """Add the polling job to ``serve``'s scheduler."""
    scheduler.add_job(
        poller.tick,
        "interval",
        seconds=TICK.total_seconds(),
        id=POLL_JOB,
        next_run_time=clock.now() + timedelta(seconds=5),
        coalesce=True,
        misfire_grace_time=None,
        max_instances=1,
    )


POLL_JOB = "sources"


def admin_message(
    config: SourceConfig, report: PollReport, base_url: str, now: datetime
) -> Message:
    """The admin channel's message that a source began failing, or recovered."""
    if report.turned == "failing":
        subject = f"数据源「{config.name}」读取失败"
        text = (
            f"rulewatch 已连续多次无法读取数据源「{config.name}」（{config.kind}），"
            f"这段时间里它发布的新公告不会被发现。\n最近一次的原因：{report.error}\n"
            "恢复后会再通知一次。"
        )
    else:
        subject = f"数据源「{config.name}」已恢复"
        text = f"数据源「{config.name}」（{config.kind}）又能正常读取了。"
    link = f"{base_url}/#sources"
    return Message(
        id=f"source-{report.turned}-{config.name}-{now:%Y%m%d%H%M%S}",
        subject=subject,
        text=f"{text}\n{link}",
        html="".join(f"<p>{escape(line)}</p>" for line in text.splitlines())
        + f'<p><a href="{escape(link)}">rulewatch</a></p>',
        payload={
            "kind": "service",
            "event": f"source_{report.turned}",
            "source": {"name": config.name, "kind": config.kind, "error": report.error},
            "text": text,
            "link": link,
        },
    )
