"""Screening: an explainable risk score per listing, the review queue, and cases opened for the team.

The score is a sum of points, 0 to 100, from signals the programme already has; every signal that
counts is kept with its points and a Korean reason, so the team sees why a listing is where it is:

* shopper reports: +15 per report still pending on the listing (at most 45); -30 once a review of the
  listing found it genuine (a report's verdict `genuine`);
* price against the brand's reference price: +35 at or below 30%, +20 at or below 50%, +10 at or below 70%;
* the seller's strikes in force: +15 each (at most 30);
* the seller's age on the marketplace: +15 under 30 days, +8 under 90 days;
* the seller's verification level (when the schema has it): -5 business registration verified, -20
  authorised reseller of the listing's brand (unverified, the default, adds nothing: it is the baseline);
* the same photo (perceptual hash within SAME_PHOTO_DISTANCE bits) on a listing of another seller: +15,
  or +30 when that listing was removed;
* title terms sellers of fakes use (레플리카, 미러급, 정품급, SA급, …): +35, matched on Kiwi morphemes so
  spacing and endings do not hide them ("미러 급이에요") and a negation does not trigger them ("짝퉁 아님").

A listing at or above CLEANBOT_SCREENING_THRESHOLD gets a case (source `screening`) for the team to
review; the screening never removes anything: only a person's decision on the case does. The truth labels
of the demo listings are read by `evaluate` only."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.db import transaction
from bot.models import (OPEN_CASE_STATES, Brand, IppCase, Listing, Refund, Report, Seller,
                        SellerBrandAuthorisation, Strike)
from bot.photos import phash_distance
from bot.services import cases
from bot.services.reports import SAME_PHOTO_DISTANCE
from bot.settings import get_settings

SCREENING_ACTOR = "screening"

# Points per signal (module docstring and docs/screening.md explain each).
WEIGHTS = {
    "report_pending": 15,
    "report_pending_max": 45,
    "found_genuine": -30,
    "price_30": 35,
    "price_50": 20,
    "price_70": 10,
    "strike": 15,
    "strike_max": 30,
    "seller_under_30_days": 15,
    "seller_under_90_days": 8,
    "business_verified": -5,
    "authorised_reseller": -20,
    "photo_shared": 15,
    "photo_of_removed": 30,
    "title_terms": 35,
}

# What sellers of fakes write in titles; matched as Kiwi morpheme sequences (see title_terms).
FAKE_TERMS = ("레플리카", "레플", "미러급", "정품급", "SA급", "S급", "A급", "이미테이션", "짝퉁", "1:1")


@dataclass(frozen=True)
class Signal:
    name: str  # a WEIGHTS key
    points: int
    reason: str  # for the team, in Korean


@dataclass(frozen=True)
class RiskScore:
    listing_id: str
    score: int  # 0 … 100
    signals: tuple[Signal, ...]

    @property
    def reasons(self) -> str:
        return " · ".join(f"{s.reason} ({s.points:+d})" for s in self.signals) or "위험 신호 없음"


# ---------------------------------------------------------------- title terms

_kiwi = None
_kiwi_lock = threading.Lock()


def _morphemes(text_: str) -> list[tuple[str, str]]:
    """(form, tag) of each Kiwi morpheme, forms case-folded (SA급 and sa급 are the same)."""
    global _kiwi
    with _kiwi_lock:
        if _kiwi is None:
            from kiwipiepy import Kiwi

            _kiwi = Kiwi()
        tokens = _kiwi.tokenize(text_)
    return [(t.form.casefold(), t.tag) for t in tokens]


# Longest first, so 레플리카 is reported rather than 레플 where both fit.
_TERM_KEYS = sorted(((t, "".join(t.split()).casefold()) for t in FAKE_TERMS), key=lambda t: -len(t[1]))


def _negated(morphemes: list[tuple[str, str]], after: int) -> bool:
    """'짝퉁 아님', '짝퉁 아니에요', '짝퉁이 아닙니다': the next morpheme past particles is the negative copula."""
    for form, tag in morphemes[after:]:
        if tag.startswith("J"):
            continue
        return tag == "VCN" or form == "아님"
    return False


def _match_at(forms: list[str], i: int, key: str) -> int:
    """How many morphemes from i spell the term (Kiwi splits 정품급 as 정품+급 or keeps it whole, and
    spaces and endings are never part of a morpheme); a noun that starts with it (레플리카급) counts; 0: no."""
    if forms[i].startswith(key):
        return 1
    joined = ""
    for j in range(i, len(forms)):
        joined += forms[j]
        if joined == key:
            return j - i + 1
        if not key.startswith(joined):
            return 0
    return 0


def title_terms(title: str) -> list[str]:
    """The fake-seller terms in a title, each once, in FAKE_TERMS spelling; a negated one does not count."""
    morphemes = _morphemes(title)
    forms = [f for f, _ in morphemes]
    found: list[str] = []
    for i in range(len(forms)):
        for term, key in _TERM_KEYS:
            n = _match_at(forms, i, key)
            if n:
                if term not in found and not _negated(morphemes, i + n):
                    found.append(term)
                break
    return found


# ---------------------------------------------------------------- the score


def _price_signal(listing: Listing, brand: str) -> Optional[Signal]:
    if not listing.reference_price_krw:
        return None
    ratio = listing.price_krw / listing.reference_price_krw
    for limit, name in ((0.3, "price_30"), (0.5, "price_50"), (0.7, "price_70")):
        if ratio <= limit:
            return Signal(name, WEIGHTS[name], f"{brand} 기준가의 {ratio:.0%} 가격")
    return None


def _age_signal(seller: Seller, now: datetime) -> Optional[Signal]:
    if seller.created_at is None:
        return None
    days = (now - seller.created_at).days
    if days < 30:
        return Signal("seller_under_30_days", WEIGHTS["seller_under_30_days"], f"개설 {days}일 된 판매자")
    if days < 90:
        return Signal("seller_under_90_days", WEIGHTS["seller_under_90_days"], f"개설 {days}일 된 판매자")
    return None


def assess(session: Session, listing_ids: Iterable[str]) -> dict[str, RiskScore]:
    """The risk score of each listing (unknown ids are left out), with its signals."""
    ids = sorted({str(i) for i in listing_ids})
    if not ids:
        return {}
    now = utcnow()
    rows = session.execute(
        select(Listing, Seller, Brand.name).join(Seller, Seller.id == Listing.seller_id)
        .join(Brand, Brand.id == Listing.brand_id).where(Listing.id.in_(ids))
    ).all()
    verdicts: dict[str, dict[str, int]] = {}
    for listing_id, verdict, count in session.execute(
        select(IppCase.listing_id, Report.verdict, func.count(Report.id))
        .join(IppCase, IppCase.id == Report.case_id).where(IppCase.listing_id.in_(ids))
        .group_by(IppCase.listing_id, Report.verdict)
    ):
        verdicts.setdefault(listing_id, {})[verdict] = count
    seller_ids = {seller.id for _, seller, _ in rows}
    strikes = dict(session.execute(
        select(Strike.seller_id, func.count(Strike.id))
        .where(Strike.seller_id.in_(seller_ids), Strike.withdrawn_at.is_(None), Strike.expires_at > now)
        .group_by(Strike.seller_id)
    ).all())
    # Every listing with a photo hash, to find the same photo at another seller (any status: a removed
    # fake's photo on a new listing is the strongest form of the signal).
    photos = session.execute(
        select(Listing.id, Listing.seller_id, Listing.photo_phash, Listing.status)
        .where(Listing.photo_phash.is_not(None))
    ).all()
    levels: dict[str, str] = dict(session.execute(
        select(Seller.id, Seller.verification_level).where(Seller.id.in_(sorted(seller_ids)))
    ).all())
    authorised: set[tuple[str, int]] = {
        (s, b) for s, b in session.execute(
            select(SellerBrandAuthorisation.seller_id, SellerBrandAuthorisation.brand_id)
            .where(SellerBrandAuthorisation.seller_id.in_(sorted(seller_ids))))
    }
    scores: dict[str, RiskScore] = {}
    for listing, seller, brand in rows:
        signals: list[Signal] = []
        counted = verdicts.get(listing.id, {})
        pending = counted.get("pending", 0)
        if pending:
            points = min(pending * WEIGHTS["report_pending"], WEIGHTS["report_pending_max"])
            signals.append(Signal("report_pending", points, f"검토 대기 중인 구매자 신고 {pending}건"))
        if counted.get("genuine"):
            signals.append(Signal("found_genuine", WEIGHTS["found_genuine"], "이전 검토에서 정품으로 판정"))
        price = _price_signal(listing, brand)
        if price:
            signals.append(price)
        in_force = strikes.get(seller.id, 0)
        if in_force:
            points = min(in_force * WEIGHTS["strike"], WEIGHTS["strike_max"])
            signals.append(Signal("strike", points, f"판매자 유효 경고 {in_force}회"))
        age = _age_signal(seller, now)
        if age:
            signals.append(age)
        level = levels.get(seller.id)
        if level == "authorised_reseller" and (seller.id, listing.brand_id) in authorised:
            signals.append(Signal("authorised_reseller", WEIGHTS["authorised_reseller"], f"{brand} 공식 인증 판매자"))
        elif level in ("business_verified", "authorised_reseller"):
            # An authorised reseller of another brand is at least a verified business.
            signals.append(Signal("business_verified", WEIGHTS["business_verified"], "사업자 인증 판매자"))
        if listing.photo_phash:
            same = [(other_id, status) for other_id, other_seller, other_hash, status in photos
                    if other_seller != seller.id and other_id != listing.id
                    and phash_distance(listing.photo_phash, other_hash) <= SAME_PHOTO_DISTANCE]
            if any(status == "removed" for _, status in same):
                signals.append(Signal("photo_of_removed", WEIGHTS["photo_of_removed"], "삭제된 상품과 같은 사진"))
            elif same:
                signals.append(Signal("photo_shared", WEIGHTS["photo_shared"],
                                      f"다른 판매자 상품 {len(same)}개와 같은 사진"))
        terms = title_terms(listing.title)
        if terms:
            signals.append(Signal("title_terms", WEIGHTS["title_terms"], f"제목에 '{', '.join(terms)}'"))
        total = max(0, min(100, sum(s.points for s in signals)))
        scores[listing.id] = RiskScore(listing.id, total, tuple(signals))
    return scores


def risk_scores(session: Session, listing_ids: Iterable[str]) -> dict[str, float]:
    """Just the scores (0 … 100), e.g. to weight the inspection planner's sample by risk."""
    return {listing_id: float(r.score) for listing_id, r in assess(session, listing_ids).items()}


