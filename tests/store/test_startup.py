"""Instances that start together: migrations wait for one another, planning runs once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from store.db import PLANNING_LOCK, connect, current_revision, head_revision, try_lock

RULEWATCH = str(Path(sys.executable).with_name("rulewatch"))


def test_three_upgrades_of_a_fresh_store_at_once_all_succeed(tmp_path: Path, database_url: str):
    config = tmp_path / "config.toml"
    config.write_text(f'[service]\ndatabase = "{database_url}"\n', encoding="utf-8")
    command = [RULEWATCH, "--config", str(config), "db", "upgrade"]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 0, stderr[-2000:]
        assert "Traceback" not in stderr
    engine = connect(database_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


@pytest.mark.postgres
def test_one_instance_plans_while_the_others_skip(postgres_database: str):
    engine = connect(postgres_database)
    with Session(engine) as first, Session(engine) as second:
        assert try_lock(first, PLANNING_LOCK)
        assert not try_lock(second, PLANNING_LOCK)  # at once, not after a wait
        first.commit()  # the tick's planning is done: the lock goes with its transaction
        assert try_lock(second, PLANNING_LOCK)
    engine.dispose()
