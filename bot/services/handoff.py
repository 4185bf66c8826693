"""Human takeover: conversations handed over to the agents, and everything said while they hold them.

A hand-over is `waiting` in the queue, `held` by one agent, or `closed` (handed back to the bot). At most
one open hand-over per chat account (a partial unique index decides, across processes and replicas), and
at most `handoff_anonymous_per_hour` new ones an hour for an account linked to no customer or rights holder.
Every write here is one transaction; the connectors (connectors/handoff.py, connectors/telegram_desk.py)
only translate between Telegram, Rasa and these functions.

`handoff_messages` is also an outbox in both directions: `delivered_at` is when a row reached its
destination — the agents' topic for `user` and `system` rows, the user for `agent` and `bot` rows (web
users take theirs with their next REST request or by socket.io push, like bot.services.notifier)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from bot import clock
from bot.db import serialize, transaction
from bot.replies.korean import josa
from bot.models import OPEN_HANDOFF_STATES, Handoff, HandoffMessage, Photo
from bot.services import audit
from bot.services.errors import ServiceError
from bot.services.identity import HolderBrand, get_or_create_identity, resolve_in
from bot.settings import get_settings

REASON_KO = {"request_human": "상담원 요청", "fallback": "봇이 이해하지 못함", "complain": "불만"}
STATE_KO = {"waiting": "대기 중", "held": "상담 중", "closed": "종료"}
CLOSE_REASON_KO = {"done": "상담원이 종료", "topic_closed": "토픽 닫힘", "released": "운영자가 봇에게 돌려줌",
                   "cancelled": "고객이 취소"}
TO_TOPIC = ("user", "system")
TO_USER = ("agent", "bot")
MAX_ATTEMPTS = 5
MAX_TEXT = 4000
# The window of `handoff_anonymous_per_hour`.
ANONYMOUS_CAP_WINDOW = timedelta(hours=1)


class HandoffError(ServiceError):
    """Something an agent or operator asked for that does not apply; `message_ko` says why and what to do."""


@dataclass(frozen=True)
class HandoffView:
    id: int
    channel: str
    sender_id: str
    input_channel: str
    reason: str
    state: str
    after_hours: bool
    topic_id: Optional[int]
    agent_id: Optional[str]
    agent_name: Optional[str]
    created_at: datetime
    queued_at: datetime
    held_at: Optional[datetime]
    last_agent_at: Optional[datetime]
    closed_at: Optional[datetime]
    closed_by: Optional[str]
    close_reason: Optional[str]
    resumed_at: Optional[datetime]
    rating: Optional[int]
    customer_id: Optional[str] = None
    customer_name: Optional[str] = None
    holder_brands: tuple[HolderBrand, ...] = ()
    agent_message_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_HANDOFF_STATES

    def waiting_seconds(self, now: Optional[datetime] = None) -> int:
        """How long it has waited in the queue (0 while held or closed)."""
        if self.state != "waiting":
            return 0
        return max(int(((now or clock.utcnow()) - self.queued_at).total_seconds()), 0)

    @property
    def display_name(self) -> str:
        """Who it is, for agents: the customer, the rights holder's brands, or the bare account."""
        if self.customer_name:
            return f"{self.customer_name}({self.customer_id})"
        if self.holder_brands:
            return f"{', '.join(h.brand_name for h in self.holder_brands)} 권리자"
        where = {"telegram": "텔레그램", "kakao": "카카오톡"}.get(self.channel, "웹")
        return f"{where} 사용자 {self.sender_id}"


@dataclass(frozen=True)
class MessageView:
    id: int
    handoff_id: int
    direction: str
    text: str
    photo_sha256: Optional[str]
    photo_path: Optional[str]
    buttons: Optional[list]
    actor: Optional[str]
    created_at: datetime
    delivered_at: Optional[datetime]
    attempts: int = 0
    channel: str = ""
    sender_id: str = ""