# ---------------------------------------------------------------- cases for the team


@dataclass(frozen=True)
class ScreeningRun:
    screened: int
    threshold: int
    opened: tuple[str, ...]  # case numbers opened by this run
    above: int  # listings at or above the threshold (with a case opened now or before)


def screen(actor: str = SCREENING_ACTOR) -> ScreeningRun:
    """Scores every active listing and opens a case (source `screening`) for each at or above the threshold
    that has no open case and never had a screening case (a person already looked at it). Idempotent: the
    open-case-per-listing index turns a concurrent run's second case into a skip."""
    threshold = get_settings().screening_threshold
    opened: list[str] = []
    with transaction() as session:
        active = session.execute(select(Listing.id).where(Listing.status == "active")).scalars().all()
        scores = assess(session, active)
        above = sorted((r for r in scores.values() if r.score >= threshold), key=lambda r: (-r.score, r.listing_id))
        screened_before = set(session.execute(
            select(IppCase.listing_id).where(IppCase.source == "screening")).scalars())
        for risk in above:
            if risk.listing_id in screened_before or cases.find_open_case(session, risk.listing_id):
                continue
            listing = session.get(Listing, risk.listing_id)
            try:
                with session.begin_nested():
                    case = cases.open_case(session, listing=listing, source="screening", actor=actor,
                                           note=f"위험 점수 {risk.score}점: {risk.reasons}")
            except IntegrityError:
                continue  # another run opened it first
            opened.append(case.number)
    return ScreeningRun(len(active), threshold, tuple(opened), len(above))


