"""Screening: the explainable risk score, the cases it opens for the team, the queue, the evaluation."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.models import IppCase, Listing, Order
from bot.services import cases, reports, screening, sellers
from tests.services.test_penalties import _take_down

OBVIOUS_FAKE = "1005007000000001"  # "나이키 에어포스 1 '07 화이트 미러급", 23% of the price, a 12-day-old store
COPIED_PHOTO = "1005007000000009"  # a Nike photo at 27% of the price, a 21-day-old store
NIKE_S1003 = "1005006000123456"  # a genuine demo listing of S-1003 with orders
ADIDAS_S1003 = "1005006000139294"


@pytest.mark.parametrize("title,terms", [
    ("나이키 미러 급이에요", ["미러급"]),  # spacing and an ending
    ("[정품급] 샤넬 플랩백", ["정품급"]),
    ("구찌 SA 급 퀄리티", ["SA급"]),
    ("레플리카급 가방", ["레플리카"]),  # a noun that starts with the term
    ("샤넬 1:1이에요 이미테이션", ["1:1", "이미테이션"]),
    ("짝퉁 아님 정품 인증", []),  # negated
    ("짝퉁아니에요 영수증 있어요", []),
    ("캐논 미러리스 카메라", []),  # 미러 is not 미러급
    ("샤넬 카드 지갑 가품 시 10배 보상", []),
])
def test_title_terms_on_kiwi_morphemes(title, terms):
    assert screening.title_terms(title) == terms


def _assess(listing_id: str) -> screening.RiskScore:
    with transaction() as session:
        return screening.assess(session, [listing_id])[listing_id]


def test_the_score_is_the_sum_of_its_signals(db_url):
    risk = _assess(OBVIOUS_FAKE)
    assert [(s.name, s.points) for s in risk.signals] == [
        ("price_30", 35), ("seller_under_30_days", 15), ("title_terms", 35)]
    assert risk.score == 85
    assert risk.reasons == ("Nike 기준가의 23% 가격 (+35) · 개설 12일 된 판매자 (+15) · 제목에 '미러급' (+35)")
    copied = _assess(COPIED_PHOTO)
    assert [(s.name, s.points) for s in copied.signals] == [
        ("price_30", 35), ("seller_under_30_days", 15), ("photo_shared", 15)]
    assert copied.signals[2].reason == "다른 판매자 상품 2개와 같은 사진"
    # The demo's S-1003 is Nike's authorised reseller (seller check, migration 0008): a signal that lowers
    # the score, which never goes below 0.
    assert _assess(NIKE_S1003).score == 0 and _assess(NIKE_S1003).reasons == "Nike 공식 인증 판매자 (-20)"


def test_risk_scores_for_the_inspection_planner(db_url):
    with transaction() as session:
        assert screening.risk_scores(session, [OBVIOUS_FAKE, NIKE_S1003, "1005000000000000"]) == {
            OBVIOUS_FAKE: 85.0, NIKE_S1003: 0.0}


def _delivered_order(listing_id: str) -> Order:
    with transaction() as session:
        return session.execute(
            select(Order).where(Order.listing_id == listing_id, Order.status == "delivered")
            .order_by(Order.delivered_at.desc())
        ).scalars().first()


def test_reports_their_outcome_and_strikes_move_the_score(db_url):
    order = _delivered_order(NIKE_S1003)
    outcome = reports.file_report(order.customer_id, order.number, "로고 박음질이 이상해요")
    # S-1003 is the demo's authorised reseller of Nike and Adidas: the report counts against that.
    assert [(s.name, s.points) for s in _assess(NIKE_S1003).signals] == [
        ("report_pending", 15), ("authorised_reseller", -20)]
    # The team confirms the fake: the listing goes, the seller's strike counts on his other listings.
    reports.review_report(outcome.report_number, confirm_fake=True, note="가품 확인", actor="test")
    other = _assess(ADIDAS_S1003)
    assert [(s.name, s.points, s.reason) for s in other.signals] == [
        ("strike", 15, "판매자 유효 경고 1회"), ("authorised_reseller", -20, "Adidas 공식 인증 판매자")]


def test_a_genuine_verdict_lowers_the_score(db_url):
    order = _delivered_order(ADIDAS_S1003)
    outcome = reports.file_report(order.customer_id, order.number, "가짜 같아요")
    reports.review_report(outcome.report_number, confirm_fake=False, note="정품 확인", actor="test")
    risk = _assess(ADIDAS_S1003)
    assert [(s.name, s.points) for s in risk.signals] == [("found_genuine", -30), ("authorised_reseller", -20)]
    assert risk.score == 0  # never below 0


def test_the_photo_of_a_removed_listing_weighs_double(db_url):
    # 1005007000000009 shares its photo with two listings of other sellers; remove one of them as a fake.
    _take_down("1005007000000014")
    assert [(s.name, s.points) for s in _assess(COPIED_PHOTO).signals][-1] == ("photo_of_removed", 30)


def test_the_seller_s_verification_lowers_the_score(db_url):
    """Authorised for the listing's brand weighs most; business registration a little; unverified nothing."""
    sellers.verify("S-2001", "authorised_reseller", brand="Nike", actor="test")
    sellers.verify("S-2002", "business_verified", actor="test")
    fake = _assess(OBVIOUS_FAKE)
    assert [(s.name, s.points) for s in fake.signals] == [
        ("price_30", 35), ("seller_under_30_days", 15), ("authorised_reseller", -20), ("title_terms", 35)]
    assert fake.score == 65 and fake.signals[2].reason == "Nike 공식 인증 판매자"
    copied = _assess(COPIED_PHOTO)
    assert [s.name for s in copied.signals] == ["price_30", "seller_under_30_days", "business_verified", "photo_shared"]
    assert copied.score == 60


