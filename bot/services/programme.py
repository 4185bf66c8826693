"""The programme report: what Project Clean did over the last N days, for the team, the public and each brand.

Definitions (all over the period [now - N days, now)):

* listings removed: distinct listings whose case reached `action_taken` in the period;
* brands protected: distinct brands with at least one such listing;
* reports: shopper reports filed; refunds paid: refunds written (count and 원);
* median hours claim → refund: from a report to its refund, over refunds paid in the period (0 for the
  guarantee's instant refunds);
* median hours case → decision: from a case's opening to its first decision (action_taken or rejected),
  over cases first decided in the period;
* test buys: mystery-shopper inspections recorded in the period, by result;
* strikes by level: strikes given in the period and not withdrawn, by the rung they put the seller on
  (1 warning, 2 freeze, 3 or more store closed), counted over the seller's strikes in force at the time;
  stores closed: sellers closed now whose strike of level 3 came in the period.

With a brand, every figure is that brand's share (its listings, cases, reports and strikes)."""
from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from bot.clock import utcnow
from bot.db import transaction
from bot.models import (INSPECTION_RESULTS, Brand, CaseEvent, Inspection, IppCase, Listing, Refund, Report,
                        Seller, Strike)
from bot.services.brand_stats import DECISIONS
from bot.settings import get_settings

LEVELS = {1: "warning", 2: "freeze", 3: "closure"}


@dataclass(frozen=True)
class ProgrammeReport:
    days: int
    start: datetime
    end: datetime
    brand: Optional[str]  # None: the whole programme
    listings_removed: int = 0
    brands_protected: int = 0
    reports: int = 0
    refunds_paid: int = 0
    refunds_krw: int = 0
    median_hours_claim_to_refund: Optional[float] = None
    median_hours_case_to_decision: Optional[float] = None
    test_buys: int = 0
    test_buy_results: dict[str, int] = field(default_factory=dict)
    strikes_by_level: dict[str, int] = field(default_factory=dict)
    stores_closed: int = 0


def _median_hours(pairs) -> Optional[float]:
    hours = [(later - earlier).total_seconds() / 3600 for earlier, later in pairs]
    return round(statistics.median(hours), 1) if hours else None


def _test_buys(session: Session, start: datetime, end: datetime, brand_id: Optional[int]) -> dict[str, int]:
    """Mystery-shopper inspections recorded in the period, by result."""
    query = (select(Inspection.result, func.count(Inspection.id)).join(Listing, Listing.id == Inspection.listing_id)
             .where(Inspection.created_at >= start, Inspection.created_at < end).group_by(Inspection.result))
    if brand_id is not None:
        query = query.where(Listing.brand_id == brand_id)
    rows = dict(session.execute(query).all())
    return {result: rows.get(result, 0) for result in INSPECTION_RESULTS}


def _strikes(session: Session, start: datetime, end: datetime, brand_id: Optional[int]) -> tuple[dict[str, int], int]:
    given = select(Strike.id, Strike.seller_id, Strike.created_at).join(Listing, Listing.id == Strike.listing_id) \
        .where(Strike.created_at >= start, Strike.created_at < end, Strike.withdrawn_at.is_(None))
    if brand_id is not None:
        given = given.where(Listing.brand_id == brand_id)
    earlier = aliased(Strike)
    levels = {name: 0 for name in LEVELS.values()}
    closed_sellers = set()
    for strike_id, seller_id, created_at in session.execute(given).all():
        # The rung this strike put the seller on: his strikes in force at that moment, this one included.
        rung = session.execute(
            select(func.count(earlier.id)).where(
                earlier.seller_id == seller_id, earlier.withdrawn_at.is_(None),
                earlier.created_at <= created_at, earlier.expires_at > created_at,
                # Two strikes in the same instant: the older id is the lower rung.
                ~and_(earlier.created_at == created_at, earlier.id > strike_id))
        ).scalar_one()
        levels[LEVELS[min(rung, 3)]] += 1
        if rung >= 3:
            closed_sellers.add(seller_id)
    closed = session.execute(
        select(func.count(Seller.id)).where(Seller.id.in_(closed_sellers), Seller.status == "closed")
    ).scalar_one() if closed_sellers else 0
    return levels, closed