@dataclass(frozen=True)
class Requested:
    """The account's open hand-over (`created` when this request opened it), or a refusal (`handoff` None):
    a sender with no linked account used up `handoff_anonymous_per_hour`; it may ask again at `retry_at`
    (None when the setting is 0: no hand-overs for them at all)."""

    handoff: Optional[HandoffView]
    created: bool
    retry_at: Optional[datetime] = None

    @property
    def refused(self) -> bool:
        return self.handoff is None


@dataclass(frozen=True)
class AgentSaid:
    """status: sent | held_by_other | closed. `claimed` when this message made the agent its holder."""

    status: str
    handoff: HandoffView
    claimed: bool = False
    message_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Claimed:
    """status: claimed | already_yours | held_by_other | closed."""

    status: str
    handoff: HandoffView


@dataclass(frozen=True)
class Rated:
    """status: recorded | already | none."""

    status: str
    rating: Optional[int] = None
    handoff_id: Optional[int] = None


@dataclass
class HandoffDetail:
    handoff: HandoffView
    messages: list[MessageView] = field(default_factory=list)


# ---------------------------------------------------------------- views


def _agent_messages(session: Session, handoff_id: int) -> int:
    return session.execute(
        select(func.count(HandoffMessage.id)).where(HandoffMessage.handoff_id == handoff_id,
                                                   HandoffMessage.direction == "agent")
    ).scalar_one()


def _view(session: Session, handoff: Handoff, who: bool = True) -> HandoffView:
    person = resolve_in(session, handoff.channel, handoff.sender_id) if who else None
    return HandoffView(
        id=handoff.id, channel=handoff.channel, sender_id=handoff.sender_id, input_channel=handoff.input_channel,
        reason=handoff.reason, state=handoff.state, after_hours=bool(handoff.after_hours), topic_id=handoff.topic_id,
        agent_id=handoff.agent_id, agent_name=handoff.agent_name, created_at=handoff.created_at,
        queued_at=handoff.queued_at, held_at=handoff.held_at, last_agent_at=handoff.last_agent_at,
        closed_at=handoff.closed_at, closed_by=handoff.closed_by, close_reason=handoff.close_reason,
        resumed_at=handoff.resumed_at, rating=handoff.rating,
        customer_id=person.customer_id if person else None,
        customer_name=person.customer_name if person else None,
        holder_brands=person.holder_brands if person else (),
        agent_message_count=_agent_messages(session, handoff.id),
    )


def _message_view(session: Session, row: HandoffMessage, handoff: Optional[Handoff] = None) -> MessageView:
    path = None
    if row.photo_sha256:
        photo = session.get(Photo, row.photo_sha256)
        path = photo.path if photo is not None else None
    handoff = handoff or session.get(Handoff, row.handoff_id)
    return MessageView(row.id, row.handoff_id, row.direction, row.text or "", row.photo_sha256, path,
                       row.buttons, row.actor, row.created_at, row.delivered_at, row.attempts or 0,
                       handoff.channel, handoff.sender_id)


def _open_query(channel: str, sender_id: str):
    return select(Handoff).where(Handoff.channel == channel, Handoff.sender_id == sender_id,
                                 Handoff.state.in_(OPEN_HANDOFF_STATES))


def _locked(session: Session, handoff_id: int) -> Handoff:
    handoff = session.execute(select(Handoff).where(Handoff.id == handoff_id).with_for_update()).scalar_one_or_none()
    if handoff is None:
        raise HandoffError(f"상담 {josa(f'#{handoff_id}', '을/를')} 찾을 수 없어요. cleanbot handoff list로 번호를 확인해 주세요.")
    return handoff


def _add_message(session: Session, handoff: Handoff, direction: str, text: str = "", *,
                 photo_sha256: Optional[str] = None, buttons: Optional[list] = None, actor: Optional[str] = None,
                 delivered: bool = False) -> HandoffMessage:
    now = clock.utcnow()
    row = HandoffMessage(handoff_id=handoff.id, direction=direction, text=(text or "")[:MAX_TEXT],
                         photo_sha256=photo_sha256, buttons=buttons, actor=actor, created_at=now,
                         delivered_at=now if delivered or direction == "note" else None, attempts=0)
    session.add(row)
    session.flush()
    return row


# ---------------------------------------------------------------- the user side (actions, connectors)


