"""`cleanbot handoff …`: the hand-over queue from the command line.

    cleanbot handoff list [--json]            # waiting and held conversations, with the waiting time
    cleanbot handoff show 12 [--json]         # one hand-over with everything said in it
    cleanbot handoff release 12 [--actor NAME] [--json]   # hand the conversation back to the bot

`release` only closes the hand-over (bot.services.handoff.close); the running bot's agent desk then
appends ConversationResumed, tells the user and closes the topic, as after `/done`.
"""
from __future__ import annotations

from bot.cli.common import emit as _emit, fail as _fail


def _local(moment) -> str:
    from bot.clock import to_local

    return f"{to_local(moment):%Y-%m-%d %H:%M}" if moment else "-"


def _row(view) -> dict:
    from dataclasses import asdict

    data = asdict(view)
    data["holder_brands"] = [h["brand_name"] for h in data["holder_brands"]]
    data["display_name"] = view.display_name
    data["waiting_seconds"] = view.waiting_seconds()
    return data


def cmd_list(args) -> int:
    from bot.replies import takeover as words
    from bot.services import handoff

    found = handoff.list_open()
    header = "번호\t상태\t채널\t사용자\t사유\t대기/담당"

    def text(views) -> str:
        if not views:
            return "대기 중이거나 상담 중인 대화가 없어요."
        return "\n".join([header] + [words.handoff_line(v) for v in views])

    if getattr(args, "json", False):
        _emit(args, [_row(v) for v in found], text)
    else:
        print(text(found))
    return 0


def _detail_text(detail) -> str:
    from bot.replies import takeover as words
    from bot.services.handoff import CLOSE_REASON_KO, REASON_KO, STATE_KO

    view = detail.handoff
    lines = [
        f"상담 #{view.id} · {STATE_KO[view.state]} · {REASON_KO.get(view.reason, view.reason)}"
        + (" · 영업시간 외 요청" if view.after_hours else ""),
        f"사용자: {view.display_name} · 채널 {words.CHANNEL_KO.get(view.input_channel, view.input_channel)} "
        f"(sender {view.sender_id})",
        f"요청 {_local(view.created_at)} · 대기열 {_local(view.queued_at)} · 토픽 {view.topic_id or '-'}",
    ]
    if view.state == "held":
        lines.append(f"담당: {view.agent_name} ({view.agent_id}) · 마지막 답변 {_local(view.last_agent_at)}")
    if view.state == "closed":
        lines.append(f"종료 {_local(view.closed_at)} · {CLOSE_REASON_KO.get(view.close_reason or '', '-')} · "
                     f"{view.closed_by or '-'} · 평가 {view.rating or '-'}")
    lines.append("")
    for message in detail.messages:
        state = "" if message.delivered_at else " (미전달)"
        lines.append(f"[{_local(message.created_at)}] {words.history_line(message.direction, message.text, message.actor)}"
                     f"{' [사진 ' + message.photo_sha256[:12] + ']' if message.photo_sha256 else ''}{state}")
    return "\n".join(lines)


def _parse_id(value: str) -> int | None:
    value = value.strip().lstrip("#")
    return int(value) if value.isdigit() else None


def cmd_show(args) -> int:
    from bot.services import handoff

    handoff_id = _parse_id(args.id)
    detail = handoff.detail(handoff_id) if handoff_id is not None else None
    if detail is None:
        return _fail(f"상담 {args.id}번을 찾을 수 없어요. cleanbot handoff list로 번호를 확인해 주세요.")
    if getattr(args, "json", False):
        from dataclasses import asdict

        _emit(args, {"handoff": _row(detail.handoff), "messages": [asdict(m) for m in detail.messages]},
             lambda _v: "")
    else:
        print(_detail_text(detail))
    return 0


def cmd_release(args) -> int:
    from bot.replies.korean import josa
    from bot.services import handoff

    handoff_id = _parse_id(args.id)
    if handoff_id is None or handoff.get(handoff_id) is None:
        return _fail(f"상담 {args.id}번을 찾을 수 없어요. cleanbot handoff list로 번호를 확인해 주세요.")
    view, closed = handoff.close(handoff_id, f"cli:{args.actor}", "released")
    if not closed:
        return _fail(f"상담 {josa(f'#{handoff_id}', '은/는')} 이미 끝났어요. 고객은 클린봇과 대화하고 있어요.")
    _emit(args, _row(view), lambda _v: (
        f"상담 {josa(f'#{handoff_id}', '을/를')} 클린봇에게 돌려줬어요. "
        "실행 중인 봇이 몇 초 안에 대화를 재개하고 고객과 상담원 토픽에 알려요."))
    return 0


def register(sub, add) -> None:
    """Adds `handoff` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    group = sub.add_parser("handoff", help="상담원 연결 대기열").add_subparsers(dest="handoff_command", required=True)
    add(group, "list", cmd_list, "대기 중이거나 상담 중인 대화 (대기 시간 포함)")
    p = add(group, "show", cmd_show, "상담 한 건과 그동안 오간 메시지")
    p.add_argument("id", help="상담 번호 (cleanbot handoff list의 #번호)")
    p = add(group, "release", cmd_release, "대화를 클린봇에게 돌려주기 (고객에게 알림)")
    p.add_argument("id", help="상담 번호")
    p.add_argument("--actor", default="operator")
