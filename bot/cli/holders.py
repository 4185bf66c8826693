"""`cleanbot brand-owner …` and `cleanbot cases …`: verification codes and IPP cases for the team.

    cleanbot brand-owner invite 구찌 --name "구찌코리아 법무팀" [--json]
    cleanbot brand-owner invites [--brand B] [--json]
    cleanbot brand-owner list [--brand B] [--json]
    cleanbot cases list [--brand B] [--state S] [--json]
    cleanbot cases show IPP-2026-000001 [--json]
    cleanbot cases set-status IPP-2026-000001 under_review --note "검토 시작" [--actor NAME] [--json]
"""
from __future__ import annotations

from bot.cli.common import emit as _emit, fail as _fail
from bot.models import CASE_STATES


def _local(moment) -> str:
    from bot.clock import to_local

    return f"{to_local(moment):%Y-%m-%d %H:%M}" if moment else "-"


# ---------------------------------------------------------------- brand owners


def _invite_text(invite) -> str:
    from bot.replies.korean import korean_date
    from bot.clock import to_local

    state = f"사용됨 ({_local(invite.used_at)}, {invite.used_by})" if invite.used_at else \
        f"{korean_date(to_local(invite.expires_at))}까지 유효"
    return f"{invite.code}\t{invite.brand}\t{invite.holder_name}\t{state}"


def cmd_invite(args) -> int:
    from bot.clock import to_local
    from bot.replies.korean import josa, korean_datetime
    from bot.services import holders

    try:
        invite = holders.issue_invite(args.brand, args.name, actor=f"cli:{args.actor}")
    except holders.HolderError as error:
        return _fail(error.message_ko)
    _emit(args, invite, lambda i: (
        f"인증 코드: {i.code}\n브랜드: {i.brand} · 권리자: {i.holder_name}\n"
        f"유효 기간: {korean_datetime(to_local(i.expires_at))}까지 (한 번만 사용 가능)\n"
        f"권리자에게 전달해 주세요: 챗봇에 '권리자 인증'이라고 말한 뒤 코드 {josa(i.code, '을/를')} 입력하면 돼요."
    ))
    return 0


def cmd_invites(args) -> int:
    from bot.services import holders

    _emit(args, holders.list_invites(args.brand), lambda rows: "\n".join(_invite_text(i) for i in rows)
          or "발급된 인증 코드가 없어요.")
    return 0


def cmd_holders(args) -> int:
    from bot.services import holders

    _emit(args, holders.list_holders(args.brand), lambda rows: "\n".join(
        f"{h.id}\t{h.brand}\t{h.name}\t인증 {_local(h.verified_at)}\t{', '.join(h.accounts) or '연결된 계정 없음'}"
        for h in rows) or "인증된 권리자가 없어요.")
    return 0


# ---------------------------------------------------------------- cases


def _case_line(case) -> str:
    from bot.services.cases import STATE_KO

    holder = case.holder_name or "구매자 신고"
    return (f"{case.number}\t{case.state}({STATE_KO[case.state]})\t{case.brand}\t{case.listing_id}\t"
            f"{holder}\t신고 {case.report_count}건\t변경 {_local(case.updated_at)}")


def _case_detail_text(found) -> str:
    from bot.services.cases import STATE_KO, next_step_ko
    from bot.services.ipp import INFRINGEMENT_KO, SOURCE_KO

    case, events = found
    lines = [
        f"{case.number} · {STATE_KO[case.state]}({case.state}) · {case.brand}",
        f"  상품 {case.listing_id} {case.listing_title} ({'판매 중지' if case.listing_status == 'removed' else '판매 중'})",
        f"  출처 {SOURCE_KO[case.source]} · 권리자 {case.holder_name or '-'} · 구매자 신고 {case.report_count}건 · "
        f"사진 {case.photo_count}장",
    ]
    if case.infringement_type:
        lines.append(f"  침해 유형 {INFRINGEMENT_KO[case.infringement_type]} · 상표 {case.trademark_number or '-'}")
    if case.description:
        lines.append(f"  내용: {case.description}")
    lines.append("  이력:")
    for event in events:
        change = STATE_KO[event.to_state] if event.from_state is None or event.from_state == event.to_state \
            else f"{STATE_KO[event.from_state]} → {STATE_KO[event.to_state]}"
        lines.append(f"    {_local(event.at)} · {change} · {event.actor}" + (f" · {event.note}" if event.note else ""))
    lines.append(f"  다음 단계: {next_step_ko(case.state)}")
    return "\n".join(lines)


def cmd_cases_list(args) -> int:
    from bot.services import ipp

    rows = ipp.all_cases(brand=args.brand, state=args.state)
    _emit(args, rows, lambda rs: "\n".join(_case_line(c) for c in rs) or "케이스가 없어요.")
    return 0


def cmd_cases_show(args) -> int:
    from bot.services import ipp

    found = ipp.case_detail(args.number)
    if found is None:
        return _fail(f"{args.number} 케이스를 찾을 수 없어요. 케이스 번호(IPP-YYYY-NNNNNN)를 확인해 주세요.")
    _emit(args, {"case": found[0], "events": found[1]} if args.json else found,
          lambda f: _case_detail_text(f))
    return 0


def cmd_cases_set_status(args) -> int:
    from bot.replies.korean import josa
    from bot.services import ipp
    from bot.services.cases import STATE_KO

    try:
        case = ipp.set_status(args.number, args.state, args.note, actor=f"cli:{args.actor}")
    except ipp.CaseActionError as error:
        return _fail(error.message_ko)
    state = f"'{STATE_KO[case.state]}'"
    _emit(args, case, lambda c: (
        f"{josa(c.number, '은/는')} 이제 {josa(state, '이에요/예요')}. 이 브랜드의 권리자에게 채팅으로 알려 드려요.\n" + _case_line(c)
    ))
    return 0


# ---------------------------------------------------------------- parser


def register(sub, add) -> None:
    """Adds `brand-owner` and `cases` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    owners = sub.add_parser("brand-owner", help="브랜드 권리자 인증").add_subparsers(
        dest="brand_owner_command", required=True)
    p = add(owners, "invite", cmd_invite, "일회용 인증 코드 발급 (유효 기간: CLEANBOT_INVITE_EXPIRY_DAYS)")
    p.add_argument("brand", help="브랜드 (어떤 표기든: Nike, 나이키, NIKE)")
    p.add_argument("--name", required=True, help="권리자 이름 (회사, 부서)")
    p.add_argument("--actor", default="operator")
    p = add(owners, "invites", cmd_invites, "발급한 인증 코드 목록")
    p.add_argument("--brand")
    p = add(owners, "list", cmd_holders, "인증된 권리자와 연결된 채팅 계정")
    p.add_argument("--brand")

    cases = sub.add_parser("cases", help="IPP 케이스").add_subparsers(dest="cases_command", required=True)
    p = add(cases, "list", cmd_cases_list, "케이스 목록 (진행 중인 케이스 먼저)")
    p.add_argument("--brand")
    p.add_argument("--state", choices=CASE_STATES)
    p = add(cases, "show", cmd_cases_show, "케이스 한 건과 이력")
    p.add_argument("number")
    p = add(cases, "set-status", cmd_cases_set_status, "케이스 상태 변경 (허용된 전환만, 권리자에게 알림)")
    p.add_argument("number")
    p.add_argument("state", help=", ".join(CASE_STATES))
    p.add_argument("--note", default="", help="권리자에게 보이는 메모")
    p.add_argument("--actor", default="operator")

