"""The programme's figures in words."""
from __future__ import annotations

from datetime import datetime

from bot.replies.programme import brand_share_ko, public_summary_ko, report_ko
from bot.services.programme import ProgrammeReport

WHOLE = ProgrammeReport(
    days=60, start=datetime(2026, 10, 3, 9), end=datetime(2026, 12, 2, 9), brand=None, listings_removed=1204,
    brands_protected=37, reports=880, refunds_paid=812, refunds_krw=96_540_000, median_hours_claim_to_refund=0.0,
    median_hours_case_to_decision=26.5, test_buys=9, test_buy_results={"fake": 5, "genuine": 3, "inconclusive": 1},
    strikes_by_level={"warning": 301, "freeze": 64, "closure": 12}, stores_closed=12)
NIKE = ProgrammeReport(days=60, start=WHOLE.start, end=WHOLE.end, brand="Nike", listings_removed=301, reports=120,
                       refunds_paid=100, refunds_krw=12_900_000)


def test_the_public_summary_is_figures_only_in_three_lines():
    assert public_summary_ko(WHOLE) == (
        "클린 프로젝트는 가품을 찾아 내리고, 가품을 산 분께 100% 환불해 드리는 프로그램이에요.\n"
        "최근 60일 동안 가품 의심 상품 1,204개를 내리고 브랜드 37곳을 보호했어요.\n"
        "구매자 신고 880건을 받았고, 812건에 모두 96,540,000원을 환불해 드렸어요.")


def test_a_brand_s_share():
    assert brand_share_ko(NIKE, WHOLE) == (
        "최근 60일 동안 Nike 상품 301개를 내렸어요 (전체 1,204개 중 25%).\n"
        "Nike 상품의 구매자 신고는 120건, 환불은 100건(12,900,000원)이에요.")


def test_the_team_s_report():
    assert report_ko(WHOLE).splitlines() == [
        "클린 프로젝트 전체 · 최근 60일 (2026-10-03 ~ 2026-12-02)",
        "삭제된 상품: 1,204개",
        "보호한 브랜드: 37곳",
        "구매자 신고: 880건",
        "환불: 812건, 96,540,000원",
        "신고→환불 중앙값: 0시간",
        "케이스→결정 중앙값: 26.5시간",
        "테스트 구매: 9건 (가품 5, 정품 3, 판정 불가 1)",
        "제재: 경고 301회, 판매 정지 64회, 폐쇄 12회 · 폐쇄된 스토어 12곳",
    ]
