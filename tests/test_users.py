"""``[[users]]``: who may write, by role, through the API's bearer tokens; the config's checks
of them; and `rulewatch users hash`, which makes the password hash a user is configured with.

The sign-in form and its session cookie build on these (issue 13).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from alerts.cli import app as cli
from alerts.config import parse_settings
from alerts.errors import ConfigError
from alerts.users import Role, hash_password, password_matches
from alerts.web.app import create_app

ADMIN = "admin-token-0123456789abcdef"  # the [api] token of earlier versions
EDITOR = "editor-token-0123456789abcdef"
VIEWER = "viewer-token-0123456789abcdef"
PASSWORD = "运营-correct horse battery"

CONFIG = f"""
[api]
token = "{ADMIN}"

[[users]]
name = "王芳"
role = "editor"
token = "{EDITOR}"

[[users]]
name = "li.ming"
role = "viewer"
token = "{VIEWER}"

[[channels]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"""
NOTICE = {
    "title": "《淘宝网商品发布规范》变更公示",
    "text": "本次变更于2026年11月20日公示，2026年12月15日生效。",
    "published_at": "2026-11-20T10:00:00+08:00",
}
WATCH = {"name": "listing", "rules": ["淘宝网商品发布规范"], "channels": ["hook"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def client(tmp_path: Path, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    settings = parse_settings(CONFIG, path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        yield client


@pytest.mark.anyio
async def test_a_viewer_reads_but_does_not_write(client: httpx.AsyncClient):
    assert (await client.get("/api/changes", headers=bearer(VIEWER))).status_code == 200
    refused = await client.post("/api/notices", json=NOTICE, headers=bearer(VIEWER))
    assert refused.status_code == 403
    assert refused.json()["detail"] == "li.ming is a viewer: this needs the editor role or above"


@pytest.mark.anyio
async def test_an_editor_enters_notices_but_does_not_manage_watches(client: httpx.AsyncClient):
    stored = await client.post("/api/notices", json=NOTICE, headers=bearer(EDITOR))
    assert stored.status_code == 201, stored.text
    refused = await client.post("/api/watches", json=WATCH, headers=bearer(EDITOR))
    assert refused.status_code == 403 and "needs the admin role" in refused.json()["detail"]
    assert "listing" not in {w["name"] for w in (await client.get("/api/watches")).json()}


@pytest.mark.anyio
async def test_the_api_token_of_earlier_versions_is_an_admins(client: httpx.AsyncClient):
    added = await client.post("/api/watches", json=WATCH, headers=bearer(ADMIN))
    assert added.status_code == 201, added.text
    removed = await client.delete("/api/watches/listing", headers=bearer(ADMIN))
    assert removed.status_code == 204


@pytest.mark.anyio
@pytest.mark.parametrize("headers", [{}, bearer("not-anyones-token-0123456789"), bearer("")])
async def test_no_token_or_an_unknown_one_is_401_and_says_no_more(
    client: httpx.AsyncClient, headers: dict[str, str]
):
    refused = await client.post("/api/notices", json=NOTICE, headers=headers)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    for secret in (ADMIN, EDITOR, VIEWER, "王芳", "li.ming"):
        assert secret not in refused.text


@pytest.mark.anyio
async def test_without_any_token_configured_the_api_takes_no_writes(tmp_path: Path, engine: Engine):
    settings = parse_settings("", path=tmp_path / "config.toml", environ={})
    transport = httpx.ASGITransport(app=create_app(settings, engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
        refused = await client.post("/api/notices", json=NOTICE, headers=bearer(EDITOR))
    assert refused.status_code == 403 and "[[users]]" in refused.json()["detail"]


@pytest.mark.parametrize(
    "entry, where, said",
    [
        pytest.param('name = "a"\nrole = "boss"\ntoken = "abcdefghijklmnopq"', "users[0].role",
                     'is "viewer", "editor" or "admin"', id="role"),
        pytest.param('name = "a"\nrole = "admin"', "users[0]",
                     "needs a password_hash (to sign in) or a token", id="no-credential"),
        pytest.param('name = "a"\nrole = "admin"\npassword_hash = "hunter2-hunter2"',
                     "users[0].password_hash", "is not an Argon2id hash", id="plain-password"),
        pytest.param(f'name = "a"\nrole = "admin"\ntoken = "{ADMIN}"', "users[0].token",
                     "is the same token as [api] token", id="shared-token"),
    ],
)  # fmt: skip
def test_a_user_entry_that_cannot_work_is_refused_naming_the_key(
    tmp_path: Path, entry: str, where: str, said: str
):
    text = f'[api]\ntoken = "{ADMIN}"\n\n[[users]]\n{entry}\n'
    with pytest.raises(ConfigError) as refused:
        parse_settings(text, path=tmp_path / "config.toml", environ={})
    assert f"{where}: {said}" in str(refused.value)
    assert "hunter2" not in str(refused.value) and ADMIN not in str(refused.value)


def test_users_hash_makes_a_hash_the_config_takes_and_the_password_matches(tmp_path: Path):
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    made = CliRunner().invoke(
        cli,
        ["--config", str(tmp_path / "config.toml"), "users", "hash"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    assert PASSWORD not in made.output
    (hashed,) = [line for line in made.output.splitlines() if line.startswith("$argon2id$")]
    text = f'[[users]]\nname = "王芳"\nrole = "editor"\npassword_hash = "{hashed}"\n'
    (user,) = parse_settings(text, path=tmp_path / "config.toml", environ={}).users
    assert user.role is Role.editor
    assert password_matches(user, PASSWORD) and not password_matches(user, PASSWORD + "x")


def test_users_hash_refuses_two_passwords_that_differ(tmp_path: Path):
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    made = CliRunner().invoke(
        cli,
        ["--config", str(tmp_path / "config.toml"), "users", "hash"],
        input="one-password-1\nanother-one-2\none-password-1\none-password-1\n",
    )
    # Typer asks again when the two differ; the hash is of the pair that matched.
    assert made.exit_code == 0, made.output
    (hashed,) = [line for line in made.output.splitlines() if line.startswith("$argon2id$")]
    text = f'[[users]]\nname = "a"\nrole = "viewer"\npassword_hash = "{hashed}"\n'
    (user,) = parse_settings(text, path=tmp_path / "config.toml", environ={}).users
    assert password_matches(user, "one-password-1")


def test_a_hash_is_salted():
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


@pytest.mark.anyio
async def test_the_audit_log_names_who_wrote_what_and_only_admins_read_it(
    client: httpx.AsyncClient,
):
    assert (await client.post("/api/notices", json=NOTICE, headers=bearer(EDITOR))).is_success
    assert (
        await client.post("/api/watches", json=WATCH, headers=bearer(EDITOR))
    ).status_code == 403
    assert (await client.post("/api/watches", json=WATCH, headers=bearer(ADMIN))).is_success
    source = {
        "name": "feed",
        "kind": "rss",
        "url": "https://rw:pw-s3cret@rules.example.com/f?key=k1",
    }
    assert (await client.post("/api/sources", json=source, headers=bearer(ADMIN))).is_success
    for token in (VIEWER, EDITOR):
        assert (await client.get("/api/audit", headers=bearer(token))).status_code == 403
    log = (await client.get("/api/audit", headers=bearer(ADMIN))).json()
    # Newest first; the refused write is not there; the source's URL is logged without its
    # password and key.
    assert [(e["actor"], e["action"], e["target"]) for e in log] == [
        ("api", "source.add", "feed"),
        ("api", "watch.add", "listing"),
        ("王芳", "notice.add", NOTICE["title"]),
    ]
    assert log[0]["detail"] == {"kind": "rss", "url": "https://rules.example.com/f"}
    assert "pw-s3cret" not in str(log) and "k1" not in str(log)
    mine = (await client.get("/api/audit?actor=王芳", headers=bearer(ADMIN))).json()
    assert [e["action"] for e in mine] == ["notice.add"]


def test_the_audit_command_lists_the_writes(tmp_path: Path, engine: Engine, database_url: str):
    import anyio

    text = CONFIG.replace("[api]", f'[service]\ndatabase = "{database_url}"\n\n[api]')
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    settings = parse_settings(text, path=tmp_path / "config.toml", environ={})

    async def write() -> None:
        transport = httpx.ASGITransport(app=create_app(settings, engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://rw.test") as client:
            await client.post("/api/notices", json=NOTICE, headers=bearer(EDITOR))

    anyio.run(write)
    shown = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "audit", "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"actor": "王芳"' in shown.output and '"action": "notice.add"' in shown.output


@pytest.mark.anyio
@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", f"actor={'x' * 65}"])
async def test_the_audit_log_refuses_a_query_it_cannot_answer(
    client: httpx.AsyncClient, query: str
):
    answer = await client.get(f"/api/audit?{query}", headers=bearer(ADMIN))
    assert answer.status_code == 422
