"""The programme's figures in words: the team's report, the public summary for shoppers, a brand's share."""
from __future__ import annotations

from bot.replies.inspections import RESULT_KO
from bot.replies.korean import won


def _hours(value) -> str:
    return "-" if value is None else f"{value:g}시간"


def report_ko(report) -> str:
    """`cleanbot programme report`: every figure, one per line."""
    scope = report.brand or "클린 프로젝트 전체"
    results = ", ".join(f"{RESULT_KO[r]} {n}" for r, n in report.test_buy_results.items()) \
        if report.test_buys else "기록 없음"
    levels = report.strikes_by_level
    return "\n".join([
        f"{scope} · 최근 {report.days}일 ({report.start:%Y-%m-%d} ~ {report.end:%Y-%m-%d})",
        f"삭제된 상품: {report.listings_removed:,}개",
        f"보호한 브랜드: {report.brands_protected:,}곳",
        f"구매자 신고: {report.reports:,}건",
        f"환불: {report.refunds_paid:,}건, {won(report.refunds_krw)}",
        f"신고→환불 중앙값: {_hours(report.median_hours_claim_to_refund)}",
        f"케이스→결정 중앙값: {_hours(report.median_hours_case_to_decision)}",
        f"테스트 구매: {report.test_buys:,}건 ({results})",
        f"제재: 경고 {levels.get('warning', 0)}회, 판매 정지 {levels.get('freeze', 0)}회, "
        f"폐쇄 {levels.get('closure', 0)}회 · 폐쇄된 스토어 {report.stores_closed}곳",
    ])


def public_summary_ko(report) -> str:
    """For shoppers: what the programme is and what it did, figures only (no names)."""
    if report.refunds_paid:
        refunds = (f"구매자 신고 {report.reports:,}건을 받았고, {report.refunds_paid:,}건에 "
                   f"모두 {won(report.refunds_krw)}을 환불해 드렸어요.")
    else:
        refunds = f"구매자 신고는 {report.reports:,}건 받았어요."
    return (
        "클린 프로젝트는 가품을 찾아 내리고, 가품을 산 분께 100% 환불해 드리는 프로그램이에요.\n"
        f"최근 {report.days}일 동안 가품 의심 상품 {report.listings_removed:,}개를 내리고 "
        f"브랜드 {report.brands_protected:,}곳을 보호했어요.\n" + refunds
    )


def brand_share_ko(share, whole) -> str:
    """For a rights holder: the brand's part of the programme's figures."""
    percent = (f" (전체 {whole.listings_removed:,}개 중 {share.listings_removed / whole.listings_removed:.0%})"
               if whole.listings_removed else "")
    return (
        f"최근 {share.days}일 동안 {share.brand} 상품 {share.listings_removed:,}개를 내렸어요{percent}.\n"
        f"{share.brand} 상품의 구매자 신고는 {share.reports:,}건, 환불은 {share.refunds_paid:,}건"
        f"({won(share.refunds_krw)})이에요."
    )
