"""`cleanbot review queue|screen` and `cleanbot eval screening` (bot/services/screening.py)."""
from __future__ import annotations

from bot.cli.common import emit


def cmd_queue(args) -> int:
    from bot.replies.screening import queue_ko
    from bot.services import screening

    items = screening.review_queue(limit=args.limit)
    emit(args, items, queue_ko)
    return 0


def cmd_screen(args) -> int:
    from bot.replies.screening import screen_run_ko
    from bot.services import screening

    emit(args, screening.screen(actor=args.actor), screen_run_ko)
    return 0


def cmd_eval_screening(args) -> int:
    from bot.replies.screening import eval_ko
    from bot.services import screening

    emit(args, screening.evaluate(k=args.k), eval_ko)
    return 0


def register(sub, add) -> None:
    review = sub.add_parser("review", help="검토 대기열과 위험 탐지").add_subparsers(
        dest="review_command", required=True)
    p = add(review, "queue", cmd_queue, "진행 중인 케이스와 신고, 위험 점수 높은 순 (점수의 근거와 함께)")
    p.add_argument("--limit", type=int, default=None, help="위에서부터 이만큼만")
    p = add(review, "screen", cmd_screen,
            "모든 활성 상품의 위험 점수를 매기고 CLEANBOT_SCREENING_THRESHOLD 이상이면 팀 검토 케이스를 열기 (삭제는 하지 않음)")
    p.add_argument("--actor", default="screening")


def register_eval(ev, add) -> None:
    """`eval screening`, under the `eval` group bot.cli.nlu makes."""
    p = add(ev, "screening", cmd_eval_screening, "위험 점수 순위의 precision@10, recall@k (라벨이 있는 데모 상품)")
    p.add_argument("--k", type=int, default=20, help="recall@k의 k (기본 20)")
