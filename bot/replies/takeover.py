"""Korean words of the human takeover: what users read (actions, hand-back) and what agents read in
their topic (the card with who it is, the transcript, answers to their commands)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from bot.business_hours import BusinessHours, opening_ko
from bot.clock import to_local, utcnow
from bot.replies.korean import josa, korean_date, won
from bot.services.handoff import CLOSE_REASON_KO, REASON_KO, STATE_KO, HandoffView

# ---------------------------------------------------------------- users

HANDED_OVER_KO = (
    "상담원을 연결해 드릴게요. 잠시만 기다려 주세요. 상담원이 들어오면 이 대화창에서 바로 답변해 드려요.\n"
    "기다리시는 동안 궁금한 점이나 사진을 먼저 보내 주셔도 돼요."
)
ALREADY_WAITING_KO = "이미 상담원 연결을 요청해 두셨어요. 상담원이 곧 이 대화창에서 답변해 드릴게요."
FALLBACK_LEAD_KO = "제가 말씀을 계속 이해하지 못해서 죄송해요."
UNAVAILABLE_KO = (
    "죄송해요, 지금은 상담원을 연결할 수 없어요. 잠시 후 다시 '상담원 연결'이라고 말씀해 주세요. "
    "가품 신고와 환불은 지금 바로 제가 도와드릴 수 있어요."
)
RATING_PROMPT_KO = (
    "상담이 끝났어요. 이제 다시 클린봇이 도와드릴게요.\n"
    "상담은 어떠셨나요? 1점(아쉬워요)부터 5점(아주 좋아요)까지 골라 주세요."
)
HANDED_BACK_KO = (
    "상담원 연결 요청을 마쳤어요. 이제 다시 클린봇이 도와드릴게요. "
    "상담원이 필요하시면 언제든 '상담원 연결'이라고 말씀해 주세요."
)
RATED_KO = "평가해 주셔서 감사해요! 더 나은 상담을 위해 참고할게요. 더 도와드릴 일이 있으면 말씀해 주세요."
RATED_ALREADY_KO = "이미 평가해 주셨어요. 감사해요! 더 도와드릴 일이 있으면 말씀해 주세요."
RATE_NONE_KO = "평가할 상담을 찾지 못했어요. 상담원과 상담을 마친 뒤에 평가해 주세요. 더 도와드릴 일이 있으면 말씀해 주세요."
RATE_INVALID_KO = "평가는 1점부터 5점 사이로 골라 주세요."
AGENT_COMMAND_PRIVATE_KO = "이 명령은 상담원만 쓸 수 있어요. 도움이 필요하시면 '상담원 연결'이라고 말씀해 주세요."
CANCELLED_KO = "상담원 연결 요청을 취소했어요. 이제 다시 클린봇이 도와드릴게요."
CANCEL_PAYLOAD = "/cancel_handoff"
CANNOT_CANCEL_KO = "상담원이 이미 답변하고 있어서 요청을 취소할 수 없어요. 상담을 마치시려면 상담원에게 말씀해 주세요."
NOTHING_TO_CANCEL_KO = "취소할 상담 요청이 없어요. 상담원이 필요하시면 '상담원 연결'이라고 말씀해 주세요."


def capped(channel: str, per_hour: int, retry_at: Optional[datetime], now: datetime,
           lead: Optional[str] = None) -> str:
    """The refusal when a sender with no linked account has asked for agents as often as allowed this hour:
    when to ask again, how to get past the cap, and what the bot can do meanwhile."""
    parts = [lead] if lead else []
    if retry_at is None:
        parts.append("계정이 연결되지 않은 대화에서는 지금 상담원 연결을 요청하실 수 없어요.")
    else:
        # Shown to the minute, so round up: asking at the minute shown must work.
        minute = (retry_at + timedelta(minutes=1) - timedelta(microseconds=1)).replace(second=0, microsecond=0)
        parts.append(f"계정이 연결되지 않은 대화에서는 상담원 연결을 한 시간에 {per_hour}번까지 요청하실 수 있어요. "
                     f"{opening_ko(to_local(minute), _aware(now))}부터 다시 요청해 주세요.")
    link = {"telegram": "마켓플레이스 앱의 [텔레그램 연결] 메뉴에서 계정을 연결하시거나",
            "kakao": "마켓플레이스 앱의 [카카오톡 연동] 메뉴에서 받은 번호로 계정을 연동하시거나"}.get(
        channel, "마켓플레이스 계정으로 로그인하시거나")
    parts.append(f"{link} 권리자 인증을 마치시면 바로 요청하실 수 있어요.")
    parts.append("그동안 환불 규정이나 신고 방법처럼 궁금한 점은 여기에 물어보시면 제가 바로 답해 드릴게요.")
    return "\n".join(parts)


def capped_buttons() -> list[dict]:
    """Under the refusal: what an unlinked shopper or a brand not yet verified can still start."""
    return [{"title": "가품 신고하기", "payload": "/report_counterfeit"},
            {"title": "권리자 인증하기", "payload": "/register_brand_owner"}]


def cancel_buttons() -> list[dict]:
    """Under the hand-over message: a way out while still waiting (the gate in connectors/handoff.py)."""
    return [{"title": "상담 요청 취소", "payload": CANCEL_PAYLOAD}]


def rating_buttons() -> list[dict]:
    labels = {1: "1점", 2: "2점", 3: "3점", 4: "4점", 5: "5점"}
    return [{"title": title, "payload": f'/rate_handoff{{"handoff_rating":"{n}"}}'} for n, title in labels.items()]


def business_hours(spec: str, zone: str) -> Optional[BusinessHours]:
    """The configured hours; None (always open) for "always" or "24/7", and when the setting is broken,
    so nobody is turned away."""
    if spec.strip().lower() in ("always", "24/7", "24x7"):
        return None
    try:
        return BusinessHours.parse(spec, zone)
    except ValueError:
        import logging

        logging.getLogger(__name__).error("CLEANBOT_BUSINESS_HOURS %r is not valid; treating agents as at work", spec)
        return None


def _aware(now: datetime) -> datetime:
    """`now` as an aware time (naive ones are UTC, as stored)."""
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def next_opening_ko(hours: BusinessHours, now: datetime) -> str:
    """When agents are back, in Korean ('내일 오전 9시'); `now` naive UTC or aware."""
    aware = _aware(now)
    return opening_ko(hours.next_opening(aware), aware)


def handed_over(open_now: bool, hours: Optional[BusinessHours], now: datetime, lead: Optional[str] = None,
                already: bool = False) -> str:
    """What the user reads when the conversation goes to the agents."""
    parts = [lead] if lead else []
    if open_now or hours is None:
        parts.append(ALREADY_WAITING_KO if already else HANDED_OVER_KO)
    else:
        parts.append(
            f"지금은 상담원 근무 시간({hours.describe_ko()})이 아니에요. "
            f"상담원은 {next_opening_ko(hours, now)}부터 답변해 드려요.\n"
            "상담 요청은 대기열에 올려 두었어요. 궁금한 점이나 사진을 남겨 주시면 상담원이 확인하고 "
            "이 대화창으로 답변해 드릴게요.\n"
            "가품 신고와 환불은 지금 바로 제가 도와드릴 수 있어요. [상담 요청 취소]를 누르면 저와 이어서 하실 수 있어요."
        )
    return "\n".join(parts)


# ---------------------------------------------------------------- agents (the topic)

CHANNEL_KO = {"telegram": "텔레그램", "rest": "웹 (REST)", "socketio": "웹 채팅", "web": "웹", "kakao": "카카오톡"}
COMMANDS_KO = (
    "명령: /claim 상담 맡기 · /done 상담 마치기 · /note 메모 · /queue 검토 대기열 상위 10건\n"
    "책임자만: /refund approve RPT-… 또는 /refund reject RPT-… 사유 · /case IPP-… 상태 메모\n"
    "이 토픽에 쓰시는 글과 사진은 고객에게 그대로 전달돼요(명령과 /note는 빼고)."
)
NOT_AN_AGENT_KO = "이 명령은 상담원만 쓸 수 있어요. 상담원 그룹 관리자에게 권한을 요청해 주세요."
NOT_AN_AGENT_MESSAGE_KO = "상담원만 고객에게 답할 수 있어요. 고객에게 보내지 않았어요. 상담원 그룹 관리자에게 권한을 요청해 주세요."
NO_HANDOFF_KO = "이 토픽에는 진행 중인 상담이 없어요. 상담 토픽 안에서 써 주세요."
CLOSED_KO = "이 상담은 이미 끝났어요. 고객에게 보내지 않았어요. 고객이 다시 상담을 요청하면 이 토픽이 다시 열려요."
NOTE_SAVED_KO = "📝 메모를 남겼어요. 고객에게는 보이지 않아요."
PHOTO_FAILED_KO = "사진을 받아 오지 못해서 고객에게 보내지 않았어요. 다시 보내 주세요."
REFUND_USAGE_KO = ("사용법: /refund approve RPT-YYYY-NNNNNN 또는 /refund reject RPT-YYYY-NNNNNN 사유\n"
                   "예: /refund reject RPT-2026-000012 같은 사진으로 다른 주문을 신고했어요")
REFUND_REASON_KO = "거절 사유를 함께 적어 주세요. 예: /refund reject RPT-2026-000012 같은 사진으로 다른 주문을 신고했어요"
CASE_USAGE_KO = ("사용법: /case IPP-YYYY-NNNNNN 상태 메모 (상태: under_review 검토중, info_requested 보완요청, "
                 "action_taken 조치완료, rejected 반려, closed 종결 …)\n예: /case IPP-2026-000003 action_taken 위조 확인")
UNKNOWN_COMMAND_KO = "모르는 명령이에요.\n" + COMMANDS_KO


def topic_name(view: HandoffView) -> str:
    name = f"{view.display_name} · {REASON_KO.get(view.reason, view.reason)}"
    if view.after_hours:
        name += " · 영업시간 외"
    return name[:128]


def _clock(moment: datetime) -> str:
    local = to_local(moment)
    return f"{local:%H:%M}"


def _when(moment: datetime) -> str:
    local = to_local(moment)
    return f"{korean_date(local)} {local:%H:%M}"


def intro_card(view: HandoffView, orders: Iterable, reports: Iterable, cases: Iterable,
               opening: Optional[str] = None) -> str:
    """Who it is, where they are, and what they have with us — the first message of the topic."""
    from bot.replies import shopper as replies

    lines = [f"🆕 상담 #{view.id} · {REASON_KO.get(view.reason, view.reason)} · {STATE_KO[view.state]}"]
    if view.customer_id:
        lines.append(f"고객: {view.customer_name} (고객 ID {view.customer_id})")
    if view.holder_brands:
        lines.append(f"권리자: {', '.join(h.brand_name for h in view.holder_brands)} 브랜드 인증 계정")
    if not view.customer_id and not view.holder_brands:
        lines.append("연결된 고객 계정이나 권리자 인증이 없는 사용자예요.")
    account = {"telegram": "텔레그램 사용자 ID", "kakao": "카카오톡 botUserKey"}.get(view.channel, "웹 sender")
    lines.append(f"채널: {CHANNEL_KO.get(view.input_channel, view.input_channel)} ({account} {view.sender_id})")
    lines.append(f"요청 시각: {_when(view.created_at)}")
    if view.after_hours:
        lines.append(f"영업시간 외 요청이에요. 고객에게는 상담원이 {opening or '다음 근무 시간'}부터 답한다고 안내했어요.")
    orders = list(orders)
    if orders:
        lines.append("\n최근 주문")
        for order in orders:
            extra = f" · 신고 {order.report_number}" if order.report_number else ""
            lines.append(f"· {order.number} {order.product_name} ({order.brand}) · {won(order.amount_krw)} · "
                         f"{replies.delivery_state(order)}{extra}")
    reports = list(reports)
    if reports:
        lines.append("\n신고")
        for report in reports:
            status = replies.REFUND_STATUS_KO[report.refund_status]
            lines.append(f"· {report.number} · {report.product_name} · {won(report.amount_krw)} · {status} · "
                         f"{replies.VERDICT_KO[report.verdict]}")
            if report.refund_status == "held":
                lines.append(f"  보류 사유: {report.hold_reason or '-'} → /refund approve {report.number} "
                             f"또는 /refund reject {report.number} 사유")
    cases = list(cases)
    if cases:
        from bot.services.cases import STATE_KO as CASE_STATE_KO

        lines.append("\n케이스")
        for case in cases:
            lines.append(f"· {case.number} · {CASE_STATE_KO[case.state]} · {case.brand} · {case.listing_title}")
    lines.append("\n" + COMMANDS_KO)
    return "\n".join(lines)


def transcript(entries: list[tuple[str, float, str]], limit: int = 40) -> str:
    """The conversation so far: (who, unix time, text) with who in user/bot/agent."""
    label = {"user": "고객", "bot": "클린봇", "agent": "상담원"}
    shown = entries[-limit:]
    lines = [f"💬 지금까지의 대화{f' (최근 {len(shown)}개)' if len(entries) > len(shown) else ''}"]
    if not shown:
        lines.append("(대화 기록이 없어요)")
    for who, at, text in shown:
        lines.append(f"[{_clock(datetime.utcfromtimestamp(at))}] {label.get(who, who)}: {text}")
    return "\n".join(lines)


def relayed_user_text(text: str) -> str:
    return f"👤 고객: {text}"


def history_line(direction: str, text: str, actor: Optional[str]) -> str:
    return {"user": "👤 고객", "agent": "🧑‍💼 상담원", "note": "📝 메모", "system": "ℹ️", "bot": "🤖 클린봇"}.get(
        direction, direction) + (": " if direction != "system" else " ") + (text or "[사진]")


def claimed_ko(agent: str) -> str:
    return f"🙋 {agent}님이 상담을 맡았어요. 이제 이 토픽에 쓰시는 글이 고객에게 전달돼요."


def held_by_other_ko(agent: Optional[str]) -> str:
    return (f"이 상담은 {agent or '다른 상담원'}님이 맡고 있어요. 고객에게 보내지 않았어요. "
            "의견은 /note로 남겨 주세요.")


def done_ko(agent: str, reason: str, rating_asked: bool) -> str:
    why = CLOSE_REASON_KO.get(reason, reason)
    asked = " 고객에게 평가를 요청했어요." if rating_asked else ""
    return f"✅ 상담을 마쳤어요({why}, {agent}). 고객은 다시 클린봇과 대화해요.{asked}"


def delivery_failed_ko(error: str) -> str:
    return f"⚠️ 고객에게 메시지를 전달하지 못했어요({error}). 잠시 후 다시 보내 볼게요."


def delivery_refused_ko(error: str) -> str:
    return (f"⚠️ 텔레그램이 이 메시지를 고객에게 전달하지 않았어요({error}). 다시 보내지 않을게요. "
            "고객이 봇을 차단했다면 다른 연락 수단으로 안내해 주세요.")


def refund_done_ko(report, approve: bool, reason: Optional[str]) -> str:
    if approve:
        return (f"💸 {report.number} 환불을 승인했어요: {won(report.refund_amount or report.amount_krw)} "
                f"({report.product_name}). 고객에게 결과를 알려 주세요.")
    return f"🚫 {report.number} 환불을 거절했어요. 사유: {reason.rstrip('.')}. 고객에게 사유를 설명해 주세요."


def case_done_ko(summary) -> str:
    from bot.services.cases import STATE_KO as CASE_STATE_KO

    state = f"'{CASE_STATE_KO[summary.state]}'"
    return f"📁 {summary.number} 상태를 {josa(state, '으로/로')} 바꿨어요. 권리자에게는 상태 알림이 가요."


def handoff_line(view: HandoffView, now: Optional[datetime] = None) -> str:
    """One line of `cleanbot handoff list`."""
    now = now or utcnow()
    if view.state == "waiting":
        minutes = view.waiting_seconds(now) // 60
        wait = f"대기 {minutes // 60}시간 {minutes % 60}분" if minutes >= 60 else f"대기 {minutes}분"
    else:
        wait = f"{view.agent_name or view.agent_id} 상담 중"
    return (f"#{view.id}\t{STATE_KO[view.state]}\t{CHANNEL_KO.get(view.input_channel, view.input_channel)}\t"
            f"{view.display_name}\t{REASON_KO.get(view.reason, view.reason)}\t{wait}")
