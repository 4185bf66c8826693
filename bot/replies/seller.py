"""What the bot tells a shopper who asks whether a seller or listing can be trusted."""
from __future__ import annotations

from bot.clock import to_local
from bot.replies.korean import korean_date, won
from bot.services.seller_check import REMOVED_WINDOW_DAYS, SellerCheck
from bot.settings import get_settings

LEVEL_KO = {
    "unverified": "미인증 판매자",
    "business_verified": "사업자 인증 판매자",
    "authorised_reseller": "{brand} 공식 인증 판매자",
}

ASK_WHICH = ("어떤 상품의 판매자를 확인해 드릴까요? 상품 번호(1005로 시작하는 16자리)나 상품 주소를 보내 주세요.")
ASK_WHICH_WITH_ORDERS = ASK_WHICH + "\n구매하신 상품이면 아래 주문에서 골라 주셔도 돼요."

LISTING_NOT_FOUND = ("입력하신 번호로 상품을 찾을 수 없어요. 상품 번호는 1005로 시작하는 16자리예요. "
                     "상품 주소를 그대로 붙여 넣으셔도 돼요.")
ORDER_NOT_FOUND = ("입력하신 주문번호로 회원님의 주문을 찾을 수 없어요. 주문번호를 확인하시거나, "
                   "상품 번호(1005로 시작하는 16자리)로 물어봐 주세요.")


def _verdict(result: SellerCheck) -> str:
    if result.verdict == "removed":
        return "이 상품은 가품으로 확인돼 판매가 중지됐어요. 구매하지 마세요."
    if result.verdict == "closed":
        return "이 판매자는 제재로 스토어가 폐쇄됐어요. 구매하지 않으시길 권해요."
    if result.verdict == "frozen":
        until = korean_date(to_local(result.frozen_until))
        return f"이 판매자는 제재로 {until}까지 판매가 정지돼 있어요. 구매를 미루시길 권해요."
    if result.verdict == "caution":
        return "최근 제재나 신고 이력이 있는 판매자예요. 구매 전에 가격과 상품 설명을 꼼꼼히 확인해 보세요."
    if result.verdict == "trusted":
        return f"{result.brand} 공식 인증을 받은 판매자이고 제재 이력이 없어요. 안심하고 구매하셔도 돼요."
    if result.verdict == "verified":
        return (f"사업자 인증을 받았고 제재 이력이 없는 판매자예요. 다만 {result.brand} 공식 인증 판매자는 아니에요.")
    return "아직 인증을 받지 않은 판매자예요. 제재 이력은 없지만, 정가보다 지나치게 싼 상품은 조심하세요."


def _what_to_do(result: SellerCheck) -> str:
    days = get_settings().refund_window_days
    if result.order_number and result.can_report:
        return (f"받으신 상품이 가품으로 의심되면 배송일로부터 {days}일 안에 신고해 주세요. "
                "증빙 없이 100% 환불해 드려요.")
    return f"어느 판매자에게 사셨든 가품이 의심되면 배송일로부터 {days}일 안에 신고하시면 증빙 없이 100% 환불해 드려요."


def seller_check(result: SellerCheck) -> str:
    """The answer: the listing, the seller's level and record in figures, the verdict, what to do."""
    if result.problem == "listing_not_found":
        return LISTING_NOT_FOUND
    if result.problem == "order_not_found":
        return ORDER_NOT_FOUND
    level = LEVEL_KO[result.level].format(brand=result.brand)
    return "\n".join([
        f"{result.title} ({result.brand}) · {won(result.price_krw)} · 상품 번호 {result.listing_id}",
        f"판매자 {result.seller_name} · {level}",
        f"유효 제재 {result.strikes_in_force}건 · 최근 {REMOVED_WINDOW_DAYS}일 삭제된 상품 {result.removed_recently}건 · "
        f"이 상품에 진행 중인 신고 {result.open_cases}건",
        _verdict(result),
        _what_to_do(result),
    ])


def report_button(result: SellerCheck) -> list[dict]:
    """A one-tap report of the shopper's own order, when the guarantee still takes it."""
    if not (result.order_number and result.can_report):
        return []
    return [{"title": "가품 신고하기", "payload": f'/report_counterfeit{{"order_number":"{result.order_number}"}}'}]


def order_choice(product_name: str) -> str:
    """The title of a recent-order button when the shopper did not say which listing."""
    return f"{product_name} 판매자 확인"
