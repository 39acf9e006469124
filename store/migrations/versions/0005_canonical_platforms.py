"""Canonical platform names and rule keys: stores made before the one platform table.

The platform table (alerts/extract/platforms.py) now names platforms 抖音电商 (was 抖音), 微信小店
(was 微信), Amazon (was 亚马逊) and TikTok Shop (was TikTok), and rule keys spell a leading
platform canonically, so 《淘宝网商品发布规范》 and 《淘宝商品发布规范》 are one key,
淘宝商品发布规范. This migration brings older stores there:

- every stored platform (``rule.platform``, ``rule_change.platform``) in any known spelling,
  or an old canonical name, becomes the canonical name; a platform the table does not know
  (entered by hand) is kept as it is;
- every rule's key is computed again from its name and canonical platform;
- rules that now share a key are merged: the oldest (lowest id) stays, with its name, and
  takes the platform of the first of them that has one; the changes of the others are
  reattached to it and the others deleted. A change keeps its id and uid, so its notices
  (``change_notice``), reminders and deliveries stay with it and calendars see the same
  events.

Collisions: no unique constraint covers a change within its rule (``rule_change`` is unique
by ``uid`` alone, ``change_notice`` by change and notice ids, ``reminder.dedupe_key`` is built
from the change's uid), so two changes of merged rules with the same 公示 or 生效 date are both
kept, each with its own sources: nothing is lost. A later notice of that date joins the older
of the two (the timeline matches known changes oldest first). Revisions and ``updated_at`` are
left as they were, so no reminder is planned again.

Migrations are snapshots: the store must not import ``alerts``, and this one must keep doing
what it did when ``alerts/extract`` changes again, so it carries its own frozen copy of the
platform table and of the key rule (``rule_key``, ``leading_platform``, ``key_prefix``,
``compact_name``) as they are at this revision. A later change of the table that would give
stored rules other keys needs a migration of its own.

Downgrade changes nothing: the schema is the same, and which rule a merged change came from
is not kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# --- frozen copy of alerts/extract/platforms.py at this revision --------------------------

_PLATFORMS: dict[str, tuple[str, ...]] = {
    "1688": ("1688", "1688.com", "阿里巴巴1688", "阿里1688", "阿里巴巴"),
    "淘宝": ("淘宝", "淘宝网", "手机淘宝", "淘宝平台", "Taobao"),
    "天猫": ("天猫", "天猫国际", "天猫超市", "天猫商城", "Tmall"),
    "淘特": ("淘特", "淘宝特价版"),
    "京东": ("京东", "京东开放平台", "京东商城", "京东国际", "京东到家", "京东POP", "JD.com", "JD"),
    "拼多多": ("拼多多", "多多买菜", "Pinduoduo", "PDD"),
    "抖音电商": ("抖音电商", "抖音", "抖店", "抖音小店", "抖音商城", "Douyin"),
    "快手": ("快手", "快手电商", "快手小店", "Kuaishou"),
    "小红书": ("小红书", "Xiaohongshu", "RedNote"),
    "微信小店": ("微信小店", "视频号小店", "视频号", "微信视频号"),
    "闲鱼": ("闲鱼", "Xianyu"),
    "得物": ("得物",),
    "唯品会": ("唯品会",),
    "苏宁易购": ("苏宁易购", "苏宁"),
    "美团": ("美团", "美团外卖", "美团闪购"),
    "饿了么": ("饿了么",),
    "速卖通": ("速卖通", "全球速卖通", "AliExpress"),
    "阿里巴巴国际站": ("阿里巴巴国际站", "Alibaba.com"),
    "敦煌网": ("敦煌网", "DHgate"),
    "Amazon": ("Amazon", "亚马逊", "亚马逊全球开店", "Amazon.com", "FBA"),
    "TikTok Shop": ("TikTok Shop", "TikTok", "TikTok Shop Seller Center"),
    "Shopee": ("Shopee", "虾皮"),
    "Lazada": ("Lazada", "来赞达"),
    "Temu": ("Temu",),
    "SHEIN": ("SHEIN", "Shein", "希音"),
    "Ozon": ("Ozon", "OZON"),
    "Mercado Libre": ("Mercado Libre", "MercadoLibre", "Mercado Livre", "美客多"),
    "eBay": ("eBay",),
    "Walmart": ("Walmart", "沃尔玛"),
}
_OWN_BOOK = frozenset({"天猫国际", "天猫超市", "京东国际", "京东到家", "多多买菜", "美团闪购"})
_CANONICAL = {alias.casefold(): name for name, aliases in _PLATFORMS.items() for alias in aliases}
# Old canonical names that are no spelling in the new table: stored values only, never read
# from a text (plain 微信 is named in every platform's texts: 微信支付, 微信客服).
_RENAMED = {"微信": "微信小店"}


def _alias_pattern(alias: str) -> str:
    escaped = re.escape(alias)
    if alias.isascii():
        return rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
    if alias == "得物":
        return r"(?<![获取赢习所求懂记])得物(?![流品资料理件])"
    return escaped


_ANY = re.compile(
    "|".join(_alias_pattern(a) for a in sorted(_CANONICAL, key=len, reverse=True)),
    re.IGNORECASE,
)


def canonical_platform(name: str | None) -> str | None:
    """The canonical name of a stored platform, or the value itself when the table lacks it."""
    if not name:
        return name
    spelled = name.strip()
    return _CANONICAL.get(spelled.casefold()) or _RENAMED.get(spelled) or name


# --- frozen copy of the key rule of alerts/extract/rules.py and normalize.py ---------------

_SPACE_IN_NAME = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
_DRAFT = re.compile(r"\((?:征求意见稿|意见稿|草案|修订稿|草稿|讨论稿|draft)\)$", re.IGNORECASE)


def _compact_name(name: str) -> str:
    def _keep(match: re.Match[str]) -> str:
        before = name[match.start() - 1] if match.start() > 0 else ""
        after = name[match.end()] if match.end() < len(name) else ""
        if _ASCII_WORD.match(before) and _ASCII_WORD.match(after):
            if before.isdigit() and not after.isascii():
                return ""
            return " "
        return ""

    return _SPACE_IN_NAME.sub(_keep, name).strip()


def _join(prefix: str, rest: str) -> str:
    for size in range(min(len(prefix), len(rest)), 1, -1):
        if prefix.endswith(rest[:size]) and not rest[:size].isascii():
            return prefix + rest[size:]
    spaced = rest[:1].isascii() and rest[:1].isalnum() and prefix[-1:].isascii()
    return f"{prefix}{' ' if spaced else ''}{rest}"


def rule_key(name: str, platform: str | None) -> str:
    """A rule's key: its name, prefixed by its platform unless it starts with one."""
    key = _DRAFT.sub("", unicodedata.normalize("NFKC", _compact_name(name)))
    lead = _ANY.match(key)
    if lead is not None:
        written = lead.group(0)
        key = key[len(written) :].lstrip()
        platform = written if written in _OWN_BOOK else _CANONICAL[written.casefold()]
    elif not platform:
        return key
    return _join(platform, key) if key else platform


