"""The `rulewatch` command.

Each command parses its arguments, calls one library function and prints the result. Heavy
packages (SQLModel, FastAPI, icalendar) are imported inside the commands that use them, so
`rulewatch --help` and `rulewatch extract` stay fast for cron.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from alerts.errors import ConfigError, RulewatchError
from store.errors import StoreError

if TYPE_CHECKING:
    from alerts.config import Settings
    from alerts.timeline.ingest import IngestReport

# Piped output (cron mail, grep) is not cut to 80 columns; a terminal gets its own width.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _Group(typer.core.TyperGroup):
    """Turns the library's errors into a message and an exit status, in one place."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context type is private
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            err.print(f"[bold red]config error[/] in {len(exc.problems)} place(s):", markup=True)
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
            raise SystemExit(2) from exc
        except (RulewatchError, StoreError) as exc:
            print_error(exc)
            raise SystemExit(1) from exc


def print_error(exc: Exception) -> None:
    """``error: <message>`` on stderr, on one line."""
    # The message is text, not markup: "[service] listen" must print as written.
    err.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)


app = typer.Typer(
    cls=_Group,
    help="Track platform rule changes: 公示 and 生效 dates, reminders and a calendar feed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@dataclass
class _Context:
    config: Path | None


@app.callback()
def _options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="config.toml to use; default $RULEWATCH_CONFIG, else ./config.toml.",
        ),
    ] = None,
) -> None:
    ctx.obj = _Context(config=config)


def _settings(ctx: typer.Context, *, secrets_needed: bool = True) -> Settings:
    from alerts.config import load_settings, resolve_config_path

    path = resolve_config_path(ctx.ensure_object(_Context).config, os.environ)
    return load_settings(path, secrets_needed=secrets_needed)


@contextmanager
def _session(settings: Settings) -> Iterator[Any]:
    from alerts import clock
    from alerts.reminders.plan import sync_channels
    from store.db import connect, ensure_schema, session_scope

    engine = connect(settings.service.database)
    try:
        ensure_schema(engine)
        with session_scope(engine) as session:
            # A channel dates from the first command that saw it in the config, so changes
            # stored after that are announced on it.
            sync_channels(session, settings, now=clock.now())
            yield session
    finally:  # a command that fails halfway leaves no connection open either
        engine.dispose()


class Format(StrEnum):
    auto = "auto"
    listing = "listing"
    article = "article"
    html = "html"
    jsonl = "jsonl"


def _parse_published(value: str | None) -> datetime | date | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or date-time", param_hint="--published"
        ) from None


def _read_input(path: str) -> tuple[str, str]:
    from alerts.errors import ExtractionError
    from alerts.timeline.ingest import decode

    if path == "-":
        return decode(sys.stdin.buffer.read(), where="standard input"), "<stdin>"
    try:
        return decode(Path(path).read_bytes(), where=path), path
    except OSError as exc:
        raise ExtractionError(f"cannot read {path}: {exc.strerror or exc}") from exc


@app.command("extract")
def extract_command(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files of notices, or - for standard input (the default)."),
    ] = None,
    published: Annotated[
        str | None,
        typer.Option(help="Publish time (ISO 8601) for an article without one."),
    ] = None,
    format: Annotated[Format, typer.Option(help="How the input is laid out.")] = Format.auto,
) -> None:
    """Print the changes read from notices as JSON lines; touches no database."""
    from alerts.extract import extract, read_notices

    published_at = _parse_published(published)
    notices = [
        notice
        for path in paths or ["-"]
        for notice in read_notices(
            _read_input(path)[0], format=format.value, published_at=published_at
        )
    ]
    for notice in notices:
        line: dict[str, Any] = {} if notice.id is None else {"id": notice.id}
        line |= {
            "title": notice.title,
            "published_at": _iso(notice.published_at),
            "changes": [candidate.as_json() for candidate in extract(notice)],
        }
        out.print(json.dumps(line, ensure_ascii=False), markup=False)


