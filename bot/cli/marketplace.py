"""`cleanbot orders …`, `cleanbot reports …` and `cleanbot sellers show|verify|lift-freezes`: the marketplace's
orders, the shoppers' reports, the sellers' verification and sanctions."""
from __future__ import annotations

from bot.cli.common import emit, fail


def _order_text(orders) -> str:
    from bot.replies import shopper as replies

    if not orders:
        return "주문이 없어요."
    return "\n".join(f"{o.customer_id}\t{o.number}\t{replies.delivery_state(o)}\t{o.amount_krw:,}원\t{o.product_name}"
                     for o in orders)


def cmd_orders_list(args) -> int:
    from bot.services import orders

    emit(args, orders.all_orders(args.customer), _order_text)
    return 0


def cmd_orders_show(args) -> int:
    from bot.services import orders

    order = orders.get_order(args.order)
    if order is None:
        return fail(f"주문 {args.order}을(를) 찾을 수 없어요.")
    emit(args, order, lambda o: _order_text([o]) + (f"\n신고 {o.report_number}" if o.report_number else ""))
    return 0


def _report_text(report) -> str:
    from bot.replies import shopper as replies

    return (replies.report_summary(report) + f"\n  고객 {report.customer_id} · 주문 {report.order_number} · "
            f"케이스 {report.case_number} · 사진 {report.photo_count}장"
            + (f"\n  보류 사유: {report.hold_reason}" if report.hold_reason else ""))


def cmd_reports_list(args) -> int:
    from bot.services import reports

    found = reports.list_reports(customer_id=args.customer, refund_status=args.refund_status)
    emit(args, found, lambda rs: "\n".join(_report_text(r) for r in rs) or "신고가 없어요.")
    return 0


def cmd_reports_show(args) -> int:
    from bot.services import reports

    report = reports.get_report(args.number)
    if report is None:
        return fail(f"{args.number} 신고를 찾을 수 없어요.")
    emit(args, report, lambda r: _report_text(r) + f"\n  내용: {r.description}")
    return 0


def cmd_reports_review(args) -> int:
    from bot.services import reports

    try:
        report = reports.review_report(args.number, confirm_fake=args.confirm_fake, note=args.note or "",
                                       actor=f"cli:{args.actor}")
    except reports.ReportActionError as error:
        return fail(error.message_ko)
    emit(args, report, _report_text)
    return 0


def cmd_reports_refund(args) -> int:
    from bot.services import reports

    try:
        report = reports.decide_held_refund(args.number, approve=args.decision == "approve",
                                            actor=f"cli:{args.actor}", reason=args.reason)
    except reports.ReportActionError as error:
        return fail(error.message_ko)
    emit(args, report, _report_text)
    return 0


def cmd_sellers_show(args) -> int:
    from bot.services import sellers

    view = sellers.seller_view(args.seller)
    if view is None:
        return fail(f"판매자 {args.seller}을(를) 찾을 수 없어요.")
    emit(args, view, sellers.seller_text)
    return 0


def cmd_sellers_verify(args) -> int:
    from bot.services import sellers

    try:
        view = sellers.verify(args.seller, args.level, brand=args.brand, actor=f"cli:{args.actor}")
    except sellers.SellerActionError as error:
        return fail(error.message_ko)
    emit(args, view, sellers.seller_text)
    return 0


def cmd_sellers_lift_freezes(args) -> int:
    from bot.services import penalties

    lifted = penalties.lift_lapsed_freezes(actor=f"cli:{args.actor}")
    emit(args, lifted, lambda ids: f"판매 정지가 끝난 판매자 {len(ids)}곳을 정상으로 돌렸어요."
         + ("\n" + ", ".join(ids) if ids else ""))
    return 0


def register(sub, add) -> None:
    """Adds `orders`, `reports` and `sellers` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    orders = sub.add_parser("orders", help="주문").add_subparsers(dest="orders_command", required=True)
    p = add(orders, "list", cmd_orders_list, "주문 목록")
    p.add_argument("--customer")
    p = add(orders, "show", cmd_orders_show, "주문 한 건")
    p.add_argument("order")

    rep = sub.add_parser("reports", help="구매자 신고").add_subparsers(dest="reports_command", required=True)
    p = add(rep, "list", cmd_reports_list, "신고 목록")
    p.add_argument("--customer")
    p.add_argument("--refund-status", choices=["granted", "held", "rejected"])
    p = add(rep, "show", cmd_reports_show, "신고 한 건")
    p.add_argument("number")
    p = add(rep, "review", cmd_reports_review, "가품 여부 판정")
    p.add_argument("number")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--confirm-fake", dest="confirm_fake", action="store_true")
    verdict.add_argument("--genuine", dest="confirm_fake", action="store_false")
    p.add_argument("--note", default="")
    p.add_argument("--actor", default="operator")
    p = add(rep, "refund", cmd_reports_refund, "보류된 환불 승인/거절")
    p.add_argument("decision", choices=["approve", "reject"])
    p.add_argument("number")
    p.add_argument("--reason")
    p.add_argument("--actor", default="operator")

    sellers = sub.add_parser("sellers", help="판매자").add_subparsers(dest="sellers_command", required=True)
    p = add(sellers, "show", cmd_sellers_show, "판매자 제재 현황")
    p.add_argument("seller")
    p = add(sellers, "verify", cmd_sellers_verify, "판매자 인증 단계 정하기 (사업자 인증, 브랜드 공식 판매자)")
    p.add_argument("seller")
    p.add_argument("--level", required=True, choices=["unverified", "business_verified", "authorised_reseller"])
    p.add_argument("--brand", help="authorised_reseller: 인증한 브랜드 · business_verified: 인증을 거둘 브랜드")
    p.add_argument("--actor", default="operator")
    p = add(sellers, "lift-freezes", cmd_sellers_lift_freezes, "기간이 끝난 판매 정지 풀기 (주기적으로 실행)")
    p.add_argument("--actor", default="operator")