def _anonymous_refusal(session: Session, channel: str, sender_id: str, now: datetime) -> Optional[Requested]:
    """The refusal of a new hand-over for this account, or None to go ahead. Each hand-over is a topic
    the agents must look at, and a sender with no linked account costs nothing to be; linked customers
    and rights holders are never capped. Counted in the database, so the cap holds across processes."""
    person = resolve_in(session, channel, sender_id)
    if person.customer_id or person.is_rights_holder:
        return None
    cap = max(get_settings().handoff_anonymous_per_hour, 0)
    recent = session.execute(
        select(Handoff.created_at).where(Handoff.channel == channel, Handoff.sender_id == sender_id,
                                         Handoff.created_at > now - ANONYMOUS_CAP_WINDOW)
        .order_by(Handoff.created_at)
    ).scalars().all()
    if len(recent) < cap:
        return None
    # Free again when the oldest of the latest `cap` hand-overs leaves the window.
    return Requested(None, False, recent[len(recent) - cap] + ANONYMOUS_CAP_WINDOW if cap else None)


def request(channel: str, sender_id: str, reason: str, input_channel: str, after_hours: bool = False,
            actor: Optional[str] = None) -> Requested:
    """Hands the account's conversation over (waiting in the queue), or returns the one already open, or
    refuses a sender with no linked account over the hourly cap (`Requested.refused`).
    Safe to call twice or concurrently: the partial unique index keeps one open hand-over per account."""
    if reason not in REASON_KO:
        raise ValueError(f"unknown hand-over reason {reason!r}")
    last_error: Optional[Exception] = None
    for _attempt in range(5):
        try:
            with transaction() as session:
                # The account's requests one at a time, so the cap's count and the insert cannot interleave.
                serialize(session, "handoff-request", channel, sender_id)
                existing = session.execute(_open_query(channel, sender_id)).scalar_one_or_none()
                if existing is not None:
                    return Requested(_view(session, existing), False)
                now = clock.utcnow()
                refusal = _anonymous_refusal(session, channel, sender_id, now)
                if refusal is not None:
                    retry_at = refusal.retry_at.isoformat() if refusal.retry_at else None
                    audit.record(session, actor or f"{channel}:{sender_id}", "handoff.refused",
                                 f"{channel}:{sender_id}", {"reason": reason, "retry_at": retry_at})
                    return refusal
                identity = get_or_create_identity(session, channel, sender_id)
                handoff = Handoff(identity_id=identity.id, channel=channel, sender_id=sender_id,
                                  input_channel=(input_channel or channel)[:40], reason=reason, state="waiting",
                                  after_hours=1 if after_hours else 0, created_at=now, queued_at=now)
                session.add(handoff)
                session.flush()
                audit.record(session, actor or f"{channel}:{sender_id}", "handoff.requested", f"handoff:{handoff.id}",
                             {"reason": reason, "after_hours": after_hours})
                return Requested(_view(session, handoff), True)
        except (IntegrityError, OperationalError) as error:  # a concurrent request won the index: look again
            last_error = error
    raise RuntimeError("could not open the hand-over") from last_error


def open_for(channel: str, sender_id: str) -> Optional[HandoffView]:
    with transaction() as session:
        handoff = session.execute(_open_query(channel, sender_id)).scalar_one_or_none()
        return _view(session, handoff) if handoff is not None else None


def get(handoff_id: int) -> Optional[HandoffView]:
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        return _view(session, handoff) if handoff is not None else None


def by_topic(topic_id: int) -> Optional[HandoffView]:
    """The hand-over a topic of the agents' group belongs to (the latest one, if the topic was reused)."""
    with transaction() as session:
        handoff = session.execute(
            select(Handoff).where(Handoff.topic_id == topic_id).order_by(Handoff.id.desc()).limit(1)
        ).scalar_one_or_none()
        return _view(session, handoff) if handoff is not None else None


