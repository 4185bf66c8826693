"""Orders as the shopper sees them, and whether one can be claimed under the guarantee."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalogue import canonical_brand, load_brands
from bot.clock import utcnow
from bot.db import transaction
from bot.models import Brand, Listing, Order, Refund, Report
from bot.periods import find_period
from bot.settings import get_settings


@dataclass(frozen=True)
class OrderView:
    number: str
    customer_id: str
    product_name: str
    brand: str
    listing_id: str
    amount_krw: int
    paid_at: datetime
    delivered_at: Optional[datetime]
    status: str
    report_number: Optional[str]
    refunded_at: Optional[datetime]


@dataclass(frozen=True)
class Eligibility:
    """`problem` is None when the order can be claimed; otherwise one of
    not_found, not_delivered, window_expired, already_refunded, already_reported (its refund still
    under review), refund_rejected (reported, and an agent turned the refund down: one claim per order)."""

    problem: Optional[str]
    order: Optional[OrderView] = None
    deadline: Optional[datetime] = None
    refund_amount: Optional[int] = None
    refunded_at: Optional[datetime] = None
    report_number: Optional[str] = None


def _view(session: Session, order: Order) -> OrderView:
    report = session.execute(select(Report).where(Report.order_number == order.number)).scalar_one_or_none()
    refund = session.execute(select(Refund).where(Refund.order_number == order.number)).scalar_one_or_none()
    brand = session.get(Brand, session.get(Listing, order.listing_id).brand_id)
    return OrderView(
        number=order.number,
        customer_id=order.customer_id,
        product_name=order.product_name,
        brand=brand.name,
        listing_id=order.listing_id,
        amount_krw=order.amount_krw,
        paid_at=order.paid_at,
        delivered_at=order.delivered_at,
        status=order.status,
        report_number=report.number if report else None,
        refunded_at=refund.created_at if refund else None,
    )


def eligibility_in(session: Session, customer_id: Optional[str], order_number: str,
                   now: Optional[datetime] = None) -> Eligibility:
    now = now or utcnow()
    order = session.get(Order, order_number)
    # Someone else's order gets the same answer as a missing one: never reveal it exists.
    if order is None or customer_id is None or order.customer_id != customer_id:
        return Eligibility("not_found")
    view = _view(session, order)
    refund = session.execute(select(Refund).where(Refund.order_number == order_number)).scalar_one_or_none()
    if refund is not None:
        return Eligibility("already_refunded", view, refund_amount=refund.amount_krw, refunded_at=refund.created_at,
                           report_number=view.report_number)
    if view.report_number is not None:
        rejected = session.execute(
            select(Report.refund_status).where(Report.order_number == order_number)).scalar_one() == "rejected"
        return Eligibility("refund_rejected" if rejected else "already_reported", view,
                           report_number=view.report_number)
    if order.status != "delivered" or order.delivered_at is None:
        return Eligibility("not_delivered", view)
    deadline = order.delivered_at + timedelta(days=get_settings().refund_window_days)
    if now > deadline:
        return Eligibility("window_expired", view, deadline=deadline)
    return Eligibility(None, view, deadline=deadline)


def check_order(customer_id: Optional[str], order_number: str) -> Eligibility:
    with transaction() as session:
        return eligibility_in(session, customer_id, order_number)


def recent_orders(customer_id: str, limit: int = 10) -> list[OrderView]:
    with transaction() as session:
        orders = session.execute(
            select(Order).where(Order.customer_id == customer_id).order_by(Order.paid_at.desc()).limit(limit)
        ).scalars()
        return [_view(session, o) for o in orders]


def all_orders(customer_id: Optional[str] = None) -> list[OrderView]:
    with transaction() as session:
        query = select(Order).order_by(Order.customer_id, Order.paid_at.desc())
        if customer_id:
            query = query.where(Order.customer_id == customer_id)
        return [_view(session, o) for o in session.execute(query).scalars()]


def get_order(order_number: str) -> Optional[OrderView]:
    with transaction() as session:
        order = session.get(Order, order_number)
        return _view(session, order) if order else None


# ---------------------------------------------------------------- which order the shopper means

PRODUCT_WORDS_FILE = Path(__file__).resolve().parent.parent / "knowledge" / "product_words.yml"
_ORDINALS = {"첫": 1, "한": 1, "두": 2, "둘": 2, "세": 3, "셋": 3, "네": 4, "넷": 4, "다섯": 5, "여섯": 6,
             "일곱": 7, "여덟": 8, "아홉": 9, "열": 10}
_POSITION = re.compile(r"(?<![\d-])(\d{1,2})\s*번(?!호)|(첫|한|두|둘|세|셋|네|넷|다섯|여섯|일곱|여덟|아홉|열)\s*(?:번\s*)?째")
_LAST = re.compile(r"마지막|맨\s*(?:아래|밑|끝)|제일\s*아래")
_FIRST = re.compile(r"맨\s*(?:위|처음|앞)|제일\s*위")
_PRICE = re.compile(r"(\d[\d,]*)\s*(만|천)?\s*(?:(\d)\s*천)?\s*(원|짜리)\s*(대)?")
_BOUGHT = re.compile(r"산\s*(거|것|건|게|물건)|샀|구매|주문한|결제")
_RECEIVED = re.compile(r"받은|받았|배송|도착")
_WORD = re.compile(r"[가-힣]+|[a-z]+|\d+[a-z]*")
_PARTICLES = ("이요", "으로", "이랑", "요", "이", "가", "을", "를", "은", "는", "로", "도", "랑", "꺼", "거", "것")
# Words of a request that never name a product, kept out of the tolerant match.
_STOP = frozenset("신고 신고할게 주문 환불 가품 짝퉁 가짜 정품 이거 그거 저거 말고 아니 아니고 잠깐 잠깐만 제가 내가 "
                  "할게 해줘 해주세요 번째 산거 받은 샀던 구매 상품 제품 물건 로고 박음질 냄새 포장 "
                  "마감 각인 시리얼".split())
# A date phrase counts only where a word starts with it: "포장이 달라요" holds 이달 (this month) but names none.
_PERIOD_STARTS = ("오늘", "어제", "그제", "그저께", "이번", "지난", "저번", "최근", "올해", "작년", "금년", "이달",
                  "금주", "전주", "전월", "today", "yesterday", "last", "this")
SIMILAR = 0.8  # jamo-level similarity that counts as a misspelling of a product word


@dataclass(frozen=True)
class OrderReference:
    """What a message said about an order: `referenced` is False when it named none at all;
    `matches` the orders it fits (one: confirm it; several: choose; none: say so and list)."""

    referenced: bool
    matches: tuple[OrderView, ...] = ()
    how: str = ""  # position, name, date, price (the ways combined with "+")
    position: Optional[int] = None


@lru_cache(maxsize=2)
def _categories(path: Path = PRODUCT_WORDS_FILE) -> tuple[tuple[frozenset[str], tuple[str, ...]], ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple((frozenset(c["words"]), tuple(c["markers"])) for c in data["categories"])


def jamo(text: str) -> str:
    """Hangul syllables split into their letters, so 에어포쓰 and 에어포스 differ in one letter, not one syllable."""
    out = []
    for char in text:
        code = ord(char) - 0xAC00
        if 0 <= code <= 11171:
            out += [chr(0x1100 + code // 588), chr(0x1161 + code % 588 // 28)]
            if code % 28:
                out.append(chr(0x11A7 + code % 28))
        else:
            out.append(char)
    return "".join(out)


def _compact(text: str) -> str:
    return re.sub(r"[\s'’\-]", "", text.lower())


def _strip_particle(word: str) -> str:
    for particle in _PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


def _like(word: str, product: str) -> bool:
    """`word` is in the product's name, or a misspelling of a same-length part of it."""
    if word in product:
        return True
    if len(word) < 2 or not re.fullmatch(r"[가-힣]+", word):
        return False
    letters = jamo(word)
    return any(SequenceMatcher(None, letters, jamo(product[i:i + len(word)])).ratio() >= SIMILAR
               for i in range(0, max(len(product) - len(word), 0) + 1))


