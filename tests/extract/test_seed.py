"""Every labelled item of the shared seed is read exactly as labelled."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from alerts.extract import Notice, extract

from .seed import seed_items

FIELDS = ("rule", "rule_key", "platform", "announced_on", "effective_on", "tentative")


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


@pytest.mark.parametrize("item", [pytest.param(item, id=item["id"]) for item in seed_items()])
def test_seed_item_is_read_as_labelled(item):
    notice = Notice(
        title=item["title"],
        text=item["text"],
        published_at=datetime.fromisoformat(item["published_at"]),
    )
    got = [{field: _iso(getattr(c, field)) for field in FIELDS} for c in extract(notice)]
    expected = [{field: e[field] for field in FIELDS} for e in item["expected"]]
    assert got == expected


def test_the_seed_has_twenty_items():
    assert len(seed_items()) == 20
