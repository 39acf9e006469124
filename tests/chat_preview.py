"""An HTML page showing what each chat robot's message looks like: docs/chat-preview.png.

Drawn from exactly what rulewatch sent (the JSON each loopback robot accepted), but not by
the vendors' apps: the markdown of DingTalk, WeCom and Feishu goes through markdown-it
(CommonMark, as near as a stand-in comes), Slack's mrkdwn by its three rules (bold, links,
mentions), and the fonts and colours are a browser's. It shows what the group will read, not
pixel for pixel how the app draws it.
"""

from __future__ import annotations

import html
import re
from typing import Any

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"breaks": True, "html": False})
_HEADER_COLOURS = {
    "red": "#f54a45",
    "orange": "#ff8800",
    "blue": "#3370ff",
    "purple": "#7f3bf5",
    "grey": "#8f959e",
}


def _slack(text: str) -> str:
    """Slack's mrkdwn as HTML: *bold*, <url|text>, <@U…> and <!channel>."""
    out = html.escape(text, quote=False).replace("&amp;lt;", "&lt;").replace("&amp;gt;", "&gt;")
    out = re.sub(r"&lt;(https?://[^|&]+)\|([^&]+)&gt;", r'<a href="\1">\2</a>', out)
    out = re.sub(r"&lt;@(\w+)&gt;", r'<span class="at">@\1</span>', out)
    out = out.replace("&lt;!channel&gt;", '<span class="at">@channel</span>')
    out = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", out)
    return out.replace("\n", "<br>")


def _feishu(text: str) -> str:
    text = re.sub(r"<at id=(\w+)></at>", lambda m: f"@{'所有人' if m[1] == 'all' else m[1]}", text)
    return _MARKDOWN.render(text)


def bubble(kind: str, sent: Any) -> str:
    """One message as the group sees it, from the JSON the robot took."""
    if kind == "dingtalk":
        title, body = "钉钉 · 自定义机器人", _MARKDOWN.render(sent["markdown"]["text"])
    elif kind == "wecom":
        message = sent[sent["msgtype"]]
        title = "企业微信 · 群机器人"
        body = (
            _MARKDOWN.render(message["content"])
            if sent["msgtype"] == "markdown"
            else ("<p>" + html.escape(message["content"]).replace("\n", "<br>") + "</p>")
        )
    elif kind == "feishu":
        card = sent["card"]
        colour = _HEADER_COLOURS.get(card["header"]["template"], "#3370ff")
        header = html.escape(card["header"]["title"]["content"])
        text = "".join(_feishu(e["text"]["content"]) for e in card["elements"] if e["tag"] == "div")
        title = "飞书 · 自定义机器人"
        body = f'<div class="card-head" style="background:{colour}">{header}</div>{text}'
    else:
        title = "Slack · incoming webhook"
        sections = [b["text"]["text"] for b in sent["blocks"] if b["type"] == "section"]
        body = "".join(_slack(text) for text in sections)
    return (
        f'<section class="bubble {kind}"><h2>{title}</h2><div class="body">{body}</div></section>'
    )


def page(bubbles: list[str], heading: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{heading}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Noto Sans", sans-serif; margin: 16px;
       background: #f2f3f5; color: #1f2329; }}
h1 {{ font-size: 18px; margin: 0 0 12px; }}
main {{ display: grid; grid-template-columns: repeat(2, 1fr); gap: 14px; }}
.bubble {{ background: #fff; border-radius: 8px; padding: 10px 14px; font-size: 13px;
          line-height: 1.55; box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
.bubble h2 {{ font-size: 12px; color: #646a73; margin: 0 0 6px; font-weight: normal; }}
.bubble p {{ margin: 4px 0; }} .bubble ul, .bubble ol {{ margin: 4px 0; padding-left: 20px; }}
.card-head {{ color: #fff; padding: 6px 10px; border-radius: 6px 6px 0 0; margin: -2px -2px 6px;
             font-weight: bold; }}
a {{ color: #3370ff; text-decoration: none; }} .at {{ color: #3370ff; }}
</style></head>
<body><h1>{heading}</h1><main>{"".join(bubbles)}</main></body></html>"""
