"""English notices: cues for the announcement and the effective day, names, and decoys, in
sentences written for these tests."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from alerts.extract import Notice, extract


def read(title: str, text: str, published=None):
    return [
        (c.rule, c.platform, c.announced_on, c.effective_on)
        for c in extract(Notice(title=title, text=text, published_at=published))
    ]


@pytest.mark.parametrize(
    ("title", "text", "expected"),
    [
        pytest.param(
            "Lazada",
            "The new Returns Policy will take effect on the 1st of October 2024.",
            [("Returns Policy", "Lazada", None, date(2024, 10, 1))],
            id="on-the-ordinal-of-month",
        ),
        pytest.param(
            "Temu",
            "Posted on: July 20, 2024\nWe are updating our Seller Terms on August 15, 2024.",
            [("Seller Terms", "Temu", date(2024, 7, 20), date(2024, 8, 15))],
            id="posted-on-and-we-are-updating-on",
        ),
        pytest.param(
            "TikTok Shop",
            "Updated: Aug. 3, 2024. The Product Listing Policy is effective from Sept. 1st, 2024.",
            [("Product Listing Policy", "TikTok Shop", date(2024, 8, 3), date(2024, 9, 1))],
            id="updated-label-abbreviations-ordinal",
        ),
        pytest.param(
            "Ozon",
            "From 1 October 2024 the storage fee changes.",
            [(None, "Ozon", None, date(2024, 10, 1))],
            id="from-day-month-year",
        ),
        pytest.param(
            "AliExpress notice",
            "Date: 04/11/2020. The shipping rules change on 04/11/2020.",
            [(None, "速卖通", None, None)],  # a change, of no day that can be told
            id="numeric-dates-are-ambiguous",
        ),
    ],
)
def test_english_cues(title, text, expected):
    assert read(title, text) == expected


def test_effective_immediately_is_the_publish_day():
    [found] = extract(
        Notice(
            title="Amazon identity checks",
            text="Effective immediately, sellers must verify their identity again.",
            published_at=datetime(2024, 8, 1, 10, 0),
        )
    )
    assert found.effective_on == date(2024, 8, 1)


def test_a_time_with_its_zone_is_kept():
    [found] = extract(
        Notice(title="SHEIN", text="The changes take effect on October 1, 2024 at 00:00 UTC+8.")
    )
    assert (found.effective_on, found.effective_at) == (date(2024, 10, 1), time(0, 0))


def test_a_policy_named_in_title_case_with_a_lower_case_last_word():
    assert read(
        "Shopee",
        "Shopee will implement the new Late Shipment Rate policy from 1 June 2024 (GMT+8).",
    ) == [("Late Shipment Rate policy", "Shopee", None, date(2024, 6, 1))]


def test_an_english_postponement_keeps_the_old_date():
    [found] = extract(
        Notice(
            title="Amazon postpones",
            text="The new Returns Policy, originally scheduled for March 1, 2024, "
            "has been postponed to April 1, 2024.",
        )
    )
    assert (found.effective_on, found.postponed_from) == (date(2024, 4, 1), date(2024, 3, 1))


def test_fba_is_amazon():
    [found] = extract(
        Notice(title="Update to FBA capacity limits", text="Beginning March 1, 2025, limits apply.")
    )
    assert (found.platform, found.effective_on) == ("Amazon", date(2025, 3, 1))


def test_the_end_of_a_grace_window_is_no_effective_day():
    found = read(
        "Shopee",
        "Shopee will update the processing time starting from July 22, 2024.\n"
        "Orders placed from July 22 to August 18 will not be penalized.\n"
        "Penalty points will be applied starting from August 18.",
    )
    assert found == [(None, "Shopee", None, date(2024, 7, 22))]


def test_english_names_join_one_lower_case_word_but_not_lines_or_generic_words():
    found = read(
        "Changes to program policies",
        "We have a help page listing all Program Policy Changes.\n"
        "We are making changes to the European VAT Calculation Services methodology Program "
        "Policy.\nEffective July 25, 2022, these changes will apply to all sellers.",
    )
    assert found == [
        (
            "European VAT Calculation Services methodology Program Policy",
            None,
            None,
            date(2022, 7, 25),
        )
    ]


@pytest.mark.parametrize(
    ("text", "effective"),
    [
        pytest.param(
            "With effect from 3rd March 2025, the fee applies.", date(2025, 3, 3), id="wef"
        ),
        pytest.param("W.e.f. 3rd March 2025 the fee applies.", date(2025, 3, 3), id="wef-short"),
        pytest.param(
            "Lazada said that from March 3, 2025, sellers will pay more.",
            date(2025, 3, 3),
            id="that-from",
        ),
        pytest.param("The new fee applies from 03.03.2025.", date(2025, 3, 3), id="dotted-dmy"),
        pytest.param("The new fee applies from 23/03/2025.", date(2025, 3, 23), id="slash-dmy"),
        pytest.param("The new fee applies from 03/04/2025.", None, id="slash-ambiguous"),
    ],
)
def test_more_english_effective_phrases(text, effective):
    found = extract(Notice(title="Lazada fee change", text=text))
    assert [c.effective_on for c in found][:1] == [effective]


def test_previously_announced_then_will_now_take_effect():
    [found] = extract(
        Notice(
            title="Shopee",
            text="The revised Returns Policy, previously announced to take effect on 1 May 2025, "
            "will now take effect on 15 May 2025.",
        )
    )
    assert (found.effective_on, found.postponed_from) == (date(2025, 5, 15), date(2025, 5, 1))


def test_a_scrapped_change_has_no_effective_day():
    found = extract(
        Notice(
            title="SHEIN scraps planned storage fee",
            text="SHEIN has scrapped a planned storage fee that was due to take effect on "
            "May 1, 2025.",
        )
    )
    assert [c.effective_on for c in found] in ([], [None])


@pytest.mark.parametrize(
    ("text", "effective"),
    [
        pytest.param(
            "The fee applies to orders placed on or after June 1, 2025.",
            date(2025, 6, 1),
            id="on-or-after",
        ),
        pytest.param(
            "On May 5, 2025 at 12:00 AM PT, we will update the storage fee.",
            date(2025, 5, 5),
            id="on-day-we-will",
        ),
        pytest.param(
            '"A partir del 2 de junio de 2025, las cancelaciones contarán", dice el aviso.',
            date(2025, 6, 2),
            id="spanish",
        ),
        pytest.param(
            '"A partir de 1º de julho de 2025, será cobrada uma taxa", diz o aviso.',
            date(2025, 7, 1),
            id="portuguese",
        ),
        pytest.param(
            "Temu said it plans to open its seller program in Italy from June 3, 2025.",
            date(2025, 6, 3),
            id="plans-to-from",
        ),
    ],
)
def test_effective_phrases_of_seller_news(text, effective):
    found = extract(Notice(title="Mercado Libre fee update", text=text))
    assert [c.effective_on for c in found] == [effective]


def test_a_policy_said_to_stay_unchanged_is_no_change():
    found = read(
        "Amazon fee update",
        "Posted on Mar 3, 2025\nOn April 15, 2025, we will update the inbound fee.\n"
        "The Amazon Services Business Solutions Agreement is not affected by this change.",
    )
    assert found == [(None, "Amazon", date(2025, 3, 3), date(2025, 4, 15))]


def test_effective_immediately_after_a_posting_date():
    found = read(
        "Update to the Fair Pricing Policy",
        "Posted on Oct 21, 2024\nEffective immediately, we are expanding the Fair Pricing Policy.",
    )
    assert found == [("Fair Pricing Policy", None, date(2024, 10, 21), date(2024, 10, 21))]


def test_orders_cancelled_by_sellers_do_not_cancel_the_change():
    found = extract(
        Notice(
            title="Shopee Malaysia Late Shipment Policy update",
            text="Starting 2025-05-05, the Shopee Late Shipment Policy will count orders "
            "cancelled by the seller after the shipping deadline.",
        )
    )
    assert [(c.effective_on, c.postponed_from) for c in found] == [(date(2025, 5, 5), None)]


def test_a_date_line_in_the_header_is_the_announcement():
    found = extract(
        Notice(
            title="Temu Seller Center | Announcement",
            text="Date: 2025-06-09\nThe Temu Shipping Time Policy will take effect on "
            "June 23, 2025 for all local sellers.",
        )
    )
    assert [(c.announced_on, c.effective_on) for c in found] == [
        (date(2025, 6, 9), date(2025, 6, 23))
    ]


def test_a_rule_last_updated_long_ago_gives_this_change_no_announcement():
    found = extract(
        Notice(
            title="Temu to revise seller fees",
            text="Temu will introduce a new fulfilment fee from August 4, 2025. "
            "The Temu Seller Fee Schedule was last updated on February 2, 2025.",
        )
    )
    assert all(c.announced_on is None for c in found), found


@pytest.mark.parametrize(
    ("text", "effective"),
    [
        pytest.param(
            "The updated Listing Policy for US sellers will be enforced beginning 03/04/2025.",
            date(2025, 3, 4),
            id="american-notice",
        ),
        pytest.param(
            "The updated Listing Policy applies from 03/04/2025; entries close 03/28/2025.",
            date(2025, 3, 4),
            id="month-first-shown-by-another-date",
        ),
        pytest.param(
            "The updated Listing Policy applies from 03/04/2025; entries close 28/03/2025.",
            date(2025, 4, 3),
            id="day-first-shown-by-another-date",
        ),
    ],
)
def test_slashed_dates_are_read_in_the_order_the_notice_writes(text, effective):
    found = extract(Notice(title="TikTok Shop Listing Policy update", text=text))
    assert [c.effective_on for c in found] == [effective]


def test_a_slashed_date_of_unknown_order_is_left_out():
    found = extract(
        Notice(
            title="Lazada Listing Policy update",
            text="The updated Listing Policy applies from 03/04/2025.",
        )
    )
    assert [c.effective_on for c in found] in ([], [None])


def test_the_day_a_count_is_taken_is_no_effective_day():
    found = extract(
        Notice(
            title="Ozon Global: new storage fees",
            text="From 1 October 2024 paid storage at Ozon warehouses starts on day 91. "
            "Goods stored for more than 90 days as of 30 September will be charged from "
            "1 October.",
        )
    )
    assert {c.effective_on for c in found} == {date(2024, 10, 1)}, found


@pytest.mark.parametrize(
    "text",
    [
        "Temu will apply the updated shipping policy to all local sellers on 3 March 2025.",
        "Temu will require sellers shipping to Germany to upload packaging registration "
        "numbers for every listing in the home and garden categories from 3 March 2025.",
        "Temu Shipping Policy: from 3 March 2025, late shipments will count twice.",
    ],
    ids=["will-apply-on", "a-long-will-require-from", "name-colon-from"],
)
def test_will_do_something_on_or_from_a_day_is_its_effective_day(text):
    found = extract(Notice(title="Temu Shipping Policy update", text=text))
    assert [c.effective_on for c in found] == [date(2025, 3, 3)], found


def test_a_delay_from_one_day_to_another_far_from_its_verb():
    found = extract(
        Notice(
            title="SHEIN delays its Return Policy update",
            text="SHEIN has delayed the rollout of the updated SHEIN Return Policy for "
            "marketplace sellers in Europe from May 5, 2025 to June 2, 2025.",
        )
    )
    assert [(c.effective_on, c.postponed_from) for c in found] == [
        (date(2025, 6, 2), date(2025, 5, 5))
    ]


def test_a_fee_that_applies_again_marks_the_end_of_a_waiver():
    found = extract(
        Notice(
            title="Lazada waives its payment fee for the 11.11 campaign",
            text="From 1 November 2024 to 14 November 2024, Lazada will waive the payment fee "
            "for new sellers. The usual payment fee will apply again from 15 November 2024.",
        )
    )
    assert [c.effective_on for c in found] == [date(2024, 11, 1)], found


def test_a_news_articles_byline_date_is_not_the_announcement():
    found = extract(
        Notice(
            title="What Shopee's new listing limits mean for sellers",
            text="By Lee Wen | Published Mar 3, 2025\n"
            "Shopee Malaysia will apply the new Listing Limit Policy from 1 April 2025.",
        )
    )
    assert [(c.announced_on, c.effective_on) for c in found] == [(None, date(2025, 4, 1))]


def test_each_bullet_of_a_policy_list_keeps_its_own_day():
    found = extract(
        Notice(
            title="Amazon policy updates",
            text="Amazon policy updates for sellers:\n"
            "- Inventory Storage Policy: the aged inventory surcharge will cover items stored "
            "over 181 days. This change takes effect August 19, 2024.\n"
            "- Seller Code of Conduct: we clarified the rules on review manipulation, "
            "effective immediately.",
            published_at=date(2024, 7, 20),
        )
    )
    assert {(c.rule, c.effective_on) for c in found} == {
        ("Inventory Storage Policy", date(2024, 8, 19)),
        ("Seller Code of Conduct", date(2024, 7, 20)),
    }


def candidates(title: str, text: str):
    return extract(Notice(title=title, text=text))


def test_a_document_a_notice_creates_may_be_named_in_lower_case():
    found = candidates(
        "Upcoming changes to program policies",
        "We are introducing prohibited battery guidelines and adding the hazmat review "
        "appeals policy as a new program policy.\nThis change will go into effect on "
        "May 12, 2025.",
    )
    assert [(c.rule, c.effective_on) for c in found] == [
        ("prohibited battery guidelines", date(2025, 5, 12)),
        ("hazmat review appeals policy", date(2025, 5, 12)),
    ]


def test_launching_updates_to_a_policy_names_no_policy():
    found = candidates(
        "Seller news",
        "We are launching updates to the listing policy starting June 3, 2025.",
    )
    assert "updates to the listing policy" not in [c.rule for c in found]
    assert [c.effective_on for c in found] == [date(2025, 6, 3)]


def test_update_headings_name_the_sections_policies():
    found = candidates(
        "Policy roundup",
        "Several policies change this month.\n"
        "Update on Late Dispatch Rate\n"
        "The late dispatch rate target will be tightened starting from August 5, 2025.\n"
        "Updates on New Listing Image Standards\n"
        "From August 19, 2025, listings must use white backgrounds.\n",
    )
    assert [(c.rule, c.effective_on) for c in found] == [
        ("Late Dispatch Rate", date(2025, 8, 5)),
        ("Listing Image Standards", date(2025, 8, 19)),
    ]


def test_a_paragraph_with_its_own_day_and_subject_is_a_change_of_its_own():
    found = candidates(
        "Changes to program policies",
        "We are introducing the listing quality guidelines.\n"
        "This change will go into effect on July 14, 2025.\n"
        "Effective May 2, 2025, we are no longer accepting new sellers from Ruritania.\n",
    )
    assert [(c.rule, c.effective_on) for c in found] == [
        ("listing quality guidelines", date(2025, 7, 14)),
        (None, date(2025, 5, 2)),
    ]
    assert "accepting new sellers" in found[1].rule_key


def test_a_later_paragraph_that_only_restates_the_rule_s_day_stays_with_it():
    found = candidates(
        "Upcoming change to the Returns Policy",
        "We are updating the Returns Policy.\n"
        "Effective June 1, 2025, you will see the new return windows in Seller Central.\n",
    )
    assert [(c.rule, c.effective_on) for c in found] == [("Returns Policy", date(2025, 6, 1))]