def previous_topic(handoff_id: int) -> Optional[int]:
    """The topic of the account's last hand-over before this one, to reopen instead of making a new one."""
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        return session.execute(
            select(Handoff.topic_id).where(Handoff.identity_id == handoff.identity_id, Handoff.id != handoff.id,
                                           Handoff.topic_id.is_not(None))
            .order_by(Handoff.id.desc()).limit(1)
        ).scalar_one_or_none()


def record_user_message(handoff_id: int, text: str, photo_shas: Optional[list[str]] = None) -> list[int]:
    """A user's message during the hand-over, for the topic: text, and one row per photo."""
    text = (text or "").strip()
    shas = list(dict.fromkeys(photo_shas or []))
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return []
        rows = []
        if text or not shas:
            rows.append(_add_message(session, handoff, "user", text or "(빈 메시지)"))
        for sha in shas:
            if session.get(Photo, sha) is not None:
                rows.append(_add_message(session, handoff, "user", "", photo_sha256=sha))
        return [row.id for row in rows]


def cancel(channel: str, sender_id: str) -> Optional[HandoffView]:
    """The user withdraws a hand-over still waiting in the queue; None if there is none."""
    with transaction() as session:
        handoff = session.execute(_open_query(channel, sender_id).with_for_update()).scalar_one_or_none()
        if handoff is None or handoff.state != "waiting":
            return None
        _close(session, handoff, f"{channel}:{sender_id}", "cancelled")
        _add_message(session, handoff, "system", "고객이 상담 요청을 취소했어요.")
        return _view(session, handoff)


def rate(channel: str, sender_id: str, rating: int) -> Rated:
    """The user's 1–5 rating of their last hand-over that was handed back; recorded once."""
    if not 1 <= int(rating) <= 5:
        raise ValueError("rating must be 1..5")
    with transaction() as session:
        handoff = session.execute(
            select(Handoff).where(Handoff.channel == channel, Handoff.sender_id == sender_id,
                                  Handoff.state == "closed", Handoff.resumed_at.is_not(None))
            .order_by(Handoff.id.desc()).limit(1).with_for_update()
        ).scalar_one_or_none()
        if handoff is None:
            return Rated("none")
        if handoff.rating is not None:
            return Rated("already", handoff.rating, handoff.id)
        handoff.rating, handoff.rated_at = int(rating), clock.utcnow()
        _add_message(session, handoff, "system", f"고객 평가: {'★' * int(rating)}{'☆' * (5 - int(rating))} ({rating}점)")
        audit.record(session, f"{channel}:{sender_id}", "handoff.rated", f"handoff:{handoff.id}", {"rating": int(rating)})
        return Rated("recorded", int(rating), handoff.id)


# ---------------------------------------------------------------- the agents' side


def set_topic(handoff_id: int, topic_id: Optional[int], previous: Optional[int] = None) -> Optional[int]:
    """Sets the hand-over's topic only if it is still `previous` (None: it has none yet), so of two desks
    (replicas) that made a topic at the same time one wins. Returns the topic it has now: `topic_id` if
    this call won, else the winner's (the caller drops its own)."""
    current = Handoff.topic_id.is_(None) if previous is None else Handoff.topic_id == previous
    with transaction() as session:
        session.execute(update(Handoff).where(Handoff.id == handoff_id, current).values(topic_id=topic_id)
                        .execution_options(synchronize_session=False))
        return session.execute(select(Handoff.topic_id).where(Handoff.id == handoff_id)).scalar_one_or_none()


def _hold(handoff: Handoff, agent_id: str, agent_name: str, now: datetime) -> None:
    handoff.state, handoff.agent_id, handoff.agent_name = "held", agent_id, (agent_name or agent_id)[:100]
    handoff.held_at = now
    handoff.last_agent_at = now


def claim(handoff_id: int, agent_id: int | str, agent_name: str) -> Claimed:
    """`/claim`: the agent holds the conversation (if nobody else does)."""
    agent_id = str(agent_id)
    with transaction() as session:
        handoff = _locked(session, handoff_id)
        if handoff.state == "closed":
            return Claimed("closed", _view(session, handoff))
        if handoff.state == "held":
            status = "already_yours" if handoff.agent_id == agent_id else "held_by_other"
            return Claimed(status, _view(session, handoff))
        _hold(handoff, agent_id, agent_name, clock.utcnow())
        _add_message(session, handoff, "bot", AGENT_JOINED_KO)
        audit.record(session, agent_actor(agent_id), "handoff.claimed", f"handoff:{handoff.id}", {"agent": agent_name})
        return Claimed("claimed", _view(session, handoff))


