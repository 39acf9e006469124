"""schemathesis drives every operation of the OpenAPI schema against a real server on
loopback; no generated request may cause a server error or break the documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from server import running

from alerts.config import parse_settings
from alerts.timeline.ingest import import_files
from alerts.web.app import create_app
from store.db import connect, session_scope, upgrade

TOKEN = "schema-token-0123456789"
CONFIG = f"""
[api]
token = "{TOKEN}"

[[watch]]
name = "shipping"
rules = ["1688商家发货行为管理规范"]
channels = ["hook"]

[[channels]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, seed_listing: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("schema")
    app_settings = parse_settings(CONFIG, path=folder / "config.toml", environ={})
    engine = connect(app_settings.service.database)
    upgrade(engine)
    with session_scope(engine) as session:
        import_files(session, [seed_listing], tz=ZoneInfo("Asia/Shanghai"))
    with running(create_app(app_settings, engine), lifespan="off") as url:
        yield url
    engine.dispose()


@pytest.fixture(scope="module")
def api_schema(base_url: str) -> schemathesis.BaseSchema:
    choices = SchemathesisConfig.from_path(str(Path(__file__).with_name("schemathesis.toml")))
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=choices)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_breaks_the_api(api_schema, base_url: str, mode) -> None:
    # schemathesis's own pytest plugin does not run on this pytest; hypothesis drives each
    # operation's strategy directly instead. Every check runs (as `--checks all` does):
    # valid requests accepted, invalid ones refused, every status and header documented.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Half the cases that name a change name one that exists, so that they reach what the
    # route does with it rather than its 404 (the uids of the seed's changes).
    known = [c["uid"] for c in httpx.get(f"{base_url}/api/changes", params={"limit": 500}).json()]
    tried: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            uid = (case.path_parameters or {}).get("uid")
            positive = mode is GenerationMode.POSITIVE
            if positive and isinstance(uid, str) and known and len(uid) % 2 == 0:
                case.path_parameters["uid"] = known[len(uid) % len(known)]  # type: ignore[index]
            case.call_and_validate(
                base_url=base_url,
                headers={"Authorization": f"Bearer {TOKEN}"},
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing of the operation's input can be invalid: GET /healthz takes none, a
            # path of any string is a string.
            if mode is GenerationMode.POSITIVE:
                raise
        else:
            tried.append(operation.label)
    assert len(tried) >= (10 if mode is GenerationMode.POSITIVE else 5), tried