# --- the migration -------------------------------------------------------------------------

_KEY_LENGTH = 200  # rule.key is a VARCHAR(200)

_rule = sa.table(
    "rule",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("name", sa.String),
    sa.column("platform", sa.String),
)
_change = sa.table(
    "rule_change",
    sa.column("id", sa.Integer),
    sa.column("rule_id", sa.Integer),
    sa.column("platform", sa.String),
)


def upgrade() -> None:
    bind = op.get_bind()
    rules = bind.execute(
        sa.select(_rule.c.id, _rule.c.key, _rule.c.name, _rule.c.platform).order_by(_rule.c.id)
    ).all()
    groups: dict[str, list[tuple[int, str, str | None, str | None]]] = {}
    for rule_id, key, name, platform in rules:
        canonical = canonical_platform(platform)
        new_key = rule_key(name, canonical)
        if len(new_key) > _KEY_LENGTH:  # could not be stored: the rule keeps its key
            new_key = key
        groups.setdefault(new_key, []).append((rule_id, key, platform, canonical))

    renamed: list[tuple[int, str, str | None]] = []  # (id, new key, platform) to write
    for new_key, members in groups.items():
        survivor, old_key, old_platform, platform = members[0]
        platform = platform or next((p for *_, p in members if p), None)
        merged = [rule_id for rule_id, *_ in members[1:]]
        if merged:
            bind.execute(
                sa.update(_change).where(_change.c.rule_id.in_(merged)).values(rule_id=survivor)
            )
            bind.execute(sa.delete(_rule).where(_rule.c.id.in_(merged)))
        if merged or platform != old_platform:
            # A change carries its rule's platform, as ingest stores it.
            bind.execute(
                sa.update(_change).where(_change.c.rule_id == survivor).values(platform=platform)
            )
        if new_key != old_key or platform != old_platform:
            renamed.append((survivor, new_key, platform))

    # Keys are unique: park the changing ones first, so that no rule takes a key another one
    # still holds until its own turn.
    for rule_id, _, _ in renamed:
        bind.execute(sa.update(_rule).where(_rule.c.id == rule_id).values(key=f"#0005#{rule_id}"))
    for rule_id, new_key, platform in renamed:
        bind.execute(
            sa.update(_rule).where(_rule.c.id == rule_id).values(key=new_key, platform=platform)
        )
    # Any change whose platform is spelled otherwise than its rule's (none should be).
    for stored in bind.execute(sa.select(_change.c.platform).distinct()).scalars().all():
        canonical = canonical_platform(stored)
        if stored is not None and canonical != stored:
            bind.execute(
                sa.update(_change).where(_change.c.platform == stored).values(platform=canonical)
            )


def downgrade() -> None:
    """Nothing to undo in the schema; merged rules are not split again."""
