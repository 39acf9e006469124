"""notifiers/http.py's post, against a real receiver on loopback: a 2xx whose body says the
message was refused is judged by the kind's own reading of it, as chat bots need."""

from __future__ import annotations

import json

import httpx
import pytest
from receiver import Receiver, Reply

from notifiers.base import Outcome, Verdict
from notifiers.http import post

pytestmark = pytest.mark.anyio
TOKEN = "acc3ss-t0ken"


def errcode(body: str) -> Outcome | None:
    """A bot's way of answering: HTTP 200, and {"errcode": N, "errmsg": "…"} in the body."""
    said = json.loads(body)
    if said.get("errcode", 0) == 0:
        return None
    verdict = Verdict.retry if said["errcode"] == 130101 else Verdict.failed
    return Outcome(verdict, f"机器人拒收（errcode {said['errcode']}）：{said['errmsg']}")


async def send(receiver: Receiver, http: httpx.AsyncClient) -> Outcome:
    return await post(
        http,
        receiver.url_for(f"/robot/send?access_token={TOKEN}"),
        content=b'{"msgtype": "text"}',
        headers={"content-type": "application/json"},
        timeout=5,
        secrets=[TOKEN],
        judge=errcode,
    )


@pytest.mark.parametrize(
    "body, verdict",
    [
        pytest.param({"errcode": 0, "errmsg": "ok"}, Verdict.delivered, id="accepted"),
        pytest.param({"errcode": 310000, "errmsg": "sign not match"}, Verdict.failed, id="refused"),
        pytest.param({"errcode": 130101, "errmsg": "send too fast"}, Verdict.retry, id="rate"),
    ],
)
async def test_a_200_is_judged_by_its_body(http: httpx.AsyncClient, body, verdict):
    with Receiver() as receiver:
        receiver.script(Reply(200, {"content-type": "application/json"}, json.dumps(body)))
        outcome = await send(receiver, http)
    assert (outcome.verdict, outcome.status_code) == (verdict, 200)
    if verdict is not Verdict.delivered:
        assert str(body["errcode"]) in outcome.reason and body["errmsg"] in outcome.reason


async def test_what_the_judge_says_is_redacted(http: httpx.AsyncClient):
    echoed = {"errcode": 300001, "errmsg": f"token {TOKEN} is not valid"}
    with Receiver() as receiver:
        receiver.script(Reply(200, {}, json.dumps(echoed)))
        outcome = await send(receiver, http)
    assert outcome.verdict is Verdict.failed
    assert TOKEN not in outcome.reason and "***" in outcome.reason