def _screening_cases():
    with transaction() as session:
        return session.execute(
            select(IppCase.listing_id, IppCase.state).where(IppCase.source == "screening").order_by(IppCase.listing_id)
        ).all()


def test_screen_opens_one_case_per_risky_listing_and_removes_nothing(db_url):
    run = screening.screen()
    assert (run.screened, run.threshold, run.above, len(run.opened)) == (71, 50, 11, 11)
    opened = _screening_cases()
    assert [listing for listing, _ in opened] == [f"10050070000000{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 14)]
    assert {state for _, state in opened} == {"submitted"}
    reasons = _assess(OBVIOUS_FAKE).reasons
    with transaction() as session:
        assert session.execute(select(Listing.id).where(Listing.status == "removed")).all() == []
        event = session.execute(select(IppCase).where(IppCase.listing_id == OBVIOUS_FAKE)).scalar_one().events[0]
        assert (event.actor, event.note) == ("screening", "위험 점수 85점: " + reasons)
    again = screening.screen()
    assert (again.above, again.opened) == (11, ())
    assert len(_screening_cases()) == 11


def test_a_case_the_team_decided_is_not_reopened(db_url, monkeypatch):
    monkeypatch.setenv("CLEANBOT_SCREENING_THRESHOLD", "80")
    assert len(screening.screen().opened) == 6
    with transaction() as session:
        case = session.execute(select(IppCase).where(IppCase.listing_id == OBVIOUS_FAKE)).scalar_one()
        cases.transition(session, case, "under_review", "agent")
        cases.transition(session, case, "rejected", "agent", "정품 확인")
    assert screening.screen().opened == ()


def test_concurrent_runs_open_each_case_once(db_url, monkeypatch):
    monkeypatch.setenv("CLEANBOT_SCREENING_THRESHOLD", "80")
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: screening.screen(), range(2)))
    assert sorted(len(r.opened) for r in runs) in ([0, 6], [1, 5], [2, 4], [3, 3])
    assert len(_screening_cases()) == 6


def test_queue_puts_the_riskiest_open_case_first_with_its_reasons(db_url, monkeypatch):
    order = _delivered_order(NIKE_S1003)
    reports.file_report(order.customer_id, order.number, "가짜 같아요")
    monkeypatch.setenv("CLEANBOT_SCREENING_THRESHOLD", "80")
    screening.screen()
    queue = screening.review_queue()
    assert [(i.listing_id, i.score, i.source) for i in queue][:2] == [
        (OBVIOUS_FAKE, 85, "screening"), ("1005007000000002", 85, "screening")]
    last = queue[-1]
    assert (last.listing_id, last.score, last.source, last.pending_reports, last.reasons) == (
        NIKE_S1003, 0, "shopper_report", 1, "검토 대기 중인 구매자 신고 1건 (+15) · Nike 공식 인증 판매자 (-20)")
    assert len(queue) == 7 and len(screening.review_queue(limit=3)) == 3


def test_evaluation_on_the_labelled_demo_listings(db_url):
    result = screening.evaluate(k=20)
    assert (result.labelled, result.fakes, result.precision_at_10, result.recall_at_k) == (71, 23, 1.0, 0.783)
    assert (result.flagged, result.precision_at_threshold, result.recall_at_threshold) == (11, 1.0, 0.478)
    assert result.top[0] == (OBVIOUS_FAKE, 85, "fake")


def test_the_brand_s_rights_holder_sees_a_screening_case_marked_as_such(db_url, monkeypatch):
    from bot.models import Brand
    from bot.replies.holder import case_line
    from bot.services import ipp

    monkeypatch.setenv("CLEANBOT_SCREENING_THRESHOLD", "80")
    screening.screen()
    with transaction() as session:
        nike = session.execute(select(Brand.id).where(Brand.name == "Nike")).scalar_one()
    page = ipp.list_visible_cases([nike])
    lines = [case_line(case, n) for n, case in enumerate(page.items, 1)]
    assert [line.split(" · ")[2:4] for line in lines] == [
        ["나이키 에어포스 1 '07 화이트 레플리카예요 최저가", "위험 탐지"],
        ["나이키 에어포스 1 '07 화이트 미러급", "위험 탐지"]]


def test_a_decided_case_stays_in_the_queue_while_a_refund_on_it_is_held(db_url, monkeypatch):
    monkeypatch.setenv("CLEANBOT_ABUSE_MAX_REFUNDS", "0")  # every claim is held for an agent
    order = _delivered_order(NIKE_S1003)
    outcome = reports.file_report(order.customer_id, order.number, "가짜 같아요")
    assert outcome.status == "held"
    reports.review_report(outcome.report_number, confirm_fake=True, note="가품 확인", actor="test")
    queue = screening.review_queue()
    assert [(i.listing_id, i.state, i.pending_reports, i.held_refunds) for i in queue] == [
        (NIKE_S1003, "action_taken", 0, 1)]
    reports.decide_held_refund(outcome.report_number, approve=True, actor="agent")
    assert screening.review_queue() == []