# ---------------------------------------------------------------- the review queue


@dataclass(frozen=True)
class QueueItem:
    case_number: str
    state: str
    source: str
    listing_id: str
    title: str
    brand: str
    seller_id: str
    score: int
    reasons: str
    signals: tuple[Signal, ...]
    pending_reports: int
    held_refunds: int
    opened_at: datetime


def review_queue(limit: Optional[int] = None) -> list[QueueItem]:
    """Open cases, and decided ones with a refund still held for an agent, with the shopper reports on them,
    by risk, highest first; oldest first among equals."""
    with transaction() as session:
        held_refund = select(Report.case_id).outerjoin(Refund, Refund.report_id == Report.id) \
            .where(Report.refund_status == "held", Refund.id.is_(None))
        rows = session.execute(
            select(IppCase, Listing, Brand.name).join(Listing, Listing.id == IppCase.listing_id)
            .join(Brand, Brand.id == IppCase.brand_id)
            .where(or_(IppCase.state.in_(OPEN_CASE_STATES), IppCase.id.in_(held_refund)))
        ).all()
        case_ids = [case.id for case, _, _ in rows]
        pending = dict(session.execute(
            select(Report.case_id, func.count(Report.id))
            .where(Report.case_id.in_(case_ids), Report.verdict == "pending").group_by(Report.case_id)
        ).all()) if case_ids else {}
        held = dict(session.execute(
            select(Report.case_id, func.count(Report.id))
            .outerjoin(Refund, Refund.report_id == Report.id)
            .where(Report.case_id.in_(case_ids), Report.refund_status == "held", Refund.id.is_(None))
            .group_by(Report.case_id)
        ).all()) if case_ids else {}
        scores = assess(session, [listing.id for _, listing, _ in rows])
        items = [
            QueueItem(case.number, case.state, case.source, listing.id, listing.title, brand, listing.seller_id,
                      scores[listing.id].score, scores[listing.id].reasons, scores[listing.id].signals,
                      pending.get(case.id, 0), held.get(case.id, 0), case.created_at)
            for case, listing, brand in rows
        ]
    items.sort(key=lambda i: (-i.score, i.opened_at, i.case_number))
    return items[:limit] if limit else items


