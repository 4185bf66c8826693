"""The seller check against the demo data: levels per brand, the record in figures, the verdicts, and
orders found only for their own shopper."""
from __future__ import annotations

from datetime import timedelta

from bot.db import transaction
from bot.models import Listing
from bot.replies import seller as replies
from bot.services import cases, reports, seller_check

NIKE_AF1 = "1005006000123456"  # S-1003 스포츠마켓, authorised for Nike and Adidas
ADIDAS_SAMBA = "1005006000139294"  # S-1003
NIKE_DUNK = "1005006000131375"  # S-1001 글로벌패션몰, unverified
CHANEL_FLAP = "1005006000155132"  # S-1002 럭셔리아울렛, business-verified
CHANEL_CARD = "1005006000163051"  # S-1002
LV_NEVERFULL = "1005006000170970"  # S-1002


def _take_down(listing_id: str) -> None:
    with transaction() as session:
        case = cases.open_case(session, listing=session.get(Listing, listing_id), source="shopper_report",
                               actor="test", note="t")
        cases.transition(session, case, "under_review", "test")
        cases.transition(session, case, "action_taken", "test", "가품 확인")


def test_levels_per_brand_and_a_clean_record(db_url):
    nike = seller_check.check(listing_id=NIKE_AF1)
    assert (nike.problem, nike.seller_name, nike.level, nike.verdict) == (None, "스포츠마켓", "authorised_reseller",
                                                                          "trusted")
    assert (nike.strikes_in_force, nike.removed_recently, nike.open_cases) == (0, 0, 0)
    assert seller_check.check(listing_id=ADIDAS_SAMBA).verdict == "trusted"
    chanel = seller_check.check(listing_id=CHANEL_FLAP)
    assert (chanel.level, chanel.verdict) == ("business_verified", "verified")
    dunk = seller_check.check(listing_id=NIKE_DUNK)
    assert (dunk.level, dunk.verdict) == ("unverified", "unverified")


def test_the_answer_in_korean(db_url):
    text = replies.seller_check(seller_check.check(listing_id=NIKE_AF1))
    assert text == (
        "나이키 에어포스 1 '07 화이트 (Nike) · 129,000원 · 상품 번호 1005006000123456\n"
        "판매자 스포츠마켓 · Nike 공식 인증 판매자\n"
        "유효 제재 0건 · 최근 90일 삭제된 상품 0건 · 이 상품에 진행 중인 신고 0건\n"
        "Nike 공식 인증을 받은 판매자이고 제재 이력이 없어요. 안심하고 구매하셔도 돼요.\n"
        "어느 판매자에게 사셨든 가품이 의심되면 배송일로부터 90일 안에 신고하시면 증빙 없이 100% 환불해 드려요."
    )


def test_an_open_report_makes_it_caution_without_saying_who_or_what(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["listing"] == NIKE_AF1)
    outcome = reports.file_report("shopper-1", order["number"], "로고가 삐뚤어요")
    result = seller_check.check(listing_id=NIKE_AF1)
    assert (result.open_cases, result.strikes_in_force, result.verdict) == (1, 0, "caution")
    text = replies.seller_check(result)
    assert "이 상품에 진행 중인 신고 1건" in text
    for secret in (outcome.report_number, outcome.case_number, "shopper-1", "김민지", "로고가 삐뚤어요", order["number"]):
        assert secret not in text


def test_a_removed_listing_counts_against_the_seller_for_90_days(db_url, move_clock):
    _take_down(CHANEL_CARD)
    removed = seller_check.check(listing_id=CHANEL_CARD)
    assert (removed.listing_removed, removed.verdict) == (True, "removed")
    assert replies.seller_check(removed).splitlines()[3] == "이 상품은 가품으로 확인돼 판매가 중지됐어요. 구매하지 마세요."
    other = seller_check.check(listing_id=LV_NEVERFULL)
    assert (other.strikes_in_force, other.removed_recently, other.open_cases, other.verdict) == (1, 1, 0, "caution")
    move_clock(timedelta(days=91))
    later = seller_check.check(listing_id=LV_NEVERFULL)
    assert (later.strikes_in_force, later.removed_recently, later.verdict) == (1, 0, "caution")
    move_clock(timedelta(days=275))
    assert seller_check.check(listing_id=LV_NEVERFULL).verdict == "verified"  # the strike expired too


def test_a_frozen_store(db_url):
    _take_down(CHANEL_CARD)
    _take_down(LV_NEVERFULL)
    result = seller_check.check(listing_id=CHANEL_FLAP)
    assert (result.seller_status, result.strikes_in_force, result.removed_recently, result.verdict) == (
        "frozen", 2, 2, "frozen")
    assert "까지 판매가 정지돼 있어요. 구매를 미루시길 권해요." in replies.seller_check(result)


def test_through_the_shoppers_own_order_only(db_url, orders_by_customer):
    mine = next(o for o in orders_by_customer["shopper-1"] if o["listing"] == NIKE_AF1)
    result = seller_check.check(order_number=mine["number"], customer_id="shopper-1")
    assert (result.listing_id, result.order_number, result.can_report) == (NIKE_AF1, mine["number"], True)
    assert replies.report_button(result) == [
        {"title": "가품 신고하기", "payload": f'/report_counterfeit{{"order_number":"{mine["number"]}"}}'}]
    theirs = seller_check.check(order_number=mine["number"], customer_id="shopper-2")
    assert (theirs.problem, theirs.listing_id) == ("order_not_found", None)
    assert replies.seller_check(theirs) == replies.ORDER_NOT_FOUND
    expired = next(o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] == 120)
    old = seller_check.check(order_number=expired["number"], customer_id="shopper-1")
    assert (old.problem, old.can_report, replies.report_button(old)) == (None, False, [])


def test_an_unknown_listing(db_url):
    result = seller_check.check(listing_id="1005000000000000")
    assert result.problem == "listing_not_found"
    assert replies.seller_check(result) == replies.LISTING_NOT_FOUND
