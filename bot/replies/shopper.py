"""Korean sentences about the domain, shared by actions, notifications and the command line."""
from __future__ import annotations

from typing import Optional

from bot.business_hours import business_days_after
from bot.clock import to_local, utcnow
from bot.replies.korean import day_ko, josa, won
from bot.replies.refund import money_expected_by
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
        return f"{day_ko(to_local(order.delivered_at))} 배송 완료"
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
            f"{josa(order.product_name, '은/는')} {day_ko(to_local(order.delivered_at))}에 배송되어 "
            f"환불 보장 기간({settings.refund_window_days}일, {day_ko(to_local(check.deadline))}까지)이 지났어요. "
            "그래도 가품이 의심되시면 '상담원 연결'이라고 말씀해 주세요. 담당자가 확인해 드릴게요."
        )
    if check.problem == "already_refunded":
        return (
            f"이 주문은 이미 환불됐어요. {day_ko(to_local(check.refunded_at))}에 "
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


def report_outcome(outcome: ReportOutcome) -> str:
    settings = get_settings()
    if outcome.status == "granted":
        return (
            f"신고가 접수되었어요. 신고번호는 {josa(outcome.report_number, '이에요/예요')}.\n"
            f"100% 환불 보장에 따라 {won(outcome.amount_krw)}을 환불해 드렸어요. "
            f"결제하신 수단으로 {money_expected_by(outcome.refunded_at)}까지 들어와요.\n"
            "상품은 검토가 끝날 때까지 보관해 주세요. 브랜드 보호팀이 판매자를 조사하고 결과를 알려 드릴게요."
        )
    if outcome.status == "held":
        due = day_ko(business_days_after(to_local(utcnow()), settings.review_days))
        return (
            f"신고가 접수되었어요. 신고번호는 {josa(outcome.report_number, '이에요/예요')}.\n"
            f"이번 신고는 담당자가 직접 확인한 뒤 환불해 드려야 하는 경우라서, 환불 금액 {won(outcome.amount_krw)}은 "
            f"검토 후 처리돼요. {due}까지 결과를 알려 드릴게요."
        )
    return eligibility_problem(outcome.eligibility)


# "환불 완료" would say the money has arrived; until then the refund is 처리됨 and the date it arrives by.
REFUND_STATUS_KO = {"granted": "환불 처리됨", "held": "환불 검토 중", "rejected": "환불 불가"}
VERDICT_KO = {"pending": "판매자 조사 중", "confirmed_fake": "가품 확인 · 상품 삭제", "genuine": "정품 판정"}


def report_summary(report: ReportView) -> str:
    refund = REFUND_STATUS_KO[report.refund_status]
    if report.refund_status == "granted" and report.refunded_at:
        refund += f" ({won(report.refund_amount)}, 카드사 반영까지 {money_expected_by(report.refunded_at)})"
    return (
        f"{report.number} · {report.product_name}\n"
        f"  접수 {day_ko(to_local(report.created_at))} · {refund} · {VERDICT_KO[report.verdict]}"
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


# ---------------------------------------------------------------- which order: names, list positions

def order_choice(order: OrderView, n: Optional[int] = None) -> str:
    """One line of a list to choose from: '2. 아디다스 가젤 인도어 · 129,000원 · 11월 25일(수) 구매'."""
    head = f"{n}. " if n is not None else ""
    return f"{head}{order.product_name} · {won(order.amount_krw)} · {day_ko(to_local(order.paid_at))} 구매"


def order_button(order: OrderView, n: Optional[int] = None) -> dict:
    head = f"{n}. " if n is not None else ""
    return {"title": f"{head}{order.product_name}", "payload": f'/inform{{"order_number":"{order.number}"}}'}


def confirm_order(order: OrderView) -> str:
    return f"{order.product_name} ({day_ko(to_local(order.paid_at))} 구매, {won(order.amount_krw)}) 주문 말씀이신가요?"


YES_NO_BUTTONS = [{"title": "네, 맞아요", "payload": "/affirm"}, {"title": "아니요", "payload": "/deny"}]
ASK_ORDER = "어떤 주문을 신고하시겠어요?\n아래에서 고르시거나 목록 번호(예: 2번), 상품 이름(예: 에어포스), 주문번호로 말씀해 주세요."
ASK_ORDER_NO_LIST = "어떤 주문을 신고하시겠어요?\n상품 이름(예: 에어포스)이나 16자리 주문번호로 말씀해 주세요."
ORDER_NOT_THAT = "알겠어요. 아래 목록에서 골라 주세요."
NOT_UNDERSTOOD_ORDER = "어떤 주문인지 찾지 못했어요. 상품 이름(예: 에어포스)이나 목록 번호(예: 2번)로 말씀해 주세요."


def several_orders(count: int) -> str:
    return f"말씀하신 것과 맞는 주문이 {count}건 있어요. 어떤 주문인가요?"


def no_order_matched(position: Optional[int], listed: int) -> str:
    if position is not None and listed:
        return f"목록에는 {listed}번까지 있어요. 아래에서 골라 주세요."
    return "말씀하신 주문을 찾지 못했어요. 최근 주문에서 골라 주세요."


CHANGE_WHAT = "무엇을 바꿀까요?"
CHANGE_BUTTONS = [
    {"title": "주문 바꾸기", "payload": '/correct_report{"report_part":"order"}'},
    {"title": "내용 고치기", "payload": '/correct_report{"report_part":"description"}'},
    {"title": "사진 추가", "payload": '/correct_report{"report_part":"photos"}'},
    {"title": "신고 취소", "payload": "/stop"},
]
