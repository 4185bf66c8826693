"""The review queue in words, for the team (`cleanbot review queue` and /queue in the agents' group)."""
from __future__ import annotations

from bot.services.cases import STATE_KO
from bot.services.ipp import SOURCE_KO
QUEUE_EMPTY_KO = "검토할 케이스가 없어요. 새 신고나 위험 탐지가 들어오면 여기에 보여요."


def queue_line(rank: int, item) -> str:
    """Two lines per open case: where it stands, and why it is risky (each signal with its points)."""
    extra = []
    if item.pending_reports:
        extra.append(f"신고 {item.pending_reports}건")
    if item.held_refunds:
        extra.append(f"보류 환불 {item.held_refunds}건")
    tail = f" · {' · '.join(extra)}" if extra else ""
    return (f"{rank}. [{item.score}점] {item.case_number} {STATE_KO[item.state]} · "
            f"{SOURCE_KO.get(item.source, item.source)}{tail}\n"
            f"   {item.listing_id} {item.title} ({item.brand}, {item.seller_id})\n"
            f"   {item.reasons}")


def queue_ko(items, heading: str = "") -> str:
    if not items:
        return QUEUE_EMPTY_KO
    lines = [heading] if heading else []
    lines += [queue_line(rank, item) for rank, item in enumerate(items, 1)]
    return "\n".join(lines)


def desk_queue_ko(items, total: int) -> str:
    """/queue: the first ten by risk, and how many more there are."""
    heading = f"📋 검토 대기 {total}건 중 위험 점수 상위 {len(items)}건이에요."
    text = queue_ko(items, heading)
    if items and total > len(items):
        text += f"\n나머지 {total - len(items)}건은 cleanbot review queue로 볼 수 있어요."
    return text


def screen_run_ko(run) -> str:
    opened = ", ".join(run.opened) if run.opened else "없음"
    return (f"활성 상품 {run.screened}개를 점검했어요. 위험 점수 {run.threshold}점 이상: {run.above}개.\n"
            f"새로 연 케이스: {opened} (상품은 사람이 검토하기 전에는 내리지 않아요.)")


def eval_ko(result) -> str:
    at_threshold = ("-" if result.precision_at_threshold is None else f"{result.precision_at_threshold:.3f}")
    lines = [
        f"라벨이 있는 상품 {result.labelled}개 (가품 {result.fakes}개)",
        f"precision@10: {result.precision_at_10:.3f}",
        f"recall@{result.k}: {result.recall_at_k:.3f}",
        f"임계값 {result.threshold}점 이상 {result.flagged}개: precision {at_threshold}, "
        f"recall {result.recall_at_threshold:.3f}",
        "상위 10개:",
    ]
    lines += [f"  {listing} {score}점 {truth}" for listing, score, truth in result.top]
    return "\n".join(lines)
