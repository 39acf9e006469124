"""The chat kinds against loopback robots that check what their vendors document: what a
group reads, signatures, keywords, mentions, size limits, and each vendor's error codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from reminder_facts import STORED, facts
from vendors import ChatBot, DingTalkRobot, FeishuBot, SlackHook, WeComRobot

from alerts.reminders.messages import render
from notifiers import CHANNELS, ChannelConfig, build_notifier
from notifiers.base import Message, Outcome, Verdict
from notifiers.chat import KEYWORD
from store.queries import SourceRow

pytestmark = pytest.mark.anyio

DD_SECRET = "SEC0c5e2d7a1b9f8e3d6c4a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1"
FS_SECRET = "feishu-s3cret-z9x8"
KINDS = ("dingtalk", "wecom", "feishu", "slack")


def robot(kind: str, **options: Any) -> ChatBot:
    secret = {"dingtalk": DD_SECRET, "feishu": FS_SECRET}.get(kind)
    if secret is not None:
        options.setdefault("secret", secret)
    return {"dingtalk": DingTalkRobot, "wecom": WeComRobot, "feishu": FeishuBot}.get(
        kind, SlackHook
    )(**options)


def channel(kind: str, url: str, **keys: Any) -> ChannelConfig:
    config = {"name": f"{kind}-group", "kind": kind, "url": url, "timeout": 5} | keys
    if kind == "dingtalk":
        config.setdefault("secret", DD_SECRET)
    if kind == "feishu":
        config.setdefault("secret", FS_SECRET)
    model: Any = CHANNELS[kind].model
    return model.model_validate(config)  # type: ignore[no-any-return]


def lead_message(**fields: Any) -> Message:
    return render(facts(**fields), today=date(2026, 12, 8), bodies=False)


async def send(
    config: ChannelConfig,
    message: Message,
    http: httpx.AsyncClient,
    now: datetime | None = None,
) -> Outcome:
    clock = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    return await build_notifier(config, http=http, smtp=None, now=clock).send(message)


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bot(kind: str) -> Iterator[ChatBot]:
    with robot(kind) as server:
        yield server


async def test_the_group_reads_the_rule_its_dates_days_left_sources_and_link(
    kind: str, bot: ChatBot, http: httpx.AsyncClient
):
    outcome = await send(channel(kind, bot.url), lead_message(), http)

    assert outcome.verdict is Verdict.delivered, outcome.reason
    [text] = bot.texts()
    for said in (
        "1688商家发货行为管理规范",
        "公示：2026-12-01",
        "生效：2026-12-15",
        "距生效还有 7 天",
        "原公告",
        "https://example.com/a",
        "https://rw.example.com/changes/c1",
        KEYWORD,
    ):
        assert said in text, f"{said!r} is not in the {kind} message:\n{text}"
    assert "javascript:" not in text  # a source's address that is not a web page is no link


async def test_a_move_says_the_old_and_the_new_date(
    kind: str, bot: ChatBot, http: httpx.AsyncClient
):
    moved = lead_message(
        kind="changed", context={"from": "2026-12-15", "to": "2026-12-31"}, lead_days=None
    )
    assert (await send(channel(kind, bot.url), moved, http)).verdict is Verdict.delivered
    [text] = bot.texts()
    assert "2026-12-15 →" in text and "生效日期改了" in text


@pytest.mark.parametrize(
    ("limit_kind", "measure", "limit"),
    [
        ("dingtalk", lambda m, body: len(body), 20_000),
        ("wecom", lambda m, body: len(m["markdown"]["content"].encode()), 4096),
        ("feishu", lambda m, body: len(body), 20 * 1024),
        ("slack", lambda m, body: len(m["blocks"][0]["text"]["text"]), 3000),
    ],
)
async def test_a_message_too_long_for_the_vendor_is_shortened_not_refused(
    limit_kind: str, measure: Any, limit: int, http: httpx.AsyncClient
):
    many = [
        SourceRow(f"第 {n} 篇转载：平台规则调整说明", f"https://news.example.com/{n}", None, STORED)
        for n in range(400)
    ]
    message = lead_message(sources=many, summary="调整说明 " * 200)
    with robot(limit_kind) as bot:
        outcome = await send(channel(limit_kind, bot.url), message, http)
        assert outcome.verdict is Verdict.delivered, outcome.reason
        [taken] = bot.accepted
    body = json.dumps(taken, ensure_ascii=False, separators=(",", ":")).encode()
    assert measure(taken, body) <= limit
    [text] = bot.texts()
    assert "还有 " in text and "条" in text  # the rest of the list is counted
    assert "https://rw.example.com/changes/c1" in text and "第 0 篇转载" in text


async def test_a_huge_rule_name_is_cut_and_keeps_the_link(http: httpx.AsyncClient):
    message = lead_message(rule_name="超长规则名" * 3000, sources=[])
    with robot("wecom") as bot:
        outcome = await send(channel("wecom", bot.url), message, http)
        assert outcome.verdict is Verdict.delivered, outcome.reason
    [text] = bot.texts()
    assert len(text.encode()) <= 4096
    assert text.endswith(f"rulewatch {KEYWORD}") and "https://rw.example.com/changes/c1" in text


# --- signatures and security options ---------------------------------------------------


@pytest.mark.parametrize("signed_kind", ["dingtalk", "feishu"])
async def test_a_signature_from_a_clock_an_hour_off_is_refused_for_good(
    signed_kind: str, http: httpx.AsyncClient
):
    with robot(signed_kind) as bot:
        config = channel(signed_kind, bot.url)
        fresh = await send(config, lead_message(), http)
        stale = await send(config, lead_message(), http, now=datetime.now(UTC) - timedelta(hours=2))
    assert fresh.verdict is Verdict.delivered, fresh.reason
    assert stale.verdict is Verdict.failed
    assert "310000" in stale.reason or "19021" in stale.reason
    assert DD_SECRET not in stale.reason and FS_SECRET not in stale.reason


async def test_dingtalk_checks_the_sign_decoded_once(http: httpx.AsyncClient):
    # A sign encoded twice (as Apprise was found to send it) does not verify: the robot
    # really checks what the notifier gets right.
    from urllib.parse import quote_plus

    with DingTalkRobot(secret=DD_SECRET) as bot:
        stamp = str(int(datetime.now(UTC).timestamp() * 1000))
        import base64
        import hashlib
        import hmac

        sign = base64.b64encode(
            hmac.new(DD_SECRET.encode(), f"{stamp}\n{DD_SECRET}".encode(), hashlib.sha256).digest()
        ).decode()
        body = {"msgtype": "markdown", "markdown": {"title": "t", "text": "规则提醒"}}
        twice = f"{bot.url}&timestamp={stamp}&sign={quote_plus(quote_plus(sign))}"
        once = f"{bot.url}&timestamp={stamp}&sign={quote_plus(sign)}"
        assert (await http.post(twice, json=body)).json()["errcode"] == 310000
        assert (await http.post(once, json=body)).json()["errcode"] == 0


@pytest.mark.parametrize("keyword_kind", ["dingtalk", "feishu"])
async def test_the_keyword_option_is_met_by_every_message(
    keyword_kind: str, http: httpx.AsyncClient
):
    with robot(keyword_kind, keyword=KEYWORD) as bot:
        taken = await send(channel(keyword_kind, bot.url), lead_message(), http)
    with robot(keyword_kind, keyword="另一个关键词") as bot:
        refused = await send(channel(keyword_kind, bot.url), lead_message(), http)
    assert taken.verdict is Verdict.delivered, taken.reason
    assert refused.verdict is Verdict.failed and "关键词" in refused.reason


async def test_a_wrong_wecom_key_is_refused_for_good(http: httpx.AsyncClient):
    with WeComRobot(key="the-right-key") as bot:
        wrong = bot.url.replace("the-right-key", "a-wrong-key")
        outcome = await send(channel("wecom", wrong), lead_message(), http)
    assert outcome.verdict is Verdict.failed and "93000" in outcome.reason
    assert "a-wrong-key" not in outcome.reason


# --- mentions ------------------------------------------------------------------------------


async def test_dingtalk_mentions_mobiles_in_at_and_in_the_text(http: httpx.AsyncClient):
    with DingTalkRobot(secret=DD_SECRET) as bot:
        config = channel("dingtalk", bot.url, mention=["13800000000"])
        await send(config, lead_message(), http)
        everyone = channel("dingtalk", bot.url, mention=["all"])
        await send(everyone, lead_message(), http)
    first, second = bot.accepted
    assert first["at"] == {"atMobiles": ["13800000000"], "isAtAll": False}
    assert "@13800000000" in first["markdown"]["text"]
    assert second["at"]["isAtAll"] is True


async def test_wecom_mentions_go_as_text_with_the_mobile_list(http: httpx.AsyncClient):
    with WeComRobot() as bot:
        await send(channel("wecom", bot.url, mention=["13800000000", "all"]), lead_message(), http)
    [message] = bot.accepted
    assert message["msgtype"] == "text"
    assert message["text"]["mentioned_mobile_list"] == ["13800000000", "@all"]
    assert "**" not in message["text"]["content"]  # text messages show markup as typed


async def test_feishu_and_slack_mention_user_ids(http: httpx.AsyncClient):
    with FeishuBot(secret=FS_SECRET) as fs, SlackHook() as sl:
        await send(channel("feishu", fs.url, mention=["ou_7d8a6e", "all"]), lead_message(), http)
        await send(channel("slack", sl.url, mention=["U024BE7LH", "all"]), lead_message(), http)
    assert "<at id=ou_7d8a6e></at>" in fs.texts()[0] and "<at id=all></at>" in fs.texts()[0]
    assert "<@U024BE7LH>" in sl.texts()[0] and "<!channel>" in sl.texts()[0]


async def test_a_watchs_mentions_join_the_channels(http: httpx.AsyncClient):
    with DingTalkRobot(secret=DD_SECRET) as bot:
        config = channel("dingtalk", bot.url, mention=["13800000000"])
        message = lead_message(context={"mention": ["13900000000", "13800000000"]})
        await send(config, message, http)
    assert bot.accepted[0]["at"]["atMobiles"] == ["13800000000", "13900000000"]


@pytest.mark.parametrize(
    ("mention_kind", "bad"),
    [
        ("dingtalk", "ou_7d8a6e"),
        ("wecom", "张三"),
        ("feishu", "<at>"),
        ("feishu", "13800000000"),
        ("slack", "13800000000"),
    ],
)
def test_a_mention_the_kind_cannot_use_is_a_config_problem(mention_kind: str, bad: str):
    with pytest.raises(ValueError, match='neither "all" nor'):
        channel(mention_kind, _any_url(mention_kind), mention=[bad])


def _any_url(kind: str) -> str:
    return {
        "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=t",
        "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
        "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/h",
        "slack": "https://hooks.slack.com/services/T/B/X",
    }[kind]


# --- answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "verdict", "said"),
    [
        ({"errcode": 130101, "errmsg": "send too fast"}, Verdict.retry, "130101"),
        ({"errcode": 310000, "errmsg": "ip not in whitelist"}, Verdict.failed, "IP"),
        ({"errcode": 777, "errmsg": "new"}, Verdict.retry, "未知错误码 777"),
        ("<html>gateway</html>", Verdict.retry, "不是 JSON"),
    ],
)
async def test_a_dingtalk_answer_is_judged_by_its_code(
    answer: Any, verdict: Verdict, said: str, http: httpx.AsyncClient
):
    from receiver import Receiver, Reply

    with Receiver() as rx:
        body = answer if isinstance(answer, str) else json.dumps(answer)
        rx.script(Reply(200, body=body))
        config = channel("dingtalk", rx.url_for("/robot/send?access_token=tok-in-url"))
        outcome = await send(config, lead_message(), http)
    assert outcome.verdict is verdict and said in outcome.reason
    assert "tok-in-url" not in outcome.reason


def test_chat_addresses_and_secrets_are_masked_in_config_output(tmp_path: Any):
    from alerts.config import parse_settings

    text = f"""
