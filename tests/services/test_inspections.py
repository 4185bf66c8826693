"""Test buys: a fake decides the case (strike once, recall), genuine and inconclusive are recorded on the
timeline, rights holders see their brand's inspections, and the plan is weighted, seeded and skips
listings inspected in the last 30 days."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db import transaction
from bot.models import CaseEvent, CasePhoto, Inspection, IppCase, Listing, Notification, RecallNotice, Strike
from bot.replies import inspections as say
from bot.services import identity, inspections, ipp, reports

AF1 = "1005006000123456"  # Nike, S-1003; delivered to shopper-1 and shopper-5 five days ago
DUNK = "1005006000131375"  # Nike, S-1001
CHANEL_CARD = "1005006000163051"
GM_SUNGLASSES = "1005006000202646"  # Gentle Monster's two listings, neither with a risk signal in the demo
GM_GLASSES = "1005006000210565"
OBVIOUS_FAKE = "1005007000000001"  # the screening demo's clearest fake (tests/services/test_screening.py)


def _brand_id(name: str) -> int:
    with transaction() as session:
        return session.execute(select(Listing.brand_id).where(Listing.title.like(f"{name}%")).limit(1)).scalar_one()


def test_a_fake_opens_and_decides_a_case_with_one_strike_and_the_recall(db_url):
    outcome = inspections.add(AF1, "fake", "한국소비자검사원", order_ref="TB-77", note="로고 위치 불일치",
                              actor="cli:kim")
    assert (outcome.opened, outcome.decided, outcome.case_state, outcome.recalls) == (True, True, "action_taken", 2)
    with transaction() as session:
        case = session.execute(select(IppCase).where(IppCase.number == outcome.case_number)).scalar_one()
        assert (case.source, case.infringement_type) == ("inspection", "counterfeit")
        assert session.get(Listing, AF1).status == "removed"
        assert session.execute(select(func.count(Strike.id)).where(Strike.seller_id == "S-1003")).scalar_one() == 1
        assert session.get(Inspection, outcome.id).case_id == case.id
    detail = ipp.case_detail(outcome.case_number)[1]
    assert [(e.from_state, e.to_state) for e in detail] == [(None, "submitted"), ("submitted", "under_review"),
                                                           ("under_review", "action_taken")]
    assert detail[-1].note == f"한국소비자검사원 테스트 구매 결과 가품(검사 #{outcome.id}), 주문 TB-77: 로고 위치 불일치"
    # A second fake on the removed listing is evidence on the same case: no second strike, no new case.
    again = inspections.add(AF1, "fake", "다른검사기관", actor="cli:kim")
    assert (again.case_number, again.decided, again.recalls) == (outcome.case_number, False, 0)
    with transaction() as session:
        assert session.execute(select(func.count(Strike.id)).where(Strike.seller_id == "S-1003")).scalar_one() == 1
        assert session.execute(select(func.count(IppCase.id)).where(IppCase.listing_id == AF1)).scalar_one() == 1


def test_a_fake_decides_the_open_report_case(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["listing"] == AF1)
    report = reports.file_report("shopper-1", order["number"], "가짜 같아요")
    outcome = inspections.add(AF1, "fake", "한국소비자검사원")
    assert (outcome.case_number, outcome.opened, outcome.decided, outcome.recalls) == (
        report.case_number, False, True, 1)
    assert reports.get_report(report.report_number).verdict == "confirmed_fake"


def test_genuine_is_recorded_on_the_open_case_and_told_to_the_holders(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["listing"] == AF1)
    report = reports.file_report("shopper-1", order["number"], "가짜 같아요")
    outcome = inspections.add(AF1, "genuine", "한국소비자검사원")
    assert (outcome.case_number, outcome.case_state, outcome.decided) == (report.case_number, "submitted", False)
    with transaction() as session:
        event = session.execute(select(CaseEvent).order_by(CaseEvent.id.desc()).limit(1)).scalar_one()
        assert (event.from_state, event.to_state) == ("submitted", "submitted")
        texts = session.execute(select(Notification.text).where(Notification.case_event_id == event.id)).scalars().all()
        assert session.get(Listing, AF1).status == "active"
    assert len(texts) == 1 and f"한국소비자검사원 테스트 구매 결과 정품(검사 #{outcome.id})" in texts[0]  # brand-nike


def test_without_a_case_genuine_stays_on_the_listing(db_url):
    outcome = inspections.add(DUNK, "inconclusive", "한국소비자검사원")
    assert (outcome.case_number, outcome.decided) == (None, False)
    with transaction() as session:
        assert session.execute(select(func.count(IppCase.id)).where(IppCase.listing_id == DUNK)).scalar_one() == 0


@pytest.mark.parametrize("listing, result, agency, message", [
    ("1005000000000000", "fake", "기관", "상품 1005000000000000를 찾을 수 없어요. 상품 번호(1005로 시작하는 16자리)를 확인해 주세요."),
    (AF1, "maybe", "기관", "결과는 fake(가품), genuine(정품), inconclusive(판정 불가) 중 하나로 입력해 주세요."),
    (AF1, "fake", "  ", "검사한 기관 이름을 --by로 알려 주세요. 예: --by \"한국소비자검사원\""),
])
def test_refusals(db_url, listing, result, agency, message):
    with pytest.raises(inspections.InspectionError) as error:
        inspections.add(listing, result, agency)
    assert error.value.message_ko == message


def test_rights_holders_see_their_brands_inspections_only(db_url):
    inspections.add(AF1, "fake", "한국소비자검사원")
    inspections.add(DUNK, "genuine", "브랜드검사랩")
    inspections.add(CHANEL_CARD, "genuine", "한국소비자검사원")
    nike = inspections.brand_inspections([_brand_id("나이키")])
    assert [(r.listing_id, r.result) for r in nike] == [(DUNK, "genuine"), (AF1, "fake")]
    text = say.inspections_text(nike)
    assert text.splitlines()[0] == "최근 테스트 구매 결과 2건이에요(가품 1건)."
    assert "나이키 덩크 로우 레트로 (1005006000131375) — 정품 · 브랜드검사랩" in text
    assert "샤넬" not in text
    assert say.inspections_text([]) == say.NO_INSPECTIONS
    assert say.asks_about_inspections("미스터리 쇼퍼 결과 있어요?")
    assert not say.asks_about_inspections("이번 달 조치 현황 알려주세요")


def test_photos_are_evidence_on_the_case(db_url, tmp_path):
    from io import BytesIO

    from PIL import Image

    from bot.services import photos

    buffer = BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, "PNG")
    accepted = photos.accept_bytes([buffer.getvalue()])
    outcome = inspections.add(AF1, "fake", "한국소비자검사원", photo_shas=accepted.ids)
    assert outcome.photo_count == 1
    with transaction() as session:
        case_id = session.execute(select(IppCase.id).where(IppCase.number == outcome.case_number)).scalar_one()
        assert session.execute(select(CasePhoto.photo_sha256).where(CasePhoto.case_id == case_id)).scalars().all() == accepted.ids


def test_the_plan_is_seeded_weighted_and_skips_recent_inspections(db_url, orders_by_customer, move_clock):
    first = inspections.plan(5, seed=7)
    assert [p.listing_id for p in first] == [p.listing_id for p in inspections.plan(5, seed=7)]
    assert len({p.listing_id for p in first}) == 5
    gentle_monster = inspections.plan(10, brand="젠틀몬스터", seed=1)
    assert sorted(p.listing_id for p in gentle_monster) == [GM_SUNGLASSES, GM_GLASSES]  # only the brand's two
    # A pending shopper report adds 15 to the risk score: the listing weighs 1 + 15 and is drawn more often.
    order = next(o for o in orders_by_customer["shopper-3"] if o["listing"] == GM_SUNGLASSES)
    assert reports.file_report("shopper-3", order["number"], "가짜").status == "granted"
    assert {p.listing_id: p.weight for p in inspections.plan(2, brand="Gentle Monster", seed=1)} == {
        GM_SUNGLASSES: 16.0, GM_GLASSES: 1.0}
    firsts = Counter(inspections.plan(1, brand="Gentle Monster", seed=seed)[0].listing_id for seed in range(400))
    assert 0.88 < firsts[GM_SUNGLASSES] / 400 < 0.99  # 16 / (16 + 1) = 0.94
    inspections.add(GM_GLASSES, "genuine", "브랜드검사랩")
    assert [p.listing_id for p in inspections.plan(5, brand="Gentle Monster", seed=3)] == [GM_SUNGLASSES]
    move_clock(timedelta(days=31))
    assert sorted(p.listing_id for p in inspections.plan(5, brand="Gentle Monster", seed=3)) == [
        GM_SUNGLASSES, GM_GLASSES]


def test_the_weights_are_one_plus_the_risk_score(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["listing"] == AF1)
    reports.file_report("shopper-1", order["number"], "가짜")
    other = next(o for o in orders_by_customer["shopper-5"] if o["listing"] == AF1)
    reports.file_report("shopper-5", other["number"], "가짜")
    with transaction() as session:
        # AF1: two pending reports (+30) at Nike's authorised reseller (-20); the demo's most obvious fake
        # (a 'mirror-grade' title at 23% of Nike's price, a 12-day-old store) scores 85.
        assert inspections.listing_risk_weights(session, [AF1, DUNK, OBVIOUS_FAKE]) == {
            AF1: 11.0, DUNK: 1.0, OBVIOUS_FAKE: 86.0}