@app.command("import")
def import_command(
    ctx: typer.Context,
    paths: Annotated[list[Path] | None, typer.Argument(help="Files of notices.")] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Import the bundled sample listing.")
    ] = False,
    format: Annotated[Format, typer.Option(help="How the input is laid out.")] = Format.auto,
    published: Annotated[
        str | None,
        typer.Option(
            help="Publish time (ISO 8601) for notices that give none: it places month-days "
            "without a year and orders the notice among the others of its rule."
        ),
    ] = None,
) -> None:
    """Extract notices from files and store them; importing a file twice changes nothing."""
    from alerts.timeline.ingest import IngestReport, import_files, sample_path

    files = [*(paths or []), *([sample_path()] if sample else [])]
    if not files:
        raise typer.BadParameter("give at least one file, or --sample", param_hint="PATHS")
    from alerts.errors import ExtractionError

    settings = _settings(ctx)
    published_at = _parse_published(published)
    unread: list[str] = []
    with _session(settings) as session, _progress() as advance:
        report = IngestReport()
        for path in files:
            # One file that cannot be read stops nothing: the others are stored, it is named.
            try:
                report.extend(
                    import_files(
                        session,
                        [path],
                        format=format.value,
                        tz=settings.service.tz,
                        published_at=published_at,
                        progress=advance,
                    )
                )
            except ExtractionError as exc:
                unread.append(str(exc))
                print_error(exc)
    _print_report(report)
    if unread:
        err.print(f"{len(unread)} of {len(files)} file(s) could not be read", markup=False)
        raise typer.Exit(1)


@contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """A bar of the notices stored of each file, moved after each batch (on a terminal)."""
    from rich.progress import MofNCompleteColumn, Progress

    with Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("importing", total=None)

        def advance(name: str, done: int, total: int) -> None:
            progress.update(task, description=name, completed=done, total=total)

        yield advance


def _print_report(report: IngestReport) -> None:
    lines = []
    for change in report.changes:
        if change.action == "merged":
            continue
        moved = f" (moved from {change.postponed_from})" if change.postponed_from else ""
        dates = f"公示 {change.announced_on or '-'}  生效 {change.effective_on or '-'}"
        lines.append(f"{change.action:6}  {change.rule_key}  {dates}{moved}")
    if lines:  # one print: a line at a time costs 0.1 ms each, a second for a large import
        out.print("\n".join(lines), markup=False)
    for title, reason in report.unreadable:
        err.print(f"unreadable: {title}: {reason}", markup=False)
    for title, days in report.without_year:
        err.print(
            f"no year: {title}: {', '.join(days)} cannot be placed in a year, so its change has "
            "no such date; give the notice a publish time (--published 2026-11-30) or a line "
            "with a full date (2026年12月1日), and import it again",
            markup=False,
        )
    out.print(
        f"{report.notices_added} notice(s) stored, {report.notices_known} already known; "
        f"changes: {report.count('added')} added, {report.count('merged')} merged, "
        f"{report.count('moved')} moved",
        markup=False,
    )


@app.command("add")
def add_command(
    ctx: typer.Context,
    rule: Annotated[str, typer.Option(help="Rule name, e.g. 1688商家发货行为管理规范.")],
    effective: Annotated[str, typer.Option(help="生效 date, YYYY-MM-DD.")],
    platform: Annotated[str | None, typer.Option(help="Platform, e.g. 1688, 淘宝.")] = None,
    announced: Annotated[str | None, typer.Option(help="公示 date, YYYY-MM-DD.")] = None,
    at: Annotated[
        str | None, typer.Option("--time", help="Time of day it takes effect, HH:MM.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Title of the change.")] = None,
    url: Annotated[str | None, typer.Option(help="Link to the announcement.")] = None,
    tentative: Annotated[
        bool, typer.Option("--tentative", help="The date is only expected (预计).")
    ] = False,
    note: Annotated[
        str | None,
        typer.Option(help="What to say about it: shown in messages, the feed and its page."),
    ] = None,
) -> None:
    """Enter a change by hand."""
    from alerts import clock
    from alerts.timeline.ingest import add_change

    settings = _settings(ctx)
    with _session(settings) as session:
        report = add_change(
            session,
            rule=rule,
            platform=platform,
            effective_on=_date_option(effective, "--effective"),
            announced_on=_date_option(announced, "--announced") if announced else None,
            effective_at=_time_option(at) if at else None,
            title=title,
            url=url,
            tentative=tentative,
            note=note,
            now=clock.now(),
            tz=settings.service.tz,
        )
    _print_report(report)