# ---------------------------------------------------------------- evaluation on the labelled demo listings


@dataclass(frozen=True)
class ScreeningEval:
    labelled: int
    fakes: int
    k: int
    precision_at_10: float
    recall_at_k: float
    threshold: int
    flagged: int  # at or above the threshold
    precision_at_threshold: Optional[float]
    recall_at_threshold: float
    top: tuple[tuple[str, int, str], ...]  # (listing, score, truth) of the first ten


def evaluate(k: int = 20) -> ScreeningEval:
    """precision@10 and recall@k of the ranking by score over the listings with a truth label."""
    threshold = get_settings().screening_threshold
    with transaction() as session:
        truth = dict(session.execute(
            select(Listing.id, Listing.truth_label).where(Listing.truth_label.is_not(None))).all())
        scores = assess(session, truth)
    ranked = sorted(scores.values(), key=lambda r: (-r.score, r.listing_id))
    fakes = sum(1 for label in truth.values() if label == "fake")

    def fakes_in(items) -> int:
        return sum(1 for r in items if truth[r.listing_id] == "fake")

    top10 = ranked[:10]
    flagged = [r for r in ranked if r.score >= threshold]
    return ScreeningEval(
        labelled=len(truth),
        fakes=fakes,
        k=k,
        precision_at_10=round(fakes_in(top10) / len(top10), 3) if top10 else 0.0,
        recall_at_k=round(fakes_in(ranked[:k]) / fakes, 3) if fakes else 0.0,
        threshold=threshold,
        flagged=len(flagged),
        precision_at_threshold=round(fakes_in(flagged) / len(flagged), 3) if flagged else None,
        recall_at_threshold=round(fakes_in(flagged) / fakes, 3) if fakes else 0.0,
        top=tuple((r.listing_id, r.score, truth[r.listing_id]) for r in top10),
    )
