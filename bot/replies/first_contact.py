"""Korean words for who is talking: the greeting and help for shoppers, verified rights holders and visitors
not yet linked, a brand manager pointed to verification, a person offered only when one can come, and
the second misunderstanding in a row answered with the main tasks as buttons."""
from __future__ import annotations

import re
from typing import Optional

from bot.replies.holder import HOLDER_MENU

SHOPPER_MENU = [
    {"title": "가품 신고하기", "payload": "/report_counterfeit"},
    {"title": "내 주문 보기", "payload": "/list_orders"},
    {"title": "신고 처리 현황", "payload": "/check_report_status"},
]
VISITOR_MENU = [
    {"title": "환불 규정 보기", "payload": "환불 규정 알려줘"},
    {"title": "브랜드 권리자 인증", "payload": "/register_brand_owner"},
    {"title": "가품 신고하기", "payload": "/report_counterfeit"},
]

# "브랜드 담당자인데 …", "저희 상표를 도용한 …": a brand speaking, not a shopper who has not logged in.
BRAND_SPEAKER = re.compile(
    r"브랜드\s*(담당|관계자|측|사|오너|본사|권리자|보호)|권리자|상표권자|저작권자|(저희|우리)\s*(브랜드|상표|회사|제품)|"
    r"법무\s*(팀|담당)|본사\s*(직원|담당)|라이선스\s*(담당|보유)")


def greeting(shopper_name: Optional[str], holder_brands: tuple[str, ...]) -> tuple[str, list[dict]]:
    """The greeting and its buttons for whoever is talking."""
    if holder_brands:
        brands = ", ".join(holder_brands)
        return (f"안녕하세요, {brands} 권리자님. 클린봇이에요.\n케이스 접수와 진행 확인, 브랜드 현황을 도와드려요.",
                list(HOLDER_MENU))
    if shopper_name:
        return (f"안녕하세요, {shopper_name}님. 클린봇이에요.\n가품이 의심되는 상품을 받으셨다면 바로 신고하고 환불받으실 수 있어요.",
                list(SHOPPER_MENU))
    return ("안녕하세요, 클린봇이에요.\n가품 신고와 환불, 브랜드 권리자 인증을 도와드려요. 무엇을 도와드릴까요?",
            list(VISITOR_MENU))


HOLDER_NOT_SHOPPER = (
    "권리자님 계정은 구매 내역이 없어서 구매자 신고는 할 수 없어요.\n"
    "가품을 파는 상품은 '케이스 접수'로 신고해 주세요."
)
BRAND_NOT_VERIFIED = (
    "브랜드 담당자시군요. 가품 판매자 신고(IPP 케이스)는 권리자 인증을 마치면 여기서 바로 하실 수 있어요.\n"
    "브랜드 보호팀에서 받은 8자리 인증 코드가 있으면 아래 버튼을 눌러 주세요."
)
BRAND_NOT_VERIFIED_BUTTONS = [
    {"title": "권리자 인증하기", "payload": "/register_brand_owner"},
    {"title": "인증 절차 알아보기", "payload": "권리자 인증은 어떻게 해요?"},
]


def brand_speaking(text: str) -> bool:
    return bool(BRAND_SPEAKER.search(text or ""))


# ---------------------------------------------------------------- no dead ends

NO_AGENTS = (
    "지금은 상담원 연결을 운영하지 않아서 사람과 바로 이어 드릴 수 없어요. 죄송해요.\n"
    "가품 신고와 환불, 신고 현황, 환불 규정 안내는 제가 지금 바로 도와드릴 수 있어요."
)
COMPLAINT_NO_AGENTS = (
    "불편을 드려 정말 죄송해요. 지금은 상담원을 바로 연결해 드릴 수 없지만, 제가 끝까지 도와드릴게요.\n"
    "아래에서 하시려던 일을 골라 주세요."
)
COMPLAINT_AGAIN = "답답하게 해 드려서 죄송해요.\n하시려는 일을 아래에서 누르시면 바로 그 단계로 안내해 드릴게요."
FAQ_UNSURE_PERSON = "그 질문에는 정확한 답을 드리기 어려워요. 상담원에게 물어보시겠어요?"
FAQ_UNSURE = "그 질문에는 정확한 답을 드리기 어려워요. 죄송해요.\n아래에서 하시려는 일을 고르시거나 조금 다르게 물어봐 주세요."
FALLBACK_AGAIN = "제가 또 이해하지 못했어요. 죄송해요.\n아래에서 하시려는 일을 골라 주세요."


def main_tasks(holder: bool, handoff: bool) -> list[dict]:
    """The main tasks as buttons, with a person only when one can come."""
    buttons = list(HOLDER_MENU if holder else SHOPPER_MENU)
    buttons.append({"title": "환불 규정 보기", "payload": "환불 규정 알려줘"})
    if handoff:
        buttons.append({"title": "상담원 연결", "payload": "/request_human"})
    return buttons

