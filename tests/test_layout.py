"""The rules the layout keeps (ARCHITECTURE.md): which wing may load which.

Each case imports modules in a fresh interpreter and looks at ``sys.modules``, so an import
that sneaks in through a chain of others counts as much as a direct one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def loaded_after(*modules: str) -> set[str]:
    """The modules loaded by importing ``modules``, in a fresh interpreter."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(done.stdout))


def _under(loaded: set[str], *prefixes: str) -> list[str]:
    return sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in prefixes))


# A page that only reads sends nothing: no dispatcher, engine, scheduler or SMTP client.
SENDERS = ("alerts.reminders.dispatcher", "alerts.reminders.engine", "apscheduler", "aiosmtplib")


@pytest.mark.parametrize(
    "modules, forbidden",
    [
        pytest.param(
            ("alerts.web.pages", "alerts.web.change_page", "alerts.web.feed"),
            SENDERS,
            id="read-only-pages-load-no-sender",
        ),
        pytest.param(("store.db", "store.queries", "store.outbox"), ("alerts",), id="store"),
        pytest.param(
            ("notifiers", "notifiers.webhook", "notifiers.email"),
            ("alerts", "store"),
            id="notifiers",
        ),
        pytest.param(
            ("alerts.calendar.feed", "alerts.calendar.render"),
            ("fastapi", "starlette", "uvicorn", *SENDERS),
            id="calendar-has-no-http",
        ),
        pytest.param(("alerts.calendar.render",), ("store", "sqlalchemy"), id="render-is-pure"),
        pytest.param(
            ("alerts.sources", "alerts.sources.poll"),
            ("fastapi", "starlette", "uvicorn", *SENDERS),
            id="sources-serve-and-send-nothing",
        ),
        pytest.param(
            ("alerts.extract",),
            ("alerts.config", "alerts.timeline", "alerts.reminders", "alerts.web", "store"),
            id="extract-stands-alone",
        ),
    ],
)
def test_a_wing_loads_only_what_it_may(modules, forbidden):
    assert _under(loaded_after(*modules), *forbidden) == []


def test_extract_imports_nothing_of_alerts_but_itself_and_the_ground():
    loaded = _under(loaded_after("alerts.extract"), "alerts")
    ground = {"alerts", "alerts.errors", "alerts.clock"}
    assert [m for m in loaded if m not in ground and not m.startswith("alerts.extract")] == []


