"""Slack incoming webhook: a message of mrkdwn blocks to one channel.

The webhook URL (``https://hooks.slack.com/services/T…/B…/…``) is the only credential.
Slack answers 200 ``ok``, or a 4xx with the error in plain text (``invalid_payload``,
``no_service``, ``channel_is_archived``) and 429 when sent faster than about one message a
second. Mentions are user ids (``U…``), written ``<@U…>``, or "all" (``<!channel>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from notifiers.base import Message
from notifiers.chat import ChatChannel, ChatNotifier, Dialect
from notifiers.pacing import RateLimit

# A section block's text is at most 3,000 characters.
SECTION_CHARACTERS = 3000


# mrkdwn has no escape for its emphasis marks: full-width look-alikes read the same.
_EMPHASIS = str.maketrans({"*": "＊", "_": "＿", "~": "～", "`": "｀"})


def _escape(text: str) -> str:
    # Slack reads & < > as markup (escaped as entities) and the emphasis marks as styles.
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.translate(_EMPHASIS)


def _link(text: str, url: str) -> str:
    # A | would end the link's text early, and there is no escaping it.
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{text.replace('|', '｜')}>"


MRKDWN = Dialect(bold=lambda s: f"*{s}*", link=_link, escape=_escape)


class SlackChannel(ChatChannel):
    """``kind = "slack"``: post each reminder to a Slack incoming webhook."""

    kind: Literal["slack"]
    mention_form = (r"[UW][A-Z0-9]{2,20}", "a Slack user id (U…)")
    default_rate = (RateLimit(1, 1),)


class SlackNotifier(ChatNotifier):
    dialect = MRKDWN
    config: SlackChannel

    def mention_line(self, mentions: Sequence[str]) -> str:
        return " ".join("<!channel>" if m == "all" else f"<@{m}>" for m in mentions)

    def fits(self, text: str, body: bytes) -> bool:
        return len(text) <= SECTION_CHARACTERS

    def body(self, message: Message, text: str, mentions: Sequence[str], now: datetime) -> Any:
        return {
            "text": _escape(message.subject),  # what notifications show
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