def compute(days: Optional[int] = None, brand: Optional[str] = None) -> ProgrammeReport:
    """The report over the last `days` (CLEANBOT_STATS_DEFAULT_DAYS when None); a brand's share if named."""
    days = days or get_settings().stats_default_days
    end = utcnow()
    start = end - timedelta(days=days)
    with transaction() as session:
        brand_id = None
        if brand is not None:
            brand_id = session.execute(select(Brand.id).where(Brand.name == brand)).scalar_one_or_none()
            if brand_id is None:
                raise LookupError(brand)
        cases_filter = [IppCase.brand_id == brand_id] if brand_id is not None else []
        removed = session.execute(
            select(IppCase.listing_id, IppCase.brand_id).join(CaseEvent, CaseEvent.case_id == IppCase.id)
            .where(CaseEvent.to_state == "action_taken", CaseEvent.from_state != "action_taken",
                   CaseEvent.at >= start, CaseEvent.at < end, *cases_filter).distinct()
        ).all()
        reports_q = select(func.count(Report.id)).join(IppCase, IppCase.id == Report.case_id) \
            .where(Report.created_at >= start, Report.created_at < end, *cases_filter)
        refunds = session.execute(
            select(Refund.amount_krw, Report.created_at, Refund.created_at)
            .join(Report, Report.id == Refund.report_id).join(IppCase, IppCase.id == Report.case_id)
            .where(Refund.created_at >= start, Refund.created_at < end, *cases_filter)
        ).all()
        first_decision = (
            select(CaseEvent.case_id, func.min(CaseEvent.at).label("decided"))
            .where(CaseEvent.to_state.in_(DECISIONS)).group_by(CaseEvent.case_id).subquery()
        )
        decided = session.execute(
            select(IppCase.created_at, first_decision.c.decided)
            .join(first_decision, first_decision.c.case_id == IppCase.id)
            .where(first_decision.c.decided >= start, first_decision.c.decided < end, *cases_filter)
        ).all()
        test_buys = _test_buys(session, start, end, brand_id)
        levels, closed = _strikes(session, start, end, brand_id)
        return ProgrammeReport(
            days=days,
            start=start,
            end=end,
            brand=brand,
            listings_removed=len({listing for listing, _ in removed}),
            brands_protected=len({b for _, b in removed}),
            reports=session.execute(reports_q).scalar_one(),
            refunds_paid=len(refunds),
            refunds_krw=sum(amount for amount, _, _ in refunds),
            median_hours_claim_to_refund=_median_hours((claim, paid) for _, claim, paid in refunds),
            median_hours_case_to_decision=_median_hours(decided),
            test_buys=sum(test_buys.values()),
            test_buy_results=test_buys,
            strikes_by_level=levels,
            stores_closed=closed,
        )


# --------------------------------------------------------------------------- the chart


def render_chart(report: ProgrammeReport, path=None) -> str:
    """Draws the report as a PNG (Korean labels where a Hangul font is installed, else English) into
    `path`, or into chart_dir under a random name; returns the file's path."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from bot.services.brand_stats import _hangul_font  # the same font search as the brand report

    font = _hangul_font()
    korean = font is not None
    values = [report.listings_removed, report.brands_protected, report.reports, report.refunds_paid,
              report.test_buys, report.strikes_by_level.get("warning", 0), report.strikes_by_level.get("freeze", 0),
              report.stores_closed]
    hours = [report.median_hours_claim_to_refund or 0.0, report.median_hours_case_to_decision or 0.0]
    scope = report.brand or ("클린 프로젝트" if korean else "Project Clean")
    if korean:
        labels = ["삭제된 상품", "보호한 브랜드", "구매자 신고", "환불", "테스트 구매", "경고", "판매 정지", "스토어 폐쇄"]
        hour_labels = ["신고→환불", "케이스→결정"]
        titles = ("조치 건수", "중앙값(시간)")
        heading = f"{scope} · 최근 {report.days}일"
    else:
        labels = ["Listings removed", "Brands protected", "Reports", "Refunds", "Test buys", "Warnings",
                  "Freezes", "Stores closed"]
        hour_labels = ["Claim to refund", "Case to decision"]
        titles = ("Counts", "Median hours")
        heading = f"{scope} · last {report.days} days"
    if path is None:
        directory = get_settings().chart_dir
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"programme-{secrets.token_hex(12)}.png"
    rc = {"font.family": font} if korean else {}
    with plt.rc_context(rc):
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100, gridspec_kw={"width_ratios": [3, 1]})
        try:
            left.bar(range(len(values)), values, width=0.6, color="#4C72B0")
            left.set_xticks(range(len(values)))
            left.set_xticklabels(labels, rotation=30, ha="right")
            left.set_title(titles[0])
            left.yaxis.get_major_locator().set_params(integer=True)
            left.set_ylim(bottom=0, top=max(max(values), 1) * 1.2)
            right.bar(range(2), hours, width=0.6, color=["#55A868", "#C44E52"])
            right.set_xticks(range(2))
            right.set_xticklabels(hour_labels, rotation=30, ha="right")
            right.set_title(titles[1])
            right.set_ylim(bottom=0, top=max(max(hours), 1) * 1.2)
            fig.suptitle(heading)
            fig.tight_layout()
            fig.savefig(path, format="png")
        finally:
            plt.close(fig)
    return str(path)
