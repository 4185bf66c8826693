"""`cleanbot recalls list CASE`: the buyers a case's recall could not reach in chat (no linked channel),
for the team to reach another way; `--all` lists every notice of the case."""
from __future__ import annotations

from bot.cli.common import emit, fail


def _recalls_text(rows) -> str:
    from bot.replies.korean import won

    if not rows:
        return "연락이 닿지 않은 구매자가 없어요."
    return "\n".join(f"{r.customer_id}\t{r.customer_name}\t주문 {r.order_number}\t{r.product_name}\t{won(r.amount_krw)}\t"
                     f"{'환불 신청함' if r.claimed else '미신청'}\t채팅 계정 {r.reached}개" for r in rows)


def cmd_recalls_list(args) -> int:
    from bot.services import recalls

    rows = recalls.list_recalls(args.case, unreached_only=not args.all)
    if rows is None:
        return fail(f"{args.case} 케이스를 찾을 수 없어요. 케이스 번호(IPP-YYYY-NNNNNN)를 확인해 주세요.")
    emit(args, rows, _recalls_text)
    return 0


def register(sub, add) -> None:
    """Adds `recalls` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    rec = sub.add_parser("recalls", help="리콜 안내").add_subparsers(dest="recalls_command", required=True)
    p = add(rec, "list", cmd_recalls_list, "채팅 계정이 없어 리콜 안내를 받지 못한 구매자")
    p.add_argument("case")
    p.add_argument("--all", action="store_true", help="안내를 받은 구매자까지 모두")