def agent_says(handoff_id: int, agent_id: int | str, agent_name: str, text: str = "",
               photo_sha256: Optional[str] = None) -> AgentSaid:
    """An agent's message for the user. The first agent to write in a waiting hand-over holds it."""
    agent_id = str(agent_id)
    with transaction() as session:
        handoff = _locked(session, handoff_id)
        if handoff.state == "closed":
            return AgentSaid("closed", _view(session, handoff))
        if handoff.state == "held" and handoff.agent_id != agent_id:
            return AgentSaid("held_by_other", _view(session, handoff))
        now = clock.utcnow()
        claimed = handoff.state == "waiting"
        rows = []
        if claimed:
            _hold(handoff, agent_id, agent_name, now)
            rows.append(_add_message(session, handoff, "bot", AGENT_JOINED_KO))
            audit.record(session, agent_actor(agent_id), "handoff.claimed", f"handoff:{handoff.id}",
                         {"agent": agent_name, "by": "first message"})
        handoff.last_agent_at = now
        rows.append(_add_message(session, handoff, "agent", text.strip(), photo_sha256=photo_sha256,
                                 actor=agent_actor(agent_id)))
        audit.record(session, agent_actor(agent_id), "handoff.agent_message", f"handoff:{handoff.id}",
                     {"chars": len(text or ""), "photo": photo_sha256})
        return AgentSaid("sent", _view(session, handoff), claimed, tuple(r.id for r in rows))


def add_note(handoff_id: int, agent_id: int | str, text: str) -> HandoffView:
    """`/note`: an internal note, for the team only."""
    text = (text or "").strip()
    if not text:
        raise HandoffError("메모 내용을 적어 주세요. 예: /note 같은 사진으로 두 번 신고한 고객이에요")
    with transaction() as session:
        handoff = _locked(session, handoff_id)
        _add_message(session, handoff, "note", text, actor=agent_actor(agent_id))
        audit.record(session, agent_actor(agent_id), "handoff.note", f"handoff:{handoff.id}", {"text": text[:500]})
        return _view(session, handoff)


def add_system_note(handoff_id: int, text: str) -> None:
    """A note of the desk for the topic (delivered by the desk like a user message)."""
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is not None:
            _add_message(session, handoff, "system", text)


def _close(session: Session, handoff: Handoff, actor: str, reason: str, actor_name: Optional[str] = None) -> None:
    handoff.state, handoff.agent_id = "closed", None
    handoff.closed_at, handoff.close_reason = clock.utcnow(), reason
    handoff.closed_by = (actor_name or actor)[:100]
    audit.record(session, actor, "handoff.closed", f"handoff:{handoff.id}", {"reason": reason})


def close(handoff_id: int, actor: str, reason: str = "done", actor_name: Optional[str] = None
          ) -> tuple[HandoffView, bool]:
    """Hands the conversation back to the bot (`/done`, the topic closed, `cleanbot handoff release`).
    Returns the hand-over and whether this call closed it (False: it already was)."""
    if reason not in CLOSE_REASON_KO:
        raise ValueError(f"unknown close reason {reason!r}")
    with transaction() as session:
        handoff = _locked(session, handoff_id)
        if handoff.state == "closed":
            return _view(session, handoff), False
        _close(session, handoff, actor, reason, actor_name)
        return _view(session, handoff), True


