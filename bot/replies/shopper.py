"""Korean sentences about the domain, shared by actions, notifications and the command line."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from bot.business_hours import business_days_after
from bot.clock import to_local, utcnow
from bot.replies.korean import josa, korean_date, won
from bot.services.orders import Eligibility, OrderView
from bot.services.reports import ReportOutcome, ReportView
from bot.settings import get_settings

NOT_A_CUSTOMER = {
    "web": "고객 정보를 찾을 수 없어요. 마켓플레이스에 로그인한 상태에서 다시 시도해 주세요.",
    "telegram": (
        "아직 마켓플레이스 계정이 연결되지 않았어요. 마켓플레이스 앱의 [텔레그램 연결] 메뉴에서 받은 링크를 눌러 "
        "계정을 연결한 뒤 다시 말씀해 주세요."
    ),
    "kakao": (
        "아직 마켓플레이스 계정이 연동되지 않았어요. 마켓플레이스 앱의 [카카오톡 연동] 메뉴에서 6자리 번호를 받아 "
        "'연동 123456'처럼 보내 주시면 바로 주문을 찾아 드릴게요."
    ),
}


def order_line(order: OrderView) -> str:
    return f"{order.product_name} ({order.brand}) · {won(order.amount_krw)} · 주문번호 {order.number}"


def delivery_state(order: OrderView) -> str:
    if order.delivered_at is not None and order.status == "delivered":
        return f"{korean_date(to_local(order.delivered_at))} 배송 완료"
    return {"paid": "결제 완료, 배송 준비 중", "shipped": "배송 중"}.get(order.status, "배송 전")


def order_found(order: OrderView) -> str:
    return (
        f"주문을 확인했어요.\n{order.product_name} ({order.brand})\n결제 금액 {won(order.amount_krw)} · "
        f"{delivery_state(order)}"
    )


def eligibility_problem(check: Eligibility) -> str:
    """Why an order cannot be claimed, and what to do instead."""
    settings = get_settings()
    if check.problem == "not_found":
        return (
            "입력하신 주문번호로 회원님의 주문을 찾을 수 없어요. 16자리 주문번호를 다시 확인해 주세요. "
            "'내 주문 보여줘'라고 하시면 최근 주문 목록에서 고르실 수도 있어요."
        )
    order = check.order
    if check.problem == "not_delivered":
        return (
            f"{josa(order.product_name, '은/는')} 아직 배송이 완료되지 않았어요({delivery_state(order)}). "
            "가품 신고와 환불 보장은 상품을 받으신 뒤에 신청할 수 있어요. 배송이 끝나면 다시 말씀해 주세요."
        )
    if check.problem == "window_expired":
        return (
            f"{josa(order.product_name, '은/는')} {korean_date(to_local(order.delivered_at))}에 배송되어 "
            f"환불 보장 기간({settings.refund_window_days}일, {korean_date(to_local(check.deadline))}까지)이 지났어요. "
            "그래도 가품이 의심되시면 '상담원 연결'이라고 말씀해 주세요. 담당자가 확인해 드릴게요."
        )
    if check.problem == "already_refunded":
        return (
            f"이 주문은 이미 환불됐어요. {korean_date(to_local(check.refunded_at))}에 "
            f"{won(check.refund_amount)}을 환불해 드렸어요(신고번호 {check.report_number}). "
            "환불은 주문당 한 번만 가능해요."
        )
    if check.problem == "already_reported":
        return (
            f"이 주문은 이미 신고되어 담당자가 검토하고 있어요(신고번호 {check.report_number}). "
            "결과가 나오면 알려 드릴게요."
        )
    if check.problem == "refund_rejected":
        return (
            f"이 주문은 이미 신고하셨고(신고번호 {check.report_number}), 담당자가 검토한 결과 환불해 드리기 어렵다고 "
            "결정됐어요. 환불은 주문당 한 번만 신청할 수 있어요. 결과에 대해 문의하시려면 '상담원 연결'이라고 말씀해 주세요."
        )
    raise ValueError(check.problem)


def money_expected_by(granted_at: Optional[datetime] = None) -> str:
    settings = get_settings()
    return korean_date(business_days_after(to_local(granted_at or utcnow()), settings.refund_days_to_money))


def report_outcome(outcome: ReportOutcome) -> str:
    settings = get_settings()
    if outcome.status == "granted":
        return (
            f"신고가 접수되었어요. 신고번호는 {josa(outcome.report_number, '이에요/예요')}.\n"
            f"100% 환불 보장에 따라 {won(outcome.amount_krw)}을 환불해 드렸어요. "
            f"결제하신 수단으로 {money_expected_by(outcome.refunded_at)}까지 들어올 거예요 "
            f"(카드 결제는 카드사에 따라 영업일 3~5일 걸릴 수 있어요).\n"
            "상품은 검토가 끝날 때까지 보관해 주세요. 브랜드 보호팀이 판매자를 조사하고 결과를 알려 드릴게요."
        )
    if outcome.status == "held":
        due = korean_date(business_days_after(to_local(utcnow()), settings.review_days))
        return (
            f"신고가 접수되었어요. 신고번호는 {josa(outcome.report_number, '이에요/예요')}.\n"
            f"이번 신고는 담당자가 직접 확인한 뒤 환불해 드려야 하는 경우라서, 환불 금액 {won(outcome.amount_krw)}은 "
            f"검토 후 처리돼요. {due}까지 결과를 알려 드릴게요."
        )
    return eligibility_problem(outcome.eligibility)


REFUND_STATUS_KO = {"granted": "환불 완료", "held": "환불 검토 중", "rejected": "환불 불가"}
VERDICT_KO = {"pending": "판매자 조사 중", "confirmed_fake": "가품 확인 · 상품 삭제", "genuine": "정품 판정"}


def report_summary(report: ReportView) -> str:
    refund = REFUND_STATUS_KO[report.refund_status]
    if report.refund_status == "granted" and report.refunded_at:
        refund += f" ({won(report.refund_amount)}, {korean_date(to_local(report.refunded_at))})"
    return (
        f"{report.number} · {report.product_name}\n"
        f"  접수 {korean_date(to_local(report.created_at))} · {refund} · {VERDICT_KO[report.verdict]}"
    )


def recall_claim_outcome(outcome: ReportOutcome) -> str:
    """The answer to a recall notice's "환불받기" tap."""
    if outcome.status == "granted":
        return (
            f"가품 판매로 불편을 드려 죄송해요. {won(outcome.amount_krw)}을 환불해 드렸어요. "
            f"결제하신 수단으로 {money_expected_by(outcome.refunded_at)}까지 들어올 거예요.\n"
            f"신고번호는 {josa(outcome.report_number, '이에요/예요')}."
        )
    if outcome.status == "not_found":
        return ("이 주문에는 리콜 안내가 없어요. 받으신 상품이 가품으로 의심되면 '가품 신고'라고 말씀해 주세요. "
                "증빙 없이 100% 환불해 드려요.")
    return report_outcome(outcome)
