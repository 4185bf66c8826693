"""What a shopper reads about a refund's money, for replies and for the services that write notifications
(this module imports no service, so services may use it)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from bot.business_hours import business_days_after
from bot.clock import to_local, utcnow
from bot.replies.korean import day_ko, won
from bot.settings import get_settings


def money_expected_by(granted_at: Optional[datetime] = None) -> str:
    """The last day the money reaches the card or account: one date, never a date and a range besides."""
    settings = get_settings()
    return day_ko(business_days_after(to_local(granted_at or utcnow()), settings.refund_days_to_money))


def held_refund_decided(report_number: str, approved: bool, amount_krw: int, decided_at: datetime,
                        reason: Optional[str] = None) -> str:
    """The message a shopper gets when an agent decides a refund that was held for review."""
    if approved:
        return (f"기다려 주셔서 감사해요. {report_number} 신고의 환불이 승인됐어요.\n"
                f"{won(amount_krw)}을 환불해 드렸고, 결제하신 수단으로 {money_expected_by(decided_at)}까지 들어와요.")
    return (f"기다려 주셔서 감사해요. {report_number} 신고를 검토했지만 이번에는 환불해 드리기 어려워요.\n"
            f"사유: {reason}\n다시 확인이 필요하시면 '상담원 연결'이라고 보내 주세요.")
