"""Every kind of source in ``alerts.sources.SOURCES``, in the situations every kind must
survive, polled into a real store: a Chinese notice in GBK is read right, an item that cannot
be read is reported while the others are stored, a second poll stores nothing new, and a
source that is not there is a problem of the poll, not a crash.

A kind without a case here fails the test: adding a kind means adding its case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import Engine

from alerts.sources import SOURCES, build_source
from alerts.sources.folder import FolderSourceConfig
from alerts.sources.poll import poll
from alerts.sources.web import HttpWeb
from alerts.timeline.views import change_views
from store.db import session_scope

pytestmark = pytest.mark.anyio
TZ = ZoneInfo("Asia/Shanghai")
GOOD = "《淘宝网商品发布规范》变更公示\n本次变更于2026年12月1日公示，2026年12月15日生效。\n"
OTHER = "《1688商家发货行为管理规范》变更公示\n本规则于2026年11月20日公示，2026年12月5日起生效。\n"


def folder_case(tmp_path: Path, situation: str) -> BaseModel:
    folder = tmp_path / "drop"
    if situation != "missing":
        folder.mkdir()
        (folder / "a-taobao.txt").write_bytes(GOOD.encode("gbk" if situation == "gbk" else "utf-8"))
        (folder / "b-1688.txt").write_text(OTHER, encoding="utf-8")
    if situation == "unreadable":
        (folder / "c-broken.txt").write_bytes(b"\xff\xfe\x00\xd8 not text \x81")
    return FolderSourceConfig(name="drop", path=folder)


CASES: dict[str, Callable[[Path, str], BaseModel]] = {"folder": folder_case}
SITUATIONS = ["gbk", "unreadable", "again", "missing"]


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("kind", sorted(SOURCES))
async def test_source_contract(
    kind: str, situation: str, tmp_path: Path, engine: Engine, http: httpx.AsyncClient
):
    web = HttpWeb(http)
    if kind not in CASES:
        pytest.fail(f"source kind {kind!r} has no case in {Path(__file__).name}")
    source = build_source(CASES[kind](tmp_path, situation))
    with session_scope(engine) as session:
        report = await poll(source, session, web=web, tz=TZ)
    if situation == "missing":
        assert report.stored.notices_added == 0 and report.error, report
        return
    with session_scope(engine) as session:
        shown = {
            v.rule_key: v.effective_on
            for v in change_views(session, today=date(2026, 12, 2), tz=TZ)
        }
    assert {str(day) for day in shown.values()} >= {"2026-12-15", "2026-12-05"}, shown
    assert any("商品发布规范" in key for key in shown), shown  # the GBK one, read right
    if situation == "unreadable":
        ((where, why),) = report.stored.unreadable
        assert where == f"{source.name}: c-broken.txt" and "UTF-8" in why
    if situation == "again":
        with session_scope(engine) as session:
            second = await poll(source, session, web=web, tz=TZ)
        assert second.new_items == 0 and second.stored.notices_added == 0, second