def _word_hits(word: str, candidates: Sequence[OrderView]) -> Optional[set[str]]:
    """Order numbers a word of the message points to, or None when the word names no product at all."""
    brand = canonical_brand(word)
    if brand is not None:
        return {o.number for o in candidates if o.brand == brand}
    for words, markers in _categories():
        if word in words:
            return {o.number for o in candidates if any(m in _compact(o.product_name) for m in markers)}
    if len(word) < 2 or word in _STOP or word.isdigit():
        return None
    hits = {o.number for o in candidates if _like(word, _compact(o.product_name))}
    return hits or None


def _position(text: str) -> Optional[int]:
    """1-based position in the list just shown ("2번", "두 번째"), -1 for the last one, None for none."""
    if _LAST.search(text):
        return -1
    if _FIRST.search(text):
        return 1
    match = _POSITION.search(text)
    if match is None:
        return None
    return int(match.group(1)) if match.group(1) else _ORDINALS[match.group(2)]


def _price_range(text: str) -> Optional[tuple[int, int]]:
    """Amounts a price names, inclusive: "12만 9천원" ±5%, "10만원대" 100,000-199,999."""
    match = _PRICE.search(text)
    if match is None:
        return None
    amount = int(match.group(1).replace(",", "")) * {"만": 10_000, "천": 1_000}.get(match.group(2) or "", 1)
    amount += int(match.group(3) or 0) * 1_000
    if amount < 1_000:
        return None
    if match.group(5):
        unit = 10 ** (len(str(amount)) - len(str(amount).rstrip("0")))  # 12만원대: 120,000-129,999
        return amount, amount + unit - 1
    return int(amount * 0.95), int(amount * 1.05)


