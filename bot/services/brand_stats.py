"""Figures for a rights holder's brands over a period, and a PNG chart of them.

* cases by state: cases opened in the period (shopper reports and notices alike), by current state;
* listings removed / reinstated: distinct listings whose case reached action_taken / reinstated in
  the period;
* average days from submission to decision: over cases first decided (action_taken or rejected)
  in the period;
* linked shopper reports: shopper reports filed in the period on the brands' listings.
"""
from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from sqlalchemy import func, select

from bot.db import transaction
from bot.models import CASE_STATES, Brand, CaseEvent, IppCase, Report
from bot.periods import Period
from bot.services.cases import STATE_KO
from bot.settings import get_settings

logger = logging.getLogger(__name__)

DECISIONS = ("action_taken", "rejected")
# Always on the chart (other states only when they have cases).
CHART_STATES = ("submitted", "under_review", "info_requested", "action_taken", "rejected")
CHART_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}\.png$")
CHART_MAX_AGE_SECONDS = 24 * 3600

STATE_EN = {
    "submitted": "Submitted",
    "under_review": "Under review",
    "info_requested": "Info requested",
    "action_taken": "Action taken",
    "rejected": "Rejected",
    "counter_notice": "Counter notice",
    "upheld": "Upheld",
    "reinstated": "Reinstated",
    "withdrawn": "Withdrawn",
    "closed": "Closed",
}


@dataclass(frozen=True)
class BrandStats:
    brands: tuple[str, ...]
    period: Period
    cases_by_state: dict[str, int] = field(default_factory=dict)
    new_cases: int = 0
    holder_cases: int = 0
    listings_removed: int = 0
    listings_reinstated: int = 0
    decisions: int = 0
    avg_days_to_decision: Optional[float] = None
    shopper_reports: int = 0


def compute(brand_ids: Iterable[int], period: Period) -> BrandStats:
    ids = sorted(set(brand_ids))
    with transaction() as session:
        names = tuple(session.execute(select(Brand.name).where(Brand.id.in_(ids)).order_by(Brand.name)).scalars())
        if not ids:
            return BrandStats(names, period)
        in_period = (IppCase.created_at >= period.start, IppCase.created_at < period.end)
        by_state = dict(session.execute(
            select(IppCase.state, func.count(IppCase.id))
            .where(IppCase.brand_id.in_(ids), *in_period).group_by(IppCase.state)
        ).all())
        holder_cases = session.execute(
            select(func.count(IppCase.id)).where(IppCase.brand_id.in_(ids), *in_period,
                                                 IppCase.rights_holder_id.is_not(None))
        ).scalar_one()

        def listings_reaching(state: str) -> int:
            return session.execute(
                select(func.count(func.distinct(IppCase.listing_id)))
                .join(CaseEvent, CaseEvent.case_id == IppCase.id)
                .where(IppCase.brand_id.in_(ids), CaseEvent.to_state == state,
                       CaseEvent.from_state != state, CaseEvent.at >= period.start, CaseEvent.at < period.end)
            ).scalar_one()

        first_decision = (
            select(CaseEvent.case_id, func.min(CaseEvent.at).label("decided"))
            .where(CaseEvent.to_state.in_(DECISIONS))
            .group_by(CaseEvent.case_id)
            .subquery()
        )
        decided = session.execute(
            select(IppCase.created_at, first_decision.c.decided)
            .join(first_decision, first_decision.c.case_id == IppCase.id)
            .where(IppCase.brand_id.in_(ids), first_decision.c.decided >= period.start,
                   first_decision.c.decided < period.end)
        ).all()
        days = [(d - created).total_seconds() / 86400 for created, d in decided]
        reports = session.execute(
            select(func.count(Report.id)).join(IppCase, IppCase.id == Report.case_id)
            .where(IppCase.brand_id.in_(ids), Report.created_at >= period.start, Report.created_at < period.end)
        ).scalar_one()
        return BrandStats(
            brands=names,
            period=period,
            cases_by_state={s: by_state[s] for s in CASE_STATES if by_state.get(s)},
            new_cases=sum(by_state.values()),
            holder_cases=holder_cases,
            listings_removed=listings_reaching("action_taken"),
            listings_reinstated=listings_reaching("reinstated"),
            decisions=len(days),
            avg_days_to_decision=round(sum(days) / len(days), 1) if days else None,
            shopper_reports=reports,
        )


