"""`cleanbot`: the command line of the bot and of the brand-protection team."""
from __future__ import annotations

import argparse
import base64
import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Optional

from bot.cli import handoff as cli_handoff, holders as cli_holders, nlu as cli_nlu, telegram as cli_telegram
from bot.settings import get_settings


def _jsonable(value: Any) -> Any:
    if is_dataclass(value):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def emit(args: argparse.Namespace, value: Any, text: Callable[[Any], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))
    else:
        print(text(value))


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


# ---------------------------------------------------------------- setup


def cmd_db_upgrade(args) -> int:
    from bot.migrate import upgrade

    upgrade()
    print(f"데이터베이스를 최신 스키마로 맞췄어요: {_safe_url(get_settings().database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_demo_load(args) -> int:
    from bot import demo

    if get_settings().is_production:
        return fail("production 모드에서는 데모 데이터를 불러올 수 없어요. 데모를 보려면 CLEANBOT_MODE=demo로 실행해 주세요.", 2)
    if args.if_empty and not demo.is_empty():
        print("데이터베이스에 이미 데이터가 있어서 데모 데이터를 건너뛰었어요.")
        return 0
    added = demo.load()
    emit(args, added, lambda a: "데모 데이터를 불러왔어요: " + ", ".join(f"{k} {v}" for k, v in a.items()))
    return 0


def cmd_setup(args) -> int:
    """Migrate, then load the demo data into an empty database."""
    from bot import demo
    from bot.migrate import upgrade

    upgrade()
    if get_settings().is_production:
        print("production 모드라서 데모 데이터는 불러오지 않았어요.")
    elif demo.is_empty():
        demo.load()
        print("빈 데이터베이스에 데모 데이터를 불러왔어요.")
    return 0


def cmd_train(args) -> int:
    from bot.nlu.training import train_if_changed

    path = train_if_changed(force=args.force)
    print(path)
    return 0


def cmd_run(args) -> int:
    from bot.server.runner import run

    return run(replicas=args.replicas)


def cmd_chat(args) -> int:
    from bot.cli.chat import chat

    import os

    return chat(args.sender, args.url or get_settings().rasa_url, args.token or os.environ.get("CLEANBOT_CHAT_TOKEN"))


# ---------------------------------------------------------------- orders, reports, sellers


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


def cmd_photos_prune(args) -> int:
    from bot.services import photo_pruning

    if args.older_than_hours is not None and args.older_than_hours < 0:
        return fail("--older-than-hours는 0 이상이어야 해요. 예: --older-than-hours 24", 2)
    emit(args, photo_pruning.prune_orphan_photos(args.older_than_hours), photo_pruning.prune_text_ko)
    return 0


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cleanbot", description="클린봇 명령줄 도구")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(parent, name: str, func, help_text: str, json_flag: bool = True) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        if json_flag:
            p.add_argument("--json", action="store_true", help="JSON으로 출력")
        return p

    db = sub.add_parser("db", help="데이터베이스").add_subparsers(dest="db_command", required=True)
    add(db, "upgrade", cmd_db_upgrade, "스키마를 최신으로 (Alembic)", json_flag=False)

    demo = sub.add_parser("demo", help="데모 데이터").add_subparsers(dest="demo_command", required=True)
    p = add(demo, "load", cmd_demo_load, "데모 데이터 불러오기 (여러 번 해도 안전)")
    p.add_argument("--if-empty", action="store_true", help="데이터베이스가 비어 있을 때만")

    add(sub, "setup", cmd_setup, "마이그레이션 후 빈 데이터베이스면 데모 데이터", json_flag=False)
    p = add(sub, "train", cmd_train, "학습 데이터나 설정이 바뀌었을 때만 모델 학습", json_flag=False)
    p.add_argument("--force", action="store_true")
    p = add(sub, "run", cmd_run, "액션 서버와 Rasa 서버 실행", json_flag=False)
    p.add_argument("--replicas", type=int, default=1,
                   help="Rasa 서버와 액션 서버를 이만큼 띄우고 nginx로 나눠요(2 이상은 CLEANBOT_REDIS_URL 필요)")
    p = add(sub, "chat", cmd_chat, "터미널 채팅 (REST 채널)", json_flag=False)
    p.add_argument("--sender", default="shopper-1")
    p.add_argument("--url", default=None)
    p.add_argument("--token", default=None, help="로그인 토큰(JWT). 없으면 데모 서버에서 --sender의 데모 토큰을 받아요")

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
    photos = sub.add_parser("photos", help="사진").add_subparsers(dest="photos_command", required=True)
    p = add(photos, "prune", cmd_photos_prune, "신고·케이스·상담에 쓰이지 않는 오래된 사진 지우기")
    p.add_argument("--older-than-hours", type=float, default=None,
                   help="이보다 오래된 사진만 (기본: CLEANBOT_PHOTO_ORPHAN_HOURS, 24시간)")
    cli_holders.register(sub, add)  # brand-owner, cases
    cli_telegram.register(sub, add)  # telegram, shopper link-token
    cli_nlu.register(sub, add)  # eval nlu|faq, models fetch
    from bot import bench

    bench.register(sub, add)  # bench load
    cli_handoff.register(sub, add)  # handoff list|show|release
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