def test_the_ics_command_loads_no_web_framework(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('[service]\ndatabase = "sqlite:///store.db"\n', encoding="utf-8")
    code = (
        "import json, sys\n"
        "from alerts.cli import app\n"
        f"try: app(['--config', {str(config)!r}, 'ics', '--out', {str(tmp_path / 'f.ics')!r}])\n"
        "except SystemExit as stop: assert not stop.code, stop.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert _under(loaded, "fastapi", "starlette", "uvicorn", *SENDERS) == []
    assert (tmp_path / "f.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")


# What the commands a person or cron runs most must not load (issue 14: each answers in
# under half a second): the HTTP client and what sends, the sources' parsers, the templates,
# the calendar, the spreadsheet writer, the web framework, Alembic (a store at head is
# checked with one query), the extractor's patterns and the PostgreSQL dialect on SQLite.
# Each is imported where it is used; the config still validates every channel and source kind.
HEAVY = (
    "httpx",
    "aiosmtplib",
    "apscheduler",
    "jinja2",
    "selectolax",
    "trafilatura",
    "feedparser",
    "icalendar",
    "openpyxl",
    "fastapi",
    "starlette",
    "uvicorn",
    "alembic",
    "alerts.extract.rules",
    "alerts.extract.platforms",
    "sqlalchemy.dialects.postgresql",
)


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the example config.toml (watches, a webhook channel) and its store,
    the sample imported."""
    folder = tmp_path_factory.mktemp("sample")
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    loaded_by_command(folder, "import", "--sample")
    return folder


def loaded_by_command(folder: Path, *arguments: str) -> set[str]:
    """The modules loaded when ``rulewatch ARGUMENTS`` exits, run as the script runs it."""
    code = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        "from alerts.cli import main\n"
        "main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--config", "config.toml", *arguments],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # it answered
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        ["changes"],
        ["changes", "--upcoming"],
        ["rules"],
        ["reminders"],
        ["run-due", "--dry-run"],
    ],
    ids=" ".join,
)
def test_a_listing_command_loads_nothing_it_does_not_use(sample_store: Path, arguments):
    assert _under(loaded_by_command(sample_store, *arguments), *HEAVY) == []


def test_a_dry_run_with_reminders_due_loads_no_sender(sample_store: Path):
    # The sample's week: a reminder is planned (watches matched: the extractor's patterns are
    # loaded now), none sent.
    loaded = loaded_by_command(
        sample_store, "run-due", "--dry-run", "--now", "2025-02-12T09:00+08:00"
    )
    assert "alerts.extract.rules" in loaded
    assert (
        _under(loaded, "httpx", "aiosmtplib", "apscheduler", "fastapi", "uvicorn", "alembic") == []
    )


DOCS = "\n".join(
    path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *ROOT.glob("docs/*.md")]
)


def _commands() -> list[str]:
    import typer

    from alerts.cli import app

    group = typer.main.get_command(app)
    found = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        found += [f"{name} {sub}" for sub in subcommands] if subcommands else [name]
    return sorted(found)


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_documented(command: str):
    assert f"rulewatch {command}" in DOCS, f"`rulewatch {command}` is in no README or docs/ page"


def _routes() -> list[str]:
    import tempfile

    from alerts.config import parse_settings
    from alerts.web.app import create_app
    from store.db import connect, upgrade

    with tempfile.TemporaryDirectory() as folder:
        settings = parse_settings("", path=Path(folder) / "config.toml", environ={})
        engine = connect(settings.service.database)
        upgrade(engine)
        paths = create_app(settings, engine).openapi()["paths"]
        engine.dispose()
    return sorted(f"{method.upper()} {path}" for path, ops in paths.items() for method in ops)


@pytest.mark.parametrize("route", _routes())
def test_every_route_is_documented(route: str):
    path = route.split(" ", 1)[1]
    # Written as the docs write them: a placeholder such as <uid> or {uid} for a parameter.
    pattern = re.escape(path).replace(r"\{", "[{<]").replace(r"\}", "[}>]")
    pattern = re.sub(r"\[\{<\]\w+\[\}>\]", r"[{<][\\w-]+[}>]", pattern)
    assert re.search(pattern, DOCS), f"{route} is in no README or docs/ page"


def test_a_command_on_a_store_at_head_checks_its_schema_without_alembic(tmp_path: Path):
    from store.db import connect, current_revision, head_revision, newest_revision, upgrade

    assert newest_revision() == head_revision()  # the files' names say what Alembic says
    config = tmp_path / "config.toml"
    config.write_text('[service]\ndatabase = "sqlite:///store.db"\n', encoding="utf-8")
    engine = connect(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine, "0008")  # an older store: the first command upgrades it
    code = (
        "import json, sys\n"
        "from alerts.cli import app\n"
        "for _ in range(2):\n"
        f"    try: app(['--config', {str(config)!r}, 'changes'])\n"
        "    except SystemExit as stop: assert not stop.code, stop.code\n"
        "    print(json.dumps('alembic' in sys.modules), file=sys.stderr)\n"
        "    [sys.modules.pop(name) for name in list(sys.modules) if name.startswith('alembic')]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    first, second = (json.loads(line) for line in done.stderr.strip().splitlines()[-2:])
    assert (first, second) == (True, False)  # upgraded once; then one query
    assert current_revision(engine) == head_revision()
    engine.dispose()
