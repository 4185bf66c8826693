"""`cleanbot inspections add|list|plan`: the brand-protection team's record of third parties' test buys
(mystery shoppers, random inspections), and the plan of what to test-buy next."""
from __future__ import annotations

from pathlib import Path

from bot.cli.common import emit, fail


def _outcome_text(outcome) -> str:
    from bot.services.inspections import RESULT_KO

    lines = [f"검사 #{outcome.id} · 상품 {outcome.listing_id} · {RESULT_KO[outcome.result]} · {outcome.agency}"
             + (f" · 사진 {outcome.photo_count}장" if outcome.photo_count else "")]
    if outcome.decided:
        lines.append(f"{outcome.case_number} 케이스를 조치 완료로 결정했어요"
                     + (" (검사로 새로 접수)" if outcome.opened else "")
                     + f". 상품 삭제, 판매자 제재 1회, 리콜 안내 {outcome.recalls}건.")
    elif outcome.case_number:
        lines.append(f"{outcome.case_number} 케이스 타임라인에 기록했어요.")
    else:
        lines.append("진행 중인 케이스가 없어 상품 기록에만 남겼어요.")
    return "\n".join(lines)


def _read_photos(paths: list[str]) -> tuple[list[str], list[str]]:
    """Stores the photo files (validated and stripped like a shopper's); (ids, errors in Korean)."""
    from bot.services import photos

    if not paths:
        return [], []
    blobs, errors = [], []
    for path in paths:
        try:
            blobs.append(Path(path).read_bytes())
        except OSError as error:
            errors.append(f"{path}: 파일을 읽을 수 없어요 ({error.strerror}).")
    if errors:
        return [], errors
    accepted = photos.accept_bytes(blobs)
    return accepted.ids, accepted.errors_ko


def cmd_inspections_add(args) -> int:
    from bot.services import inspections

    photo_ids, errors = _read_photos(args.photo or [])
    if errors:
        return fail("사진을 확인해 주세요. 검사는 기록하지 않았어요.\n" + "\n".join(errors))
    try:
        outcome = inspections.add(args.listing, args.result, args.by, order_ref=args.order, note=args.note,
                                  photo_shas=photo_ids, actor=f"cli:{args.actor}")
    except inspections.InspectionError as error:
        return fail(error.message_ko)
    emit(args, outcome, _outcome_text)
    return 0


def _list_text(rows) -> str:
    from bot.services.inspections import RESULT_KO

    if not rows:
        return "기록된 검사가 없어요."
    return "\n".join(f"#{r.id}\t{r.created_at:%Y-%m-%d}\t{r.listing_id}\t{r.brand}\t{RESULT_KO[r.result]}\t{r.agency}\t"
                     f"{r.case_number or '-'}\t{r.listing_title}" for r in rows)


def cmd_inspections_list(args) -> int:
    from bot.services import inspections

    emit(args, inspections.list_inspections(listing_id=args.listing, brand=args.brand), _list_text)
    return 0


def _plan_text(rows) -> str:
    from bot.replies.korean import won

    if not rows:
        return "고를 수 있는 상품이 없어요(판매 중이고 최근 30일 안에 검사하지 않은 상품이 없어요)."
    return "\n".join(f"{n}. {r.listing_id}\t{r.brand}\t{r.seller_id}\t{won(r.price_krw)}\t위험 가중치 {r.weight:g}\t{r.title}"
                     for n, r in enumerate(rows, 1))


def cmd_inspections_plan(args) -> int:
    from bot.services import inspections

    try:
        rows = inspections.plan(args.count, brand=args.brand, seed=args.seed)
    except inspections.InspectionError as error:
        return fail(error.message_ko)
    emit(args, rows, _plan_text)
    return 0


def register(sub, add) -> None:
    """Adds `inspections` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    ins = sub.add_parser("inspections", help="미스터리 쇼퍼·무작위 검사").add_subparsers(
        dest="inspections_command", required=True)
    p = add(ins, "add", cmd_inspections_add, "테스트 구매 결과 기록 (fake면 케이스 결정·제재·리콜)")
    p.add_argument("listing")
    p.add_argument("--result", required=True, choices=["fake", "genuine", "inconclusive"])
    p.add_argument("--by", required=True, help="검사한 기관 이름")
    p.add_argument("--order", help="테스트 구매의 주문번호")
    p.add_argument("--note")
    p.add_argument("--photo", action="append", help="증거 사진 파일 (여러 번 쓸 수 있어요)")
    p.add_argument("--actor", default="operator")
    p = add(ins, "list", cmd_inspections_list, "검사 기록")
    p.add_argument("--listing")
    p.add_argument("--brand")
    p = add(ins, "plan", cmd_inspections_plan, "테스트 구매할 상품 고르기 (위험도 가중 무작위, 최근 30일 검사 제외)")
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--brand")
    p.add_argument("--seed", type=int)
