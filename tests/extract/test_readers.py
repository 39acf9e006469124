"""Reading notices: the raw seed listing, HTML pages, articles and JSON lines."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

import alerts.extract
from alerts.errors import ExtractionError
from alerts.extract import Notice, extract, read_notices

from .seed import SEED_LISTINGS, seed_items


def test_public_surface_is_pinned():
    assert sorted(alerts.extract.__all__) == [
        "ChangeCandidate",
        "ChangeKind",
        "Notice",
        "extract",
        "read_notices",
        "unplaced_days",
    ]


def test_there_is_a_seed_listing():
    assert SEED_LISTINGS, "no listing in shared/seeds/"


@pytest.mark.parametrize("fmt", ["listing", "auto"])
@pytest.mark.parametrize("path", SEED_LISTINGS, ids=lambda p: p.name)
def test_raw_listing_gives_the_labelled_notices(path, fmt):
    notices = read_notices(path.read_text(encoding="utf-8"), format=fmt)
    items = seed_items()
    assert len(notices) == 20
    for notice, item in zip(notices, items, strict=True):
        published = datetime.fromisoformat(item["published_at"])
        # The listing prints Shanghai wall-clock time without an offset.
        assert notice.published_at == published.replace(tzinfo=None), item["id"]
        assert notice.title == item["title"], item["id"]
        assert notice.text == item["text"], item["id"]


def test_page_chrome_and_pager_are_not_notices():
    text = SEED_LISTINGS[0].read_text(encoding="utf-8")
    titles = [n.title for n in read_notices(text, format="listing")]
    assert not any(word in title for title in titles for word in ("首页", "Toggle theme", "››"))
    last = read_notices(text, format="listing")[-1]
    assert last.text.endswith("进行变更。")


def test_listing_summary_without_full_stop_is_split_at_the_closing_bracket():
    listing = "\n".join(
        [
            "京东修订",
            "《京东规则》",
            "2024-05-01 10:00:00",
            "为保障体验，特修订《",
            "京东",
            "物流规则",
            "》",
            "京东",
            "调整发票规范",
            "2024-05-02 11:00:00",
            "调整后的规范于2024年5月9日生效。",
        ]
    )
    first, second = read_notices(listing, format="listing")
    assert (first.title, first.text) == (
        "京东修订《京东规则》",
        "为保障体验，特修订《京东物流规则》",
    )
    assert (second.title, second.text) == ("京东调整发票规范", "调整后的规范于2024年5月9日生效。")


PAGE = """<!doctype html>
<html><head><title>淘宝网规则公告</title>
<style>p { color: red }</style><script>var x = "2025年1月1日生效";</script></head>
<body>
<nav>首页 | 规则</nav>
<h1>淘宝网修订《淘宝网<mark>商品</mark>发布规范》</h1>
<p>本次修订于<b>2024年3月18日</b>公示，</p>
<p>2024年3月25日生效。&nbsp;详情见附件。</p>
<ul><li>第一条</li><li>第二条</li></ul>
</body></html>"""


def test_html_article_is_read_in_order_without_script_or_style():
    published = datetime(2024, 3, 18, 9, 0)
    [notice] = read_notices(PAGE, format="html", published_at=published)
    assert notice.title == "淘宝网修订《淘宝网商品发布规范》"
    assert notice.published_at == published
    assert notice.text.splitlines() == [
        "首页 | 规则",
        "本次修订于2024年3月18日公示，",
        "2024年3月25日生效。 详情见附件。",
        "第一条",
        "第二条",
    ]
    assert "2025" not in notice.text
    [change] = extract(notice)
    assert (change.rule, change.announced_on, change.effective_on) == (
        "淘宝网商品发布规范",
        date(2024, 3, 18),
        date(2024, 3, 25),
    )
    assert read_notices(PAGE, published_at=published) == [notice]


def test_html_listing_is_read_as_a_listing():
    page = (
        "<html><body><div class='item'><a>《拼多多<em>发货</em>规则》更新</a>"
        "<time>2024-04-01 09:00:00</time><p>新规则于2024年4月8日生效。</p></div>"
        "<div class='item'><a>《拼多多退款规则》更新</a><time>2024-04-02 10:00:00</time>"
        "<p>新规则于2024年4月9日生效。</p></div></body></html>"
    )
    notices = read_notices(page, format="auto")
    assert [(n.title, n.text, n.published_at) for n in notices] == [
        ("《拼多多发货规则》更新", "新规则于2024年4月8日生效。", datetime(2024, 4, 1, 9, 0)),
        ("《拼多多退款规则》更新", "新规则于2024年4月9日生效。", datetime(2024, 4, 2, 10, 0)),
    ]


def test_article_first_line_is_the_title():
    text = "\n\n《快手小店售后服务规范》修订\n本次修订2024年7月1日公示。\n第二段。\n"
    [notice] = read_notices(text, format="article", published_at=date(2024, 7, 1))
    assert notice == Notice(
        title="《快手小店售后服务规范》修订",
        text="本次修订2024年7月1日公示。\n第二段。",
        published_at=date(2024, 7, 1),
    )
    [titled] = read_notices(text, format="article", title="给定标题")
    assert titled.title == "给定标题"
    assert titled.text.startswith("《快手小店售后服务规范》修订")


def test_auto_reads_plain_text_as_an_article():
    [notice] = read_notices("标题\n正文", published_at=None)
    assert (notice.title, notice.text, notice.published_at) == ("标题", "正文", None)
    assert read_notices("") == []


def test_jsonl_lines_keep_ids_and_publish_times():
    lines = [
        {"id": "a", "published_at": "2025-12-20T09:00:00+08:00", "title": "t", "text": "x"},
        {"id": 7, "published_at": "2025-12-21", "title": "t2", "text": "y"},
        {"id": "c", "published_at": None, "title": "t3", "text": "z"},
        {"id": "d", "title": "t4", "text": "w"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    default = date(2025, 1, 1)
    a, b, c, d = read_notices(text, format="jsonl", published_at=default)
    shanghai = timezone(timedelta(hours=8))
    assert (a.id, a.published_at) == ("a", datetime(2025, 12, 20, 9, 0, tzinfo=shanghai))
    assert (b.id, b.published_at) == ("7", date(2025, 12, 21))
    assert (c.id, c.published_at) == ("c", None)
    assert (d.id, d.published_at) == ("d", default)
    assert read_notices(text) == [a, b, c, read_notices(text)[3]]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        pytest.param("not json", "not valid JSON", id="not-json"),
        pytest.param("[1, 2]", "expected a JSON object", id="not-an-object"),
        pytest.param('{"title": 5, "text": "x"}', "title must be a string", id="bad-title"),
        pytest.param('{"title": "t", "published_at": "yesterday"}', "published_at", id="bad-time"),
        pytest.param('{"id": "x"}', "needs a title or a text", id="empty"),
    ],
)
def test_bad_jsonl_line_names_its_number_and_problem(bad_line, message):
    text = '{"id": "1", "title": "x", "text": "y"}\n' + bad_line + "\n"
    with pytest.raises(ExtractionError, match=rf"line 2: .*{message}"):
        read_notices(text, format="jsonl")


def test_unknown_format_is_an_extraction_error():
    with pytest.raises(ExtractionError, match="unknown format 'pdf'"):
        read_notices("x", format="pdf")


def test_html_article_takes_its_publish_time_from_its_metadata():
    page = (
        '<html><head><meta property="article:published_time" content="2024-12-20T09:00:00+08:00">'
        "<title>站点</title></head><body><h1>《快手小店售后服务规范》调整</h1>"
        "<p>调整后的规范1月5日起生效。</p></body></html>"
    )
    [notice] = read_notices(page)
    assert notice.published_at == datetime(2024, 12, 20, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    assert extract(notice)[0].effective_on == date(2025, 1, 5)
    [given] = read_notices(page, published_at=date(2024, 6, 1))
    assert given.published_at == date(2024, 6, 1)
