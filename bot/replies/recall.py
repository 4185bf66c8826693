"""The recall notice: what the buyer bought, that the listing was removed as counterfeit, and a one-tap
refund. Written into the outbox by bot.services.recalls, so it imports nothing from bot.services."""
from __future__ import annotations

from datetime import datetime

from bot.clock import to_local
from bot.replies.korean import korean_date, won

REFUND_BUTTON = "환불받기"
# The report's description when the buyer claims from the notice (none is asked for).
CLAIM_DESCRIPTION = "리콜 안내의 '환불받기'로 신청했어요."


def claim_payload(order_number: str) -> str:
    return f'/claim_recall{{"order_number":"{order_number}"}}'


def notice_text(orders: list[tuple[str, str, int, datetime, datetime]]) -> str:
    """orders: (order number, product name, amount, delivered at, refund deadline) of one buyer."""
    lines = ["[리콜 안내] 구매하신 상품의 판매 페이지가 가품으로 확인되어 삭제됐어요."]
    for number, product, amount, delivered_at, _deadline in orders:
        lines.append(f"· {product} · {won(amount)} · {korean_date(to_local(delivered_at))} 배송 · 주문번호 {number}")
    deadline = min(o[4] for o in orders)
    lines.append(f"100% 환불 보장에 따라 결제 금액을 돌려드려요. 설명이나 사진 없이 아래 '{REFUND_BUTTON}'만 눌러 주세요"
                 f"({korean_date(to_local(deadline))}까지).")
    return "\n".join(lines)


def notice_buttons(orders: list[tuple[str, str, int, datetime, datetime]]) -> list[dict]:
    if len(orders) == 1:
        return [{"title": REFUND_BUTTON, "payload": claim_payload(orders[0][0])}]
    return [{"title": f"{REFUND_BUTTON}: {o[1]} (주문 끝자리 {o[0][-4:]})", "payload": claim_payload(o[0])}
            for o in orders]
