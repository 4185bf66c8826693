"""`cleanbot programme report`: the programme's figures and their chart (bot/services/programme.py)."""
from __future__ import annotations

from bot.cli.common import emit, fail


def cmd_report(args) -> int:
    from bot.catalogue import canonical_brand
    from bot.replies.programme import report_ko
    from bot.services import programme

    brand = None
    if args.brand:
        brand = canonical_brand(args.brand)
        if brand is None:
            return fail(f"'{args.brand}' 브랜드를 찾을 수 없어요. 카탈로그의 브랜드 이름(예: Nike, 나이키)으로 다시 해 주세요.")
    if args.days is not None and args.days < 1:
        return fail("--days는 1 이상이어야 해요. 예: --days 60")
    report = programme.compute(days=args.days, brand=brand)
    chart = None if args.no_chart else programme.render_chart(report, args.chart)
    emit(args, {"report": report, "chart": chart},
         lambda r: report_ko(r["report"]) + (f"\n차트: {r['chart']}" if r["chart"] else ""))
    return 0


def register(sub, add) -> None:
    group = sub.add_parser("programme", help="클린 프로젝트 성과 보고").add_subparsers(
        dest="programme_command", required=True)
    p = add(group, "report", cmd_report, "최근 N일의 삭제, 보호 브랜드, 신고, 환불, 처리 시간, 테스트 구매, 제재 (PNG 차트 포함)")
    p.add_argument("--days", type=int, default=None, help="기간 (기본: CLEANBOT_STATS_DEFAULT_DAYS)")
    p.add_argument("--brand", help="이 브랜드의 몫만 (어떤 표기든: Nike, 나이키)")
    p.add_argument("--chart", help="차트 PNG를 쓸 파일 (기본: CLEANBOT_CHART_DIR 아래 새 파일)")
    p.add_argument("--no-chart", action="store_true", help="차트 없이 숫자만")
