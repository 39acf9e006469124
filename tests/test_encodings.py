"""Files as Chinese users have them: GBK from Windows, UTF-8 with a byte-order mark from
Notepad, and a folder of notices where one file is bad (issue 9, item 5)."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from alerts.cli import app
from alerts.timeline.ingest import TEXT_CAP
from store.db import connect
from store.models import Notice

runner = CliRunner()
NOTICE = "《淘宝网商品发布规范》变更公示\n本次变更于2026年11月20日公示，2026年12月15日生效。\n"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[service]\ndatabase = "sqlite:///{tmp_path / "s.db"}"\n', "utf-8")
    return path


def run(config: Path, *args: str):
    return runner.invoke(app, ["--config", str(config), *args])


def changes(config: Path) -> list[dict[str, object]]:
    done = run(config, "changes", "--json")
    assert done.exit_code == 0, done.output
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("encoding", ["gbk", "gb2312", "gb18030"])
def test_a_file_in_a_chinese_windows_encoding_is_read(tmp_path: Path, config: Path, encoding):
    path = tmp_path / "notice.txt"
    path.write_bytes(NOTICE.encode(encoding))
    done = run(config, "import", str(path))
    assert done.exit_code == 0, done.output
    [change] = changes(config)
    assert (change["rule_key"], change["effective_on"]) == ("淘宝商品发布规范", "2026-12-15")


def test_a_byte_order_mark_is_no_part_of_the_title(tmp_path: Path, config: Path):
    path = tmp_path / "notice.txt"
    path.write_bytes(codecs.BOM_UTF8 + NOTICE.encode("utf-8"))
    assert run(config, "import", str(path)).exit_code == 0
    [change] = changes(config)
    assert str(change["title"]).startswith("《淘宝网商品发布规范》")


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path: Path):
    path = tmp_path / "config.toml"
    text = f'[service]\ndatabase = "sqlite:///{tmp_path / "s.db"}"\ntimezone = "Asia/Shanghai"\n'
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))
    done = run(path, "check-config")
    assert done.exit_code == 0, done.output


def test_one_bad_file_stops_nothing_and_is_named(tmp_path: Path, config: Path):
    good = tmp_path / "good.txt"
    good.write_text(NOTICE, encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"title": "x", "text": \n', encoding="utf-8")
    later = tmp_path / "later.txt"
    later.write_text(NOTICE.replace("商品发布规范", "评价规范"), encoding="utf-8")
    done = run(config, "import", str(good), str(broken), str(later))
    assert done.exit_code == 1
    assert "broken.jsonl" in done.stderr
    assert "1 of 3 file(s) could not be read" in done.stderr
    assert sorted(c["rule_key"] for c in changes(config)) == ["淘宝商品发布规范", "淘宝评价规范"]


def test_a_huge_text_is_read_whole_and_stored_cut_with_a_note(tmp_path: Path, config: Path):
    filler = "本段为平台规则解读，与日期无关。" * (TEXT_CAP // 8)
    path = tmp_path / "huge.txt"
    # The dates come at the very end, past what is kept: they are read all the same.
    text = f"淘宝网评价规范变更\n{filler}\n本次变更于2026年12月1日公示，2026年12月15日生效。\n"
    path.write_text(text, encoding="utf-8")
    assert run(config, "import", str(path)).exit_code == 0
    [change] = changes(config)
    assert change["effective_on"] == "2026-12-15"
    engine = connect(f"sqlite:///{tmp_path / 's.db'}")
    with Session(engine) as session:
        [notice] = session.exec(select(Notice)).all()
    engine.dispose()
    assert len(notice.text) < TEXT_CAP + 100
    assert notice.text.endswith(f"此处只保存前 {TEXT_CAP:,} 字）")
    # Importing the same file again is still the same notice.
    assert "0 notice(s) stored, 1 already known" in run(config, "import", str(path)).stdout