# --------------------------------------------------------------------------- the chart

_HANGUL_FONT_HINTS = ("nanum", "noto sans cjk", "noto serif cjk", "noto sans kr", "malgun", "applegothic",
                      "apple sd gothic", "baekmuk", "un dotum", "undotum", "source han")


def _hangul_font() -> Optional[str]:
    """A font with Hangul, if one is installed (e.g. apt fonts-nanum); else labels are in English."""
    from matplotlib import font_manager

    for font in font_manager.fontManager.ttflist:
        if any(hint in font.name.lower() for hint in _HANGUL_FONT_HINTS):
            return font.name
    return None


def chart_path(name: str) -> Optional[Path]:
    """The file of a chart by its public name, only inside chart_dir and only safe names; else None."""
    if not name or not CHART_NAME.match(name):
        return None
    directory = get_settings().chart_dir.resolve()
    path = (directory / name).resolve()
    if path.parent != directory or not path.is_file():
        return None
    return path


def _clean_old(directory: Path) -> None:
    cutoff = time.time() - CHART_MAX_AGE_SECONDS
    for old in directory.glob("stats-*.png"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            pass


def render_chart(stats: BrandStats) -> str:
    """Draws the chart into chart_dir and returns its file name (random, so not guessable)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    directory = get_settings().chart_dir
    directory.mkdir(parents=True, exist_ok=True)
    _clean_old(directory)
    font = _hangul_font()
    korean = font is not None
    states = [s for s in CASE_STATES if s in CHART_STATES or stats.cases_by_state.get(s)]
    counts = [stats.cases_by_state.get(s, 0) for s in states]
    labels = [STATE_KO[s] if korean else STATE_EN[s] for s in states]
    if korean:
        outcome_labels = ["새 케이스", "삭제된 상품", "결정", "구매자 신고"]
        titles = ("상태별 케이스", "조치 현황")
        heading = f"{', '.join(stats.brands)} · {stats.period.label}"
    else:
        outcome_labels = ["New cases", "Listings removed", "Decisions", "Shopper reports"]
        titles = ("Cases by state", "Outcomes")
        heading = (f"{', '.join(stats.brands)} · {stats.period.first_day:%Y-%m-%d} - "
                   f"{stats.period.last_day:%Y-%m-%d}")
    outcomes = [stats.new_cases, stats.listings_removed, stats.decisions, stats.shopper_reports]
    rc = {"font.family": font} if korean else {}
    with plt.rc_context(rc):
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4), dpi=100)
        try:
            left.bar(range(len(states)), counts, width=0.6, color="#4C72B0")
            left.set_xticks(range(len(states)))
            left.set_xticklabels(labels, rotation=30, ha="right")
            left.set_title(titles[0])
            right.bar(range(len(outcomes)), outcomes, width=0.6, color=["#4C72B0", "#C44E52", "#55A868", "#8172B2"])
            right.set_xticks(range(len(outcomes)))
            right.set_xticklabels(outcome_labels, rotation=30, ha="right")
            right.set_title(titles[1])
            for axis in (left, right):
                axis.yaxis.get_major_locator().set_params(integer=True)
                axis.set_ylim(bottom=0, top=max(max(counts + outcomes), 1) * 1.2)
            fig.suptitle(heading)
            fig.tight_layout()
            name = f"stats-{secrets.token_hex(12)}.png"
            fig.savefig(directory / name, format="png")
        finally:
            plt.close(fig)
    return name


def chart_url(name: str) -> str:
    """Where the REST channel serves the chart (connectors/rest.py), under settings.public_url."""
    return f"{get_settings().public_url.rstrip('/')}/webhooks/rest/charts/{name}"