[[channels]]
name = "dd"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=dd-token-in-url"
secret = "{DD_SECRET}"

[[channels]]
name = "sl"
kind = "slack"
url = "https://hooks.slack.com/services/T0/B0/slack-path-secret"
"""
    shown = json.dumps(parse_settings(text, path=tmp_path / "c.toml").redacted())
    for secret in ("dd-token-in-url", DD_SECRET, "slack-path-secret"):
        assert secret not in shown


async def test_a_summary_too_long_goes_before_the_sources_and_the_ending_stays_once(
    kind: str, bot: ChatBot, http: httpx.AsyncClient
):
    # Found in review: the list was cut to nothing first, and the cut text repeated its end.
    mention = {"dingtalk": "13800000000", "wecom": "13800000000", "feishu": "ou_7d8a6e"}
    keys = {"mention": [mention.get(kind, "U024BE7LH")]}
    message = lead_message(summary="长" * 12_000)
    outcome = await send(channel(kind, bot.url, **keys), message, http)
    assert outcome.verdict is Verdict.delivered, outcome.reason
    [text] = bot.texts()
    assert "原公告" in text and "长长长" not in text
    assert text.count("https://rw.example.com/changes/c1") == 1
    assert text.count(KEYWORD) == 1


async def test_text_from_a_notice_does_not_become_markup(
    kind: str, bot: ChatBot, http: httpx.AsyncClient
):
    summary = "详见[点此](http://evil.example.com) <at id=all></at> *加粗*"
    outcome = await send(channel(kind, bot.url), lead_message(summary=summary), http)
    assert outcome.verdict is Verdict.delivered, outcome.reason
    [text] = bot.texts()
    # Slack shows "[…](…)" as typed; the markdown kinds would make it a link.
    assert kind == "slack" or "](http://evil.example.com)" not in text
    assert "<http://evil" not in text
    assert "<at id=all>" not in text and "*加粗*" not in text
    assert "点此" in text and "加粗" in text


async def test_a_message_about_a_failing_source_reads_as_one_and_not_as_a_change(
    kind: str, bot: ChatBot, http: httpx.AsyncClient
):
    from alerts.sources.folder import FolderSourceConfig
    from alerts.sources.poll import PollReport
    from alerts.sources.service import admin_message

    source = FolderSourceConfig(name="电商报", path="/srv/drop")  # type: ignore[arg-type]
    report = PollReport(source="电商报", error="服务器返回 HTTP 503", turned="failing")
    message = admin_message(source, report, "https://rw.example.com", datetime.now(UTC))

    assert (await send(channel(kind, bot.url), message, http)).verdict is Verdict.delivered
    [text] = bot.texts()
    for said in ("HTTP 503", "https://rw.example.com/#sources"):
        assert said in text, f"{said!r} is not in the {kind} message:\n{text}"
    assert "规则：" not in text and "生效：" not in text
    # Feishu and Slack show the headline as the card's title, the others in the text.
    assert "数据源「电商报」读取失败" in json.dumps(bot.accepted, ensure_ascii=False)