def _date_option(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD", param_hint=name) from None


def _time_option(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time HH:MM", param_hint="--time") from None


@app.command("withdraw")
def withdraw_command(
    ctx: typer.Context, uid: Annotated[str, typer.Argument(help="The change's uid.")]
) -> None:
    """Mark a change withdrawn: its reminders are cancelled and channels are told once."""
    from alerts import clock
    from alerts.errors import RulewatchError
    from alerts.timeline.ingest import withdraw

    with _session(_settings(ctx)) as session:
        change = withdraw(session, uid=uid, now=clock.now())
    if change is None:
        raise RulewatchError(f"no change has uid {uid!r}; `rulewatch changes --json` lists them")
    out.print(f"withdrawn: {change.uid} (revision {change.revision})", markup=False)


_Uid = Annotated[str, typer.Argument(help="The change's uid (rulewatch changes --json).")]
_Reason = Annotated[str, typer.Option("--reason", help="Why: kept in the change's history.")]


@app.command("edit")
def edit_command(
    ctx: typer.Context,
    uid: _Uid,
    reason: _Reason,
    announced: Annotated[
        str | None, typer.Option(help="公示 date, YYYY-MM-DD ('' clears).")
    ] = None,
    effective: Annotated[
        str | None, typer.Option(help="生效 date, YYYY-MM-DD ('' clears).")
    ] = None,
    at: Annotated[str | None, typer.Option(help="Time of day it takes effect, HH:MM.")] = None,
    tentative: Annotated[
        bool | None, typer.Option("--tentative/--firm", help="The date is only expected (预计).")
    ] = None,
    rule: Annotated[str | None, typer.Option(help="The rule's name.")] = None,
    platform: Annotated[str | None, typer.Option(help="The platform, in any spelling.")] = None,
) -> None:
    """Correct a change; a new effective date re-plans its reminders and tells channels once."""
    values: dict[str, object] = {}
    if announced is not None:
        values["announced_on"] = _date_option(announced, "--announced") if announced else None
    if effective is not None:
        values["effective_on"] = _date_option(effective, "--effective") if effective else None
    if at is not None:
        values["effective_at"] = _time_option(at) if at else None
    if tentative is not None:
        values["tentative"] = tentative
    if rule is not None:
        values["rule"] = rule
    if platform is not None:
        values["platform"] = platform or None
    if not values:
        raise typer.BadParameter("say what to correct: --effective, --announced, --at, …")
    change = _corrected(ctx, "edit", uid, reason, values=values)
    if change is None:
        out.print(f"{uid}: nothing to correct, it says so already", markup=False)
        return
    _print_history(ctx, uid)


@app.command("merge")
def merge_command(
    ctx: typer.Context,
    keep: Annotated[str, typer.Argument(help="The change that stays.")],
    drop: Annotated[str, typer.Argument(help="Its duplicate: its sources join KEEP.")],
    reason: _Reason,
) -> None:
    """Merge a duplicate change into another: it leaves the timeline, its sources stay."""
    _corrected(ctx, "merge", keep, reason, other=drop)
    out.print(f"merged: {drop} → {keep}", markup=False)


@app.command("split")
def split_command(
    ctx: typer.Context,
    uid: _Uid,
    notice: Annotated[int, typer.Option(help="The source's notice id (GET /api/changes/UID).")],
    reason: _Reason,
) -> None:
    """Split a wrongly joined source off a change into a change of its own."""
    split = _corrected(ctx, "split", uid, reason, notice=notice)
    out.print(f"split: notice {notice} → {split.uid}", markup=False)
    if split.check:
        out.print(split.check, markup=False)


@app.command("delete")
def delete_command(ctx: typer.Context, uid: _Uid, reason: _Reason) -> None:
    """Delete a change that was never one (a misreading): it leaves quietly, its page stays."""
    _corrected(ctx, "delete", uid, reason)
    out.print(f"deleted: {uid}", markup=False)


def _corrected(ctx: typer.Context, action: str, uid: str, reason: str, **kwargs: Any) -> Any:
    from alerts.timeline.corrections import correct

    settings = _settings(ctx, secrets_needed=False)
    with _session(settings) as session:
        return correct(session, _cli_actor(), action, uid, reason, tz=settings.service.tz, **kwargs)


def _print_history(ctx: typer.Context, uid: str) -> None:
    from alerts.timeline.views import revision_views
    from store import queries

    settings = _settings(ctx, secrets_needed=False)
    with _session(settings) as session:
        found = queries.get_change(session, uid=uid)
        change_id = found[0].id if found else None
        for revision in revision_views(session, change_id=change_id or 0, tz=settings.service.tz):
            when = f"{revision.at:%Y-%m-%d %H:%M}"
            line = f"{when} {revision.actor}: {revision.label}（{revision.reason}）"
            out.print(line, markup=False)


@app.command("changes")
def changes_command(
    ctx: typer.Context,
    upcoming: Annotated[
        bool, typer.Option("--upcoming", help="Only changes taking effect today or later.")
    ] = False,
    rule: Annotated[str | None, typer.Option(help="Part of the rule's name or key.")] = None,
    platform: Annotated[str | None, typer.Option(help="Platform, e.g. 1688.")] = None,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Words the rule, title or source texts must all hold."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the timeline of rule changes, by effective date."""
    from alerts import clock
    from alerts.timeline.views import change_views

    settings = _settings(ctx, secrets_needed=False)
    today = clock.today(settings.service.tz)
    with _session(settings) as session:
        views = change_views(
            session,
            today=today,
            tz=settings.service.tz,
            upcoming=upcoming,
            rule=rule,
            platform=platform,
            search=search,
        )
    if as_json:
        out.print(_json([v.as_json() for v in views]), markup=False)
        return
    from rich.table import Column, Table

    table = Table(
        Column("生效", no_wrap=True),
        Column("days", justify="right"),
        Column("公示", no_wrap=True),
        Column("rule", no_wrap=True),
        Column("platform", no_wrap=True),
        Column("kind", no_wrap=True),
        Column("title", overflow="ellipsis", no_wrap=True, ratio=1),
    )
    for view in views:
        days = "" if view.days_left is None else str(view.days_left)
        effective = f"{view.effective_on or '?'}{' (预计)' if view.tentative else ''}"
        if view.effective_on is None and view.without_year:
            effective = f"? (no year: {view.without_year})"
        table.add_row(
            effective,
            days,
            str(view.announced_on or ""),
            view.rule_key,
            view.platform or "",
            view.kind,
            view.title,
        )
    out.print(table)


@app.command("rules")
def rules_command(ctx: typer.Context) -> None:
    """List the rules in the store with how many changes each has."""
    from rich.table import Table

    from store.queries import list_rules

    with _session(_settings(ctx, secrets_needed=False)) as session:
        rows = list_rules(session)
    table = Table("rule", "platform", "changes")
    for rule, count in rows:
        table.add_row(rule.key, rule.platform or "", str(count))
    out.print(table)


@app.command("check-config")
def check_config_command(ctx: typer.Context) -> None:
    """Validate config.toml and report every problem at once."""
    from alerts import clock
    from alerts.reminders.plan import workdays_of
    from alerts.reminders.workdays import coverage_warnings

    settings = _settings(ctx)
    out.print(
        f"config OK: {len(settings.watches)} watch(es), {len(settings.channels)} channel(s), "
        f"{len(settings.sources)} source(s), "
        f"database {settings.redacted()['service']['database']}",
        markup=False,
    )
    for warning in coverage_warnings(
        workdays_of(settings),
        shifting=settings.reminders.shift == "previous_workday",
        today=clock.today(settings.service.tz),
    ):
        err.print(f"warning: {warning}", markup=False)


@app.command("serve")
def serve_command(ctx: typer.Context) -> None:
    """Run the HTTP service (upgrades the database first)."""
    from alerts.server import serve

    serve(_settings(ctx))


class ReminderFilter(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


@app.command("reminders")
def reminders_command(
    ctx: typer.Context,
    pending: Annotated[
        bool, typer.Option("--pending", help="Only reminders still to send.")
    ] = False,
    sent: Annotated[bool, typer.Option("--sent", help="Only reminders sent.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only dead reminders.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List reminders in the outbox with their status and last delivery."""
    from alerts.timeline.views import reminder_views

    wanted = [name for name, on in (("pending", pending), ("sent", sent), ("failed", failed)) if on]
    settings = _settings(ctx, secrets_needed=False)
    with _session(settings) as session:
        views = reminder_views(session, tz=settings.service.tz, show=wanted)
    if as_json:
        out.print(_json([v.as_json() for v in views]), markup=False)
        return
    from rich.table import Column, Table

    table = Table(
        *(Column(name, no_wrap=True) for name in ("due", "kind", "channel", "rule", "生效")),
        Column("status", no_wrap=True),
        Column("tries", justify="right"),
        Column("reason", overflow="fold", ratio=1),
    )
    for v in views:
        table.add_row(
            v.due_at.strftime("%Y-%m-%d %H:%M"),
            v.label,
            v.channel,
            v.rule_key,
            str(v.effective_on or ""),
            v.status,
            str(v.attempts),
            v.reason or "",
        )
    out.print(table)


@app.command("run-due")
def run_due_command(
    ctx: typer.Context,
    now: Annotated[
        str | None, typer.Option(help="Act as if it were this instant (ISO 8601 with offset).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be sent; change nothing.")
    ] = False,
    send_ahead: Annotated[
        bool,
        typer.Option(
            "--send-ahead",
            help="With --now later than the clock: really send what is due then (and mark it "
            "sent), before its time.",
        ),
    ] = False,
) -> None:
    """Plan reminders and send what is due, once, then exit (for cron)."""
    from alerts import clock
    from alerts.reminders.ops import run_due

    settings = _settings(ctx)
    instant = _instant_option(now) if now else clock.now()
    # A minute of slack for clocks that differ a little between a scheduler and this host.
    if instant > clock.now() + timedelta(minutes=1) and not (dry_run or send_ahead):
        raise typer.BadParameter(
            f"{now} is ahead of the clock: sending now what is due then would use those "
            "reminders up before their time; add --dry-run to see what would go, or "
            "--send-ahead to send it anyway",
            param_hint="--now",
        )
    lines = run_due(settings, now=instant, dry_run=dry_run)
    for line in lines:
        out.print(line, markup=False)


def _instant_option(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 instant with an offset, e.g. 2026-12-08T09:00+08:00",
            param_hint="--now",
        )
    return instant


channels_app = typer.Typer(help="Notification channels.", no_args_is_help=True)
app.add_typer(channels_app, name="channels")


@channels_app.command("test")
def channels_test_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The channel's name.")]
) -> None:
    """Send a test message to one channel and print what came back."""
    from alerts.reminders.ops import test_channel

    outcome = test_channel(_settings(ctx), name)
    out.print(f"{name}: {outcome.verdict.value} — {outcome.reason}", markup=False)
    if outcome.verdict.value != "delivered":
        raise typer.Exit(1)


@channels_app.command("new-secret")
def channels_new_secret_command() -> None:
    """Print a fresh webhook signing secret (whsec_…) for a channel's `secret`."""
    from notifiers.webhook import new_secret

    out.print(new_secret(), markup=False)


@app.command("retry")
def retry_command(
    ctx: typer.Context,
    uid: Annotated[
        str | None, typer.Argument(help="The reminder's uid (rulewatch reminders).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="Every reminder of this channel that failed for good.")
    ] = None,
) -> None:
    """Send a reminder that failed for good again (or all of a channel's), at the next tick."""
    from alerts import clock
    from alerts.reminders.ops import retry_reminders
    from store import audit
    from store.db import committed

    if (uid is None) == (channel is None):
        raise typer.BadParameter("give a reminder's UID or --channel NAME, not both")
    settings = _settings(ctx, secrets_needed=False)
    if channel is not None and not any(c.name == channel for c in settings.channels):
        raise RulewatchError(f"no channel named {channel!r} in config.toml")
    now = clock.now()
    with _session(settings) as session:

        def put_back() -> list[str]:
            retried = retry_reminders(session, uid=uid, channel=channel, now=now)
            if retried:
                target = uid or f"channel {channel}"
                audit.record(
                    session, actor=_cli_actor(), action="reminder.retry", target=target, now=now
                )
            return retried

        retried = committed(session, put_back)
    for one in retried:
        out.print(f"{one}: pending, sent at the next tick", markup=False)
    if not retried:
        out.print(f"{channel}: no reminder failed for good", markup=False)


@app.command("handled")
def handled_command(
    ctx: typer.Context,
    uid: Annotated[str, typer.Argument(help="The change's uid (rulewatch changes).")],
    watch: Annotated[str | None, typer.Option(help="Handled for this watch.")] = None,
    tag: Annotated[str | None, typer.Option(help="Handled for every watch with this tag.")] = None,
    note: Annotated[str, typer.Option(help="What was done, for the team.")] = "",
    undo: Annotated[bool, typer.Option("--undo", help="Remove the mark instead.")] = False,
) -> None:
    """Mark a change handled (已处理) for a watch or a tag, or undo the mark: a watch with
    stop_when_handled sends no more lead reminders about it."""
    from alerts import clock
    from alerts.timeline.handled import ScopeKind, set_handled
    from alerts.watches import current_watches
    from store import audit
    from store.db import committed

    if (watch is None) == (tag is None):
        raise typer.BadParameter("give --watch NAME or --tag TAG, not both")
    kind, scope = (ScopeKind.watch, watch) if watch else (ScopeKind.tag, tag or "")
    settings = _settings(ctx, secrets_needed=False)
    now = clock.now()
    actor = _cli_actor()
    with _session(settings) as session:

        def write() -> None:
            watches = current_watches(session, settings)
            set_handled(
                session, watches, uid=uid, kind=kind, scope=scope, by=actor, note=note,
                undo=undo, now=now,
            )  # fmt: skip
            shown = {kind.value: scope, **({} if undo else {"note": note})}
            action = "change.unhandled" if undo else "change.handled"
            audit.record(session, actor=actor, action=action, target=uid, detail=shown, now=now)

        committed(session, write)
    if undo:
        out.print(f"{uid} ({kind.value} {scope}): mark removed, leads planned again", markup=False)
    else:
        out.print(f"{uid}: handled for {kind.value} {scope}", markup=False)


def _cli_actor() -> str:
    """Who a command's write is logged as: the machine's user, as the CLI has no sign-in."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@app.command("audit")
def audit_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, help="How many entries, newest first.")] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this user's writes.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The audit log: every write made through the API or the page, who made it and when."""
    from store import audit

    settings = _settings(ctx, secrets_needed=False)
    with _session(settings) as session:
        entries = audit.entries(session, limit=limit, actor=actor)
        rows = [
            {
                "at": _local(e.at, settings.service.tz),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "detail": json.loads(e.detail or "{}"),
            }
            for e in entries
        ]
    if as_json:
        out.print(_json(rows), markup=False)
        return
    if not rows:
        out.print("the audit log is empty: no write has been made yet", markup=False)
        return
    from rich.table import Column, Table

    table = Table(Column("at", no_wrap=True), "actor", "action", Column("target", overflow="fold"))
    for row in rows:
        table.add_row(row["at"], row["actor"], row["action"], row["target"])
    out.print(table)


users_app = typer.Typer(help="The [[users]] of config.toml.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("hash")
def users_hash_command(
    password: Annotated[
        str,
        typer.Option(
            prompt="密码 Password",
            confirmation_prompt=True,
            hide_input=True,
            help="Asked for when not given; never pass it on a shared machine's command line.",
        ),
    ],
) -> None:
    """Print the Argon2id hash of a password, for a [[users]] entry's `password_hash`."""
    from alerts.users import hash_password

    if len(password) < 8:
        raise typer.BadParameter("use at least 8 characters", param_hint="password")
    out.print(hash_password(password), markup=False, soft_wrap=True)


sources_app = typer.Typer(
    help="Sources rulewatch polls for new notices: list them, poll one, try a URL.",
    invoke_without_command=True,
)
app.add_typer(sources_app, name="sources")


@sources_app.callback()
def sources_command(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the sources with their last success, last error and items seen."""
    if ctx.invoked_subcommand is not None:
        return
    from alerts.sources.catalog import source_views

    settings = _settings(ctx, secrets_needed=False)
    with _session(settings) as session:
        views = source_views(settings, session)
    if as_json:
        out.print(_json([v.as_json() for v in views]), markup=False)
        return
    if not views:
        out.print("no sources: add [[sources]] to config.toml (docs/sources.md)", markup=False)
        return
    from rich.table import Column, Table

    table = Table(
        *(Column(name, no_wrap=True) for name in ("source", "kind", "every", "state")),
        Column("last success", no_wrap=True),
        Column("items", justify="right"),
        Column("unreadable", justify="right"),
        Column("retrying", justify="right"),
        Column("last error", overflow="fold", ratio=1),
    )
    tz = settings.service.tz
    for v in views:
        table.add_row(
            v.name,
            v.kind,
            _every(v.every),
            v.state,
            _local(v.last_success_at, tz),
            str(v.items_seen),
            str(v.unreadable),
            str(v.retrying),
            f"{_local(v.last_error_at, tz)} {v.last_error}" if v.failures and v.last_error else "",
        )
    out.print(table)


def _every(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _local(value: datetime | None, tz: Any) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else "-"


@sources_app.command("poll")
def sources_poll_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The source's name.")] = None,
    every_source: Annotated[bool, typer.Option("--all", help="Poll every enabled source.")] = False,
) -> None:
    """Poll one source now (even while it backs off after failures) and store what is new."""
    import asyncio

    from alerts.sources.catalog import find

    if (name is None) == (not every_source):
        raise typer.BadParameter("give a source's name, or --all", param_hint="NAME")
    settings = _settings(ctx)
    with _session(settings) as session:
        from alerts.sources.catalog import configured

        wanted = (
            [s for s in configured(settings, session) if s.enabled]
            if every_source
            else [find(settings, session, name or "")]
        )
    reports = asyncio.run(_poll_sources(settings, wanted))
    failed = 0
    for report in reports:
        if report.error:
            failed += 1
            print_error(RulewatchError(f"{report.source}: {report.error}"))
            continue
        if report.not_modified:
            out.print(f"{report.source}: not modified since the last poll", markup=False)
            continue
        _print_report(report.stored)
        out.print(f"{report.source}: {report.new_items} new item(s)", markup=False)
    if failed:
        raise typer.Exit(1)


async def _poll_sources(settings: Settings, sources: list[Any]) -> list[Any]:
    import httpx

    from alerts.sources.service import Poller, admin_notifier, manners
    from alerts.sources.web import HttpWeb
    from notifiers.http import sending_client
    from store.db import connect

    engine = connect(settings.service.database)
    try:
        # Two clients, as `serve` has: see alerts.server._reminders.
        async with httpx.AsyncClient() as http, sending_client() as sending:
            poller = Poller(
                settings,
                engine,
                web=HttpWeb(http, manners(settings)),
                admin=admin_notifier(settings, sending),
            )
            return [await poller.poll(source, on_demand=True) for source in sources]
    finally:
        engine.dispose()


@sources_app.command("try")
def sources_try_command(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The page, feed or list to read (a folder's path).")],
    kind: Annotated[str, typer.Option("--kind", "-k", help="The source kind.")],
    options: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help='A key of the kind, KEY=VALUE (e.g. --set item=".news li"); repeatable.',
        ),
    ] = None,
) -> None:
    """Fetch a place as a source of KIND would and show what it would read, storing nothing."""
    import asyncio

    from pydantic import ValidationError

    from alerts.sources import SOURCES
    from alerts.sources.catalog import parse_source
    from alerts.sources.poll import in_zone
    from alerts.timeline.ingest import changes_in, cleaned

    if kind not in SOURCES:
        raise typer.BadParameter(f"one of: {', '.join(SOURCES)}", param_hint="--kind")
    where = "path" if "path" in SOURCES[kind].model.model_fields else "url"
    definition: dict[str, Any] = {"name": "try", "kind": kind, where: url}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{option!r} is not KEY=VALUE", param_hint="--set")
        definition[key.strip()] = _option_value(value)
    try:
        config = parse_source(definition)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or kind}: {e['msg']}" for e in exc.errors()
        )
        raise RulewatchError(f"not a {kind} source: {problems}") from None
    settings = _settings(ctx, secrets_needed=False)
    fetched = asyncio.run(_try_source(settings, config))
    if fetched.not_modified:
        out.print("not modified", markup=False)
    for item in fetched.items:
        if item.problem:
            err.print(f"unreadable: {item.where}: {item.problem}", markup=False)
            continue
        for notice in item.notices:
            notice = cleaned(in_zone(notice, settings.service.tz))  # as a poll stores it
            when = notice.published_at.isoformat() if notice.published_at else "no publish time"
            out.print(f"\n{notice.title}  ({when})", markup=False)
            out.print(f"  {notice.url or item.where}", markup=False)
            candidates = changes_in(notice, platform=config.platform)
            for c in candidates:
                dates = f"公示 {c.announced_on or '-'}  生效 {c.effective_on or '-'}"
                out.print(f"  → {c.rule_key}  {dates}", markup=False)
            if not candidates:
                out.print("  → no rule change read from it", markup=False)
    out.print(f"\n{len(fetched.items)} item(s); nothing was stored", markup=False)


def _option_value(value: str) -> Any:
    """``--set`` values: numbers, true/false and JSON arrays as TOML would give them."""
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    return parsed if isinstance(parsed, bool | int | float | list) else value


async def _try_source(settings: Settings, config: Any) -> Any:
    import httpx

    from alerts.sources import build_source
    from alerts.sources.base import Context
    from alerts.sources.service import manners
    from alerts.sources.web import HttpWeb

    async with httpx.AsyncClient() as http:
        return await build_source(config).fetch(Context(web=HttpWeb(http, manners(settings))))


@app.command("export")
def export_command(
    ctx: typer.Context,
    out_file: Annotated[Path, typer.Option("--out", help="The file to write (atomically).")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or xlsx; default: the file's suffix.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    rule: Annotated[str | None, typer.Option(help="Part of the rule's name or key.")] = None,
    tag: Annotated[
        str | None, typer.Option(help="Only changes a watch with this tag covers.")
    ] = None,
    upcoming: Annotated[bool, typer.Option(help="Only changes still to take effect.")] = False,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Words the rule, title or source texts must all hold."),
    ] = None,
) -> None:
    """Write the timeline as a spreadsheet for a report: CSV (UTF-8 with BOM) or .xlsx."""
    from alerts import clock
    from alerts.calendar.feed import write_feed
    from alerts.timeline import export
    from alerts.web.exports import report
    from alerts.web.pages import Filters

    chosen = fmt or out_file.suffix.lstrip(".").lower()
    if chosen not in {f.value for f in export.Format}:
        raise typer.BadParameter(
            "csv or xlsx (or a file ending in .csv or .xlsx)", param_hint="--format"
        )
    settings = _settings(ctx, secrets_needed=False)
    today = clock.today(settings.service.tz)
    with _session(settings) as session:
        filters = Filters.of(platform, rule, tag, search)
        table = report(session, settings, filters, today, upcoming=upcoming)
    write_feed(out_file, export.encode(table, export.Format(chosen)))
    out.print(f"{out_file}: {len(table)} change(s)", markup=False)


@app.command("ics")
def ics_command(
    ctx: typer.Context,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here (atomically); default stdout.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    rule: Annotated[str | None, typer.Option(help="Part of the rule's name or key.")] = None,
    tag: Annotated[
        str | None, typer.Option(help="Only changes a watch with this tag covers.")
    ] = None,
    watch: Annotated[str | None, typer.Option(help="Only changes this watch covers.")] = None,
    kind: Annotated[str | None, typer.Option(help="announced (公示) or effective (生效).")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every change, not only those a watch covers.")
    ] = False,
    search: Annotated[
        str | None,
        typer.Option("--search", "-q", help="Words the rule, title or source texts must all hold."),
    ] = None,
) -> None:
    """Write the iCalendar feed, the same as GET /calendar.ics serves."""
    from alerts.calendar.feed import FeedQuery, build_feed, write_feed
    from alerts.calendar.render import EventKind

    if kind not in (None, *EventKind):
        raise typer.BadParameter("is announced or effective", param_hint="--kind")
    kinds = EventKind(kind) if kind else None
    query = FeedQuery(platform, rule, tag, watch, kinds, every, q=search or None)
    settings = _settings(ctx, secrets_needed=False)
    with _session(settings) as session:
        feed = build_feed(session, settings, query)
    if out_file is None:
        sys.stdout.buffer.write(feed.body)
    else:
        write_feed(out_file, feed.body)


@db_app.command("upgrade")
def db_upgrade_command(ctx: typer.Context) -> None:
    """Bring the database schema up to date."""
    from store.db import connect, current_revision, database_url_shown, upgrade

    settings = _settings(ctx)
    engine = connect(settings.service.database)
    upgrade(engine)
    revision = current_revision(engine)
    out.print(
        f"{database_url_shown(settings.service.database)} is at revision {revision}", markup=False
    )


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def main() -> None:
    app()