def release_idle(now: Optional[datetime] = None, minutes: Optional[float] = None) -> list[HandoffView]:
    """Held hand-overs without an agent message for `minutes` (CLEANBOT_HANDOFF_IDLE_MINUTES) go back to the
    queue, with a note for the topic and a word to the user."""
    now = now or clock.utcnow()
    minutes = get_settings().handoff_idle_minutes if minutes is None else minutes
    cutoff = now - timedelta(minutes=minutes)
    released = []
    with transaction() as session:
        idle = session.execute(
            select(Handoff).where(Handoff.state == "held",
                                  func.coalesce(Handoff.last_agent_at, Handoff.held_at) < cutoff)
            .order_by(Handoff.id).with_for_update(skip_locked=True)
        ).scalars().all()
        for handoff in idle:
            agent = handoff.agent_name or handoff.agent_id
            handoff.state, handoff.agent_id, handoff.agent_name, handoff.queued_at = "waiting", None, None, now
            _add_message(session, handoff, "system", idle_note_ko(minutes, agent))
            _add_message(session, handoff, "bot", IDLE_USER_KO)
            audit.record(session, "system", "handoff.idle_released", f"handoff:{handoff.id}",
                         {"agent": agent, "minutes": minutes})
            released.append(_view(session, handoff))
    return released


def mark_resumed(handoff_id: int, text: str, buttons: Optional[list], delivered: bool) -> bool:
    """The bot has the conversation again: records the hand-back message (for web users, their outbox row).
    False if it was already resumed (nothing written)."""
    with transaction() as session:
        handoff = _locked(session, handoff_id)
        if handoff.resumed_at is not None:
            return False
        handoff.resumed_at = clock.utcnow()
        _add_message(session, handoff, "bot", text, buttons=buttons, delivered=delivered)
        return True


def needing_work(limit: int = 200) -> list[int]:
    """Hand-overs the desk has something to do for: open without a topic, rows still to deliver through
    Telegram (topic rows, and user rows of Telegram users), or closed and not yet handed back."""
    with transaction() as session:
        no_topic = select(Handoff.id).where(Handoff.state.in_(OPEN_HANDOFF_STATES), Handoff.topic_id.is_(None))
        unresumed = select(Handoff.id).where(Handoff.state == "closed", Handoff.resumed_at.is_(None))
        pending = (
            select(HandoffMessage.handoff_id).join(Handoff, Handoff.id == HandoffMessage.handoff_id)
            .where(HandoffMessage.delivered_at.is_(None), HandoffMessage.attempts < MAX_ATTEMPTS,
                   or_(HandoffMessage.direction.in_(TO_TOPIC),
                       (HandoffMessage.direction.in_(TO_USER)) & (Handoff.channel == "telegram")))
        )
        ids: set[int] = set()
        for query in (no_topic, unresumed, pending):
            ids.update(session.execute(query.limit(limit)).scalars())
        return sorted(ids)[:limit]


def pending_messages(handoff_id: int, directions: tuple[str, ...]) -> list[MessageView]:
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        rows = session.execute(
            select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id,
                                         HandoffMessage.direction.in_(directions),
                                         HandoffMessage.delivered_at.is_(None),
                                         HandoffMessage.attempts < MAX_ATTEMPTS)
            .order_by(HandoffMessage.id)
        ).scalars().all()
        return [_message_view(session, row, handoff) for row in rows]


def messages(handoff_id: int) -> list[MessageView]:
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        rows = session.execute(
            select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id).order_by(HandoffMessage.id)
        ).scalars().all()
        return [_message_view(session, row, handoff) for row in rows]


def mark_delivered(message_ids: list[int] | int) -> int:
    """Marks rows delivered (those that were not yet); how many were."""
    ids = [message_ids] if isinstance(message_ids, int) else list(message_ids)
    if not ids:
        return 0
    with transaction() as session:
        result = session.execute(
            update(HandoffMessage).where(HandoffMessage.id.in_(ids), HandoffMessage.delivered_at.is_(None))
            .values(delivered_at=clock.utcnow()).execution_options(synchronize_session=False)
        )
        return result.rowcount or 0


def mark_failed(message_id: int, error: str, final: bool = False) -> int:
    """One more failed attempt; returns the attempts so far (rows stop being due after MAX_ATTEMPTS).
    final: the channel refused it for good (the user blocked the bot): no more attempts, kept undelivered."""
    with transaction() as session:
        row = session.execute(
            select(HandoffMessage).where(HandoffMessage.id == message_id).with_for_update()
        ).scalar_one_or_none()
        if row is None or row.delivered_at is not None:
            return 0
        row.attempts = MAX_ATTEMPTS if final else (row.attempts or 0) + 1
        row.last_error = str(error)[:2000]
        return row.attempts