def match_order_reference(text: str, candidates: Sequence[OrderView], shown: Sequence[str] = (),
                          now: Optional[datetime] = None) -> OrderReference:
    """Which of `candidates` (the shopper's orders, newest first) `text` means: by its position in the
    list just shown (`shown`, order numbers in display order; the candidates' order without one), by
    brand, product or kind of product (misspellings tolerated), by when it was bought or delivered,
    by price. Pure: the caller loads the orders."""
    lowered = (text or "").lower()
    position = _position(lowered)
    if position is not None:
        listed = [n for n in shown] or [o.number for o in candidates]
        by_number = {o.number: o for o in candidates}
        index = len(listed) - 1 if position == -1 else position - 1
        if 0 <= index < len(listed) and listed[index] in by_number:
            return OrderReference(True, (by_number[listed[index]],), "position", position)
        return OrderReference(True, (), "position", position)
    keep = {o.number for o in candidates}
    ways = []
    words = [_strip_particle(w) for w in _WORD.findall(lowered)]
    # Brands written in two words ("루이 비통") are one word here.
    compact = _compact(lowered)
    for name, synonyms in load_brands():
        if any(len(s) > 2 and " " in s and _compact(s) in compact for s in synonyms):
            words.append(name.lower())
    for word in dict.fromkeys(words):
        hits = _word_hits(word, candidates)
        if hits is not None:
            keep &= hits
            if "name" not in ways:
                ways.append("name")
    tokens = lowered.split()
    period = next((found for i, token in enumerate(tokens) if token.startswith(_PERIOD_STARTS)
                   for found in [find_period(" ".join(tokens[i:i + 3]), now)] if found is not None), None)
    if period is not None:
        ways.append("date")
        # "산 거" is when it was paid, "받은 거" when it arrived; without either, any of the two.
        bought, received = bool(_BOUGHT.search(lowered)), bool(_RECEIVED.search(lowered))
        keep &= {o.number for o in candidates
                 if any(t is not None and period.start <= t < period.end
                        for t in ((o.paid_at,) if bought and not received else (o.delivered_at,)
                                  if received and not bought else (o.paid_at, o.delivered_at)))}
    prices = _price_range(lowered)
    if prices is not None:
        ways.append("price")
        keep &= {o.number for o in candidates if prices[0] <= o.amount_krw <= prices[1]}
    if not ways:
        return OrderReference(False)
    return OrderReference(True, tuple(o for o in candidates if o.number in keep), "+".join(ways))


def resolve_order_reference(customer_id: Optional[str], text: str, shown: Sequence[str] = (),
                            now: Optional[datetime] = None) -> OrderReference:
    """The shopper's orders `text` refers to ("2번", "에어포스", "지난주에 산 거", "13만원짜리")."""
    if not customer_id:
        return OrderReference(False)
    return match_order_reference(text, recent_orders(customer_id, limit=50), shown, now)
