"""Which order the shopper means: list positions, names (misspelt too), dates and prices."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.services.orders import OrderView, jamo, match_order_reference

NOW = datetime(2026, 12, 2, 6, 0)  # Wednesday 15:00 in Seoul


def _order(number: str, name: str, brand: str, amount: int, days_ago: int) -> OrderView:
    paid = NOW - timedelta(days=days_ago)
    return OrderView(number=number, customer_id="shopper-1", product_name=name, brand=brand, listing_id="1005",
                     amount_krw=amount, paid_at=paid, delivered_at=paid + timedelta(days=1), status="delivered",
                     report_number=None, refunded_at=None)


ORDERS = [
    _order("1111000000000001", "나이키 에어포스 1 '07 화이트", "Nike", 139_000, 2),
    _order("1111000000000002", "아디다스 가젤 인도어", "Adidas", 129_000, 9),
    _order("1111000000000003", "루이비통 네버풀 MM", "Louis Vuitton", 2_350_000, 20),
    _order("1111000000000004", "구찌 홀스빗 로퍼", "Gucci", 1_190_000, 25),
    _order("1111000000000005", "설화수 윤조에센스 90ml", "Sulwhasoo", 59_000, 60),
]


def numbers(text: str, shown=()) -> tuple[str, ...]:
    return tuple(o.number[-1] for o in match_order_reference(text, ORDERS, shown, now=NOW).matches)


@pytest.mark.parametrize("text, expected", [
    ("2번 신고할게", ("2",)),
    ("두 번째 거요", ("2",)),
    ("셋째", ("3",)),
    ("마지막 거", ("5",)),
    ("맨 위에 있는 거", ("1",)),
    ("5번째", ("5",)),
])
def test_position_in_the_list_shown(text: str, expected: tuple) -> None:
    assert numbers(text) == expected


def test_position_counts_in_the_list_that_was_shown_not_in_all_orders() -> None:
    shown = ["1111000000000004", "1111000000000002"]
    assert numbers("1번", shown) == ("4",)
    assert numbers("마지막 거", shown) == ("2",)
    reference = match_order_reference("3번", ORDERS, shown, now=NOW)
    assert (reference.referenced, reference.matches, reference.how, reference.position) == (True, (), "position", 3)


@pytest.mark.parametrize("text, expected", [
    ("에어포스", ("1",)),
    ("에어포쓰요", ("1",)),  # misspelt
    ("애어포스 신고할게요", ("1",)),
    ("나이키 신발", ("1",)),
    ("신발", ("1", "2", "4")),
    ("구찌 가방", ()),  # the shopper's Gucci order is a pair of loafers
    ("구찌 로퍼요", ("4",)),
    ("네버폴", ("3",)),
    ("루이 비통 가방", ("3",)),
    ("아 잠깐만요 이거 말고 가젤이요", ("2",)),
    ("GUCCI", ("4",)),
    ("90ml 에센스", ("5",)),
])
def test_by_product_or_brand_name(text: str, expected: tuple) -> None:
    assert numbers(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("지난주에 산 거", ("2",)),  # paid Monday 23 November: last week was 23-29 November
    ("지난주에 받은 거", ("2",)),
    ("이번 주에 산 거", ("1",)),
    ("이번 주에 받은 거", ("1",)),
    ("지난달에 산 구찌", ("4",)),
])
def test_by_date(text: str, expected: tuple) -> None:
    assert numbers(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("13만 9천원짜리", ("1",)),
    ("139,000원", ("1",)),
    ("12만원대", ("2",)),
    ("5만원대 화장품", ("5",)),
])
def test_by_price(text: str, expected: tuple) -> None:
    assert numbers(text) == expected


@pytest.mark.parametrize("text", ["가품 신고할게요", "신고하고 싶어요", "환불해 주세요", "",
                                  "포장이 달라요",  # 이달 (this month) inside a word
                                  "로고가 이상해요", "박음질이 엉망이에요", "받은 상품이 가짜 같아요"])
def test_a_message_naming_no_order_refers_to_none(text: str) -> None:
    reference = match_order_reference(text, ORDERS, now=NOW)
    assert (reference.referenced, reference.matches) == (False, ())


def test_a_brand_the_shopper_never_bought_is_a_reference_that_matches_nothing() -> None:
    reference = match_order_reference("샤넬 지갑", ORDERS, now=NOW)
    assert (reference.referenced, reference.matches, reference.how) == (True, (), "name")


def test_jamo_splits_syllables_into_letters() -> None:
    assert jamo("각") == "\u1100\u1161\u11a8"
    assert jamo("a가") == "a\u1100\u1161"
