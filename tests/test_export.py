"""The timeline as a spreadsheet (alerts/timeline/export.py, GET /export.csv and .xlsx,
`rulewatch export`): read back with the csv module and openpyxl, as a colleague's Excel
would open them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import select
from typer.testing import CliRunner

from alerts.cli import app as cli
from alerts.config import parse_settings
from alerts.timeline.ingest import add_change
from alerts.web.app import create_app
from store.db import session_scope
from store.models import RuleChange

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
HEADER = [
    "平台",
    "规则",
    "变更",
    "公示日期",
    "生效日期",
    "生效时间",
    "剩余天数",
    "状态",
    "标签",
    "处理人",
    "处理时间",
    "来源",
]


@pytest.fixture
def stocked(tmp_path: Path, engine: Engine, database_url: str):  # type: ignore[no-untyped-def]
    text = (
        f'[service]\ndatabase = "{database_url}"\n\n'
        '[[watch]]\nname = "listing"\nplatforms = ["淘宝"]\ntags = ["商品"]\n'
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    settings = parse_settings(text, path=tmp_path / "config.toml", environ={})
    with time_machine.travel(NOW, tick=False), session_scope(engine) as session:
        tz = settings.service.tz
        add_change(
            session,
            rule="商品发布规范",
            platform="淘宝",
            announced_on=date(2026, 12, 1),
            effective_on=date(2026, 12, 15),
            title="《商品发布规范》变更公示",
            url="https://rulechannel.taobao.com/n/1",
            tentative=True,
            now=NOW,
            tz=tz,
        )
        add_change(
            session,
            rule='=HYPERLINK("http://evil")',
            platform="京东",
            # A polled page's title: a formula behind a control character, one inside too.
            title='\x0b=HYPERLINK("http://x")京东通知\x0b正文',
            announced_on=date(2026, 11, 1),
            effective_on=date(2026, 11, 20),
            now=NOW,
            tz=tz,
        )
    return settings  # fmt: skip


@pytest.mark.anyio
async def test_the_csv_opens_in_excel_with_its_chinese_and_the_pages_filters(
    stocked, engine: Engine
):
    transport = httpx.ASGITransport(app=create_app(stocked, engine))
    with time_machine.travel(NOW, tick=False):
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            page = (await client.get("/?platform=淘宝")).text
            every = await client.get("/export.csv")
            taobao = await client.get("/export.csv?platform=淘宝")
            upcoming = await client.get("/export.csv?upcoming=true")
    assert 'href="/export.csv?platform=%E6%B7%98%E5%AE%9D"' in page
    assert every.headers["content-type"] == "text/csv; charset=utf-8"
    assert every.headers["content-disposition"] == 'attachment; filename="rulewatch-2026-12-03.csv"'
    assert every.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel reads UTF-8 by
    table = list(csv.reader(io.StringIO(every.content.decode("utf-8-sig"))))
    assert table[0] == HEADER and len(table) == 3
    (row,) = list(csv.reader(io.StringIO(taobao.content.decode("utf-8-sig"))))[1:]
    assert row[:9] == ["淘宝", "商品发布规范", "修订", "2026-12-01", "2026-12-15", "", "12",
                       "有效（预计）", "商品"]  # fmt: skip
    assert row[9:11] == ["", ""]  # not handled yet
    assert "https://rulechannel.taobao.com/n/1" in row[11]
    jd = next(row for row in table[1:] if row[0] == "京东")
    assert jd[1] == '\'=HYPERLINK("http://evil")'  # text, not a formula to run
    assert jd[11].startswith("'=HYPERLINK")  # the title behind its control character too
    assert len(list(csv.reader(io.StringIO(upcoming.content.decode("utf-8-sig"))))) == 2


@pytest.mark.anyio
async def test_the_export_says_who_handled_a_change_and_when(stocked, engine: Engine):
    from alerts.timeline.handled import ScopeKind, set_handled
    from alerts.watches import current_watches

    with time_machine.travel(NOW, tick=False), session_scope(engine) as session:
        (change,) = session.exec(select(RuleChange).where(RuleChange.platform == "淘宝")).all()
        watches = current_watches(session, stocked)
        set_handled(
            session, watches, uid=change.uid, kind=ScopeKind.tag, scope="商品", by="王芳",
            note="", now=NOW,
        )  # fmt: skip
    transport = httpx.ASGITransport(app=create_app(stocked, engine))
    with time_machine.travel(NOW, tick=False):
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            answer = await client.get("/export.csv?platform=淘宝")
    (row,) = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))[1:]
    assert row[9:11] == ["王芳（标签 商品）", "2026-12-03 10:00"]  # in the service time zone


@pytest.mark.anyio
async def test_the_export_holds_what_the_search_finds(stocked, engine: Engine, tmp_path: Path):
    transport = httpx.ASGITransport(app=create_app(stocked, engine))
    with time_machine.travel(NOW, tick=False):
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            page = (await client.get("/", params={"q": "商品 公示"})).text
            found = await client.get("/export.csv", params={"q": "商品 公示"})
            none = await client.get("/export.csv", params={"q": "商品", "platform": "京东"})
        shown = CliRunner().invoke(
            cli, ["--config", str(tmp_path / "config.toml"), "export", "--out",
                  str(tmp_path / "r.csv"), "--search", "京东通知"],
        )  # fmt: skip
    assert 'href="/export.csv?q=%E5%95%86%E5%93%81+%E5%85%AC%E7%A4%BA"' in page
    (row,) = list(csv.reader(io.StringIO(found.content.decode("utf-8-sig"))))[1:]
    assert row[:2] == ["淘宝", "商品发布规范"]
    assert len(list(csv.reader(io.StringIO(none.content.decode("utf-8-sig"))))) == 1
    assert shown.exit_code == 0 and "1 change(s)" in shown.output, shown.output


@pytest.mark.anyio
async def test_the_xlsx_keeps_dates_as_dates(stocked, engine: Engine):
    transport = httpx.ASGITransport(app=create_app(stocked, engine))
    with time_machine.travel(NOW, tick=False):
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            answer = await client.get("/export.xlsx?platform=淘宝")
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == HEADER
    assert values[1][:2] == ("淘宝", "商品发布规范")
    assert values[1][4] == datetime(2026, 12, 15) and values[1][6] == 12


def test_the_export_command_writes_the_file_its_suffix_names(stocked, tmp_path: Path):
    target = tmp_path / "report.xlsx"
    with time_machine.travel(NOW, tick=False):
        shown = CliRunner().invoke(
            cli, ["--config", str(tmp_path / "config.toml"), "export", "--out", str(target),
                  "--tag", "商品"],
        )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "1 change(s)" in shown.output
    sheet = load_workbook(target).active
    assert sheet is not None and sheet.max_row == 2
    bad = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.toml"), "export", "--out", str(tmp_path / "r.pdf")]
    )
    assert bad.exit_code != 0 and "csv or xlsx" in bad.output


@pytest.mark.anyio
async def test_the_xlsx_holds_a_control_character_a_notice_carried_and_runs_no_formula(
    stocked, engine: Engine
):
    transport = httpx.ASGITransport(app=create_app(stocked, engine))
    with time_machine.travel(NOW, tick=False):
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            answer = await client.get("/export.xlsx?platform=京东")
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    assert sheet["B2"].value == '\'=HYPERLINK("http://evil")' and sheet["B2"].data_type == "s"
    sources = sheet["L2"]
    assert str(sources.value).startswith("'=HYPERLINK") and sources.data_type == "s"
    assert "京东通知正文" in str(sources.value)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_both_downloads_from_the_page_in_chromium(stocked, engine: Engine, tmp_path: Path):
    from browser import assert_chinese_renders, chromium_browser
    from server import running

    with (
        time_machine.travel(NOW, tick=True),
        chromium_browser() as chromium,
        running(create_app(stocked, engine)) as base_url,
    ):
        page = chromium.new_page(accept_downloads=True)
        page.goto(f"{base_url}/?platform=淘宝")
        assert_chinese_renders(page)
        saved = {}
        for kind in ("csv", "xlsx"):
            with page.expect_download() as download:
                page.click(f"#export-{kind}")
            saved[kind] = tmp_path / download.value.suggested_filename
            download.value.save_as(saved[kind])
    assert saved["csv"].name == "rulewatch-2026-12-03.csv"
    table = list(csv.reader(io.StringIO(saved["csv"].read_text(encoding="utf-8-sig"))))
    assert table[0] == HEADER and [row[:2] for row in table[1:]] == [["淘宝", "商品发布规范"]]
    sheet = load_workbook(saved["xlsx"]).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HEADER and rows[1][:2] == ("淘宝", "商品发布规范")
    assert rows[1][4] == datetime(2026, 12, 15)  # a date Excel sorts, not text