# ---------------------------------------------------------------- web users (REST pull, socket.io push)


def take_web_messages(sender_id: str, limit: int = 50, channel: str = "web") -> list[MessageView]:
    """The web (or KakaoTalk: `channel`) user's undelivered agent and bot rows, marked delivered in the same
    transaction."""
    now = clock.utcnow()
    with transaction() as session:
        rows = session.execute(
            select(HandoffMessage, Handoff).join(Handoff, Handoff.id == HandoffMessage.handoff_id)
            .where(Handoff.channel == channel, Handoff.sender_id == sender_id,
                   HandoffMessage.direction.in_(TO_USER), HandoffMessage.delivered_at.is_(None))
            .order_by(HandoffMessage.id).limit(limit)
            .with_for_update(of=HandoffMessage, skip_locked=True)
        ).all()
        taken = []
        for row, handoff in rows:
            result = session.execute(
                update(HandoffMessage).where(HandoffMessage.id == row.id, HandoffMessage.delivered_at.is_(None))
                .values(delivered_at=now).execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:
                taken.append(_message_view(session, row, handoff))
        return taken


def due_web(limit: int = 200) -> list[MessageView]:
    """Undelivered agent and bot rows of web users (the socket.io channel pushes those of connected ones)."""
    with transaction() as session:
        rows = session.execute(
            select(HandoffMessage, Handoff).join(Handoff, Handoff.id == HandoffMessage.handoff_id)
            .where(Handoff.channel == "web", HandoffMessage.direction.in_(TO_USER),
                   HandoffMessage.delivered_at.is_(None))
            .order_by(HandoffMessage.id).limit(limit)
        ).all()
        return [_message_view(session, row, handoff) for row, handoff in rows]


def agent_photo_path(sha256: str) -> Optional[str]:
    """The file of a photo an agent sent (only those: other photos are not served to web users)."""
    with transaction() as session:
        sent = session.execute(
            select(HandoffMessage.id).where(HandoffMessage.photo_sha256 == sha256,
                                            HandoffMessage.direction == "agent").limit(1)
        ).scalar_one_or_none()
        if sent is None:
            return None
        photo = session.get(Photo, sha256)
        return photo.path if photo is not None else None


# ---------------------------------------------------------------- the command line


def list_open() -> list[HandoffView]:
    """Waiting and held hand-overs, the longest waiting first."""
    with transaction() as session:
        rows = session.execute(
            select(Handoff).where(Handoff.state.in_(OPEN_HANDOFF_STATES)).order_by(Handoff.queued_at, Handoff.id)
        ).scalars().all()
        return [_view(session, h) for h in rows]


def detail(handoff_id: int) -> Optional[HandoffDetail]:
    with transaction() as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return None
        rows = session.execute(
            select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id).order_by(HandoffMessage.id)
        ).scalars().all()
        return HandoffDetail(_view(session, handoff), [_message_view(session, r, handoff) for r in rows])


def agent_actor(agent_id: int | str) -> str:
    """How an agent appears in the audit log and on refunds and case timelines."""
    return f"telegram-agent:{agent_id}"


# ---------------------------------------------------------------- words the service writes itself

AGENT_JOINED_KO = "상담원이 연결됐어요. 지금부터 상담원이 답변해 드려요."
IDLE_USER_KO = ("상담원 연결이 잠시 끊겼어요. 다른 상담원이 곧 이어서 답변해 드릴게요. "
                "기다리시는 동안 남기실 말씀을 적어 주셔도 돼요.")


def idle_note_ko(minutes: float, agent: Optional[str]) -> str:
    shown = f"{minutes:g}분"
    who = f"{agent}님의 " if agent else ""
    return (f"⏰ {shown} 동안 {who}답변이 없어서 대기열로 돌려놨어요. "
            "다른 상담원이 /claim으로 맡거나 바로 답변해 주세요.")
