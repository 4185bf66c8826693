"""The socket.io channel of the web chat (/chat): Rasa's SocketIOInput with photos and live pushes.

On top of Rasa's channel it
- runs every incoming message through `connectors.rest.prepare_message`, so `metadata.photos`
  (base64 strings or data URLs) are checked and stored exactly as on the REST channel;
- takes the sender id from the signed token in the connect `auth` payload (bot.server.auth), never from the
  client: a `session_id` that differs from the token's subject is refused with an `auth_error` event
  (status 403) and nothing is processed; a connection without a valid token is refused (401);
- keeps a map of connected sender ids to socket ids, and every few seconds delivers the due
  outbox rows of the "web" channel (case status updates, later agents' replies) to the senders
  that are connected (bot.services.notifier). Rows of senders without an open socket are not
  touched: they stay due for the REST channel's pull path. A pushed message counts as delivered
  only once the page confirmed it (socket.io acknowledgement);
- accepts messages big enough for a full set of photos (engine.io's and Sanic's websocket
  limits are 1 MB by default), and acknowledges every message once it has been handled, so the
  page knows when the bot has finished answering.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
from collections import defaultdict
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint
from socketio.exceptions import ConnectionRefusedError

from bot.server.auth import MISSING_KO, AuthError, Identity, Refused, bind_sender, verify

from bot.settings import get_settings
from connectors.doors import DoorError, check_rate, message_text
from connectors.rest import prepare_message

logger = logging.getLogger(__name__)

PUSH_CHANNEL = "web"
FAILED_KO = "메시지를 처리하지 못했어요. 잠시 후 다시 보내 주세요. 계속 안 되면 '상담원 연결'이라고 입력해 주세요."


class SenderNotConnected(Exception):
    """Raised by the push `send` for a sender without an open socket: the row stays due."""


def max_message_bytes() -> int:
    """The largest socket.io message we take: a full set of photos, base64-encoded, plus text."""
    settings = get_settings()
    per_photo = math.ceil(settings.photo_max_bytes / 3) * 4 + 64  # base64 and a data-URL prefix
    return settings.photos_per_report * per_photo + 1024 * 1024


class CleanBotSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel plus photos, sender bookkeeping and pushed notifications."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "CleanBotSocketIOInput":
        credentials = credentials or {}
        channel = super().from_credentials(credentials)
        channel.push_interval = float(credentials.get("push_interval", 2.0))
        return channel

    def __init__(self, *args: Any, push_interval: float = 2.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.push_interval = push_interval
        self.push_ack_timeout = 10.0
        self.due_limit = 500
        self.sids_by_sender: dict[str, set[str]] = defaultdict(set)
        self.sender_by_sid: dict[str, str] = {}
        self.subject_by_sid: dict[str, str] = {}  # set at connect from the verified token
        self._push_task: Optional[asyncio.Task] = None
        self._notifier_missing_logged = False

    # ------------------------------------------------------------------ senders and their sockets

    def _forget_sid(self, sid: str) -> Optional[str]:
        sender = self.sender_by_sid.pop(sid, None)
        if sender is not None:
            sids = self.sids_by_sender.get(sender)
            if sids is not None:
                sids.discard(sid)
                if not sids:
                    del self.sids_by_sender[sender]
        return sender

    def connected_senders(self) -> set[str]:
        return set(self.sids_by_sender)

    async def send_to_sender(self, external_id: str, text: str, extra: Optional[dict] = None) -> None:
        """Emits a pushed bot message to the sender's open sockets and waits for the page to confirm
        it. Raises if the sender has no open socket or no socket confirmed it in time."""
        sids = list(self.sids_by_sender.get(external_id, ()))
        if not sids or self.sio is None:
            raise SenderNotConnected(f"{external_id} has no open web chat")
        payload = {**(extra or {}), "text": text, "pushed": True}
        results = await asyncio.gather(*(
            self.sio.call(self.bot_message_evt, payload, to=sid,
                          namespace=self.namespace, timeout=self.push_ack_timeout)
            for sid in sids
        ), return_exceptions=True)
        if all(isinstance(result, BaseException) for result in results):
            raise SenderNotConnected(f"no web chat of {external_id} confirmed the message: {results[0]!r}")

    # ------------------------------------------------------------------ pushing due notifications

    # How long one server may push to a sender before another may take over (renewed while it pushes).
    SENDER_CLAIM_SECONDS = 60.0

    @property
    def push_holder(self) -> str:
        """This channel's id in push claims (bot.services.leases): one per server process."""
        holder = getattr(self, "_push_holder", None)
        if holder is None:
            from bot.services import leases

            holder = self._push_holder = leases.holder_id("web")
        return holder

    async def push_once(self) -> int:
        """Delivers the due "web" outbox rows of the connected senders; how many were delivered.

        Rows of senders without an open socket are left alone, so they stay due (no failed attempt,
        no backoff) for the REST channel's pull path or the sender's next visit. A row is marked
        delivered only after the page confirmed it, and failed (backoff) if a connected page did not.
        Every server process runs this for its own sockets; a sender with pages open on two servers has
        each row claimed by one of them first (notifier.push_due, and a claim per sender below)."""
        if not self.sids_by_sender:
            return 0
        try:
            from bot.services import notifier
        except ImportError:
            if not self._notifier_missing_logged:
                logger.warning("bot.services.notifier is not available: no pushed status updates in the web chat")
                self._notifier_missing_logged = True
            return 0
        delivered = await self.push_handoff_once()
        return delivered + await notifier.push_due(PUSH_CHANNEL, self.send_update,
                                                   only=self.sids_by_sender.__contains__, limit=self.due_limit)

    async def send_update(self, external_id: str, text: str, buttons: Optional[list] = None) -> None:
        """One outbox row to the sender's page; a recall notice carries its "환불받기" button."""
        await self.send_to_sender(external_id, text, {"buttons": buttons} if buttons else None)

    async def push_handoff_once(self) -> int:
        """Delivers what agents wrote to connected web senders (bot.services.handoff); the others take
        theirs with their next REST request or when they connect again. One process at a time pushes a
        sender's rows (a claim on the sender, bot.services.leases), reading them afresh once it has the
        claim, so a row is never sent by two servers and a sender's rows keep their order."""
        from bot.services import handoff, leases

        waiting: dict[str, set[int]] = defaultdict(set)  # sender -> hand-overs with rows for them
        for row in await asyncio.to_thread(handoff.due_web, self.due_limit):
            if row.sender_id in self.sids_by_sender:
                waiting[row.sender_id].add(row.handoff_id)
        delivered = 0
        for sender, handoff_ids in waiting.items():
            async with leases.holding(f"web-push:{sender}", self.push_holder, self.SENDER_CLAIM_SECONDS,
                                      forget=True) as held:
                if held is None:
                    continue  # another server is pushing to this sender's page right now
                for handoff_id in sorted(handoff_ids):
                    sent, stop = await self._push_handoff_rows(sender, handoff_id)
                    delivered += sent
                    if stop:
                        break
        return delivered

    async def _push_handoff_rows(self, sender: str, handoff_id: int) -> tuple[int, bool]:
        """One hand-over's undelivered rows for the sender, in order; (delivered, stop: the page is gone)."""
        from bot.services import handoff
        from connectors.rest import handoff_message

        delivered = 0
        for row in await asyncio.to_thread(handoff.pending_messages, handoff_id, handoff.TO_USER):
            message = handoff_message(row.sender_id, row)
            message.pop("recipient_id", None)
            text = message.pop("text", "")
            try:
                await self.send_to_sender(row.sender_id, text, message)
            except Exception as error:  # noqa: BLE001 - stays due
                logger.info("agent message %s not pushed to %s: %s", row.id, sender, error)
                return delivered, True
            delivered += await asyncio.to_thread(handoff.mark_delivered, row.id)
        return delivered, False

    async def _push_loop(self) -> None:
        from bot.services import leases

        await leases.run_periodically(self.push_once, self.push_interval, "web chat push")

    # ------------------------------------------------------------------ the blueprint

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def handle(message: UserMessage) -> None:
            try:
                text, metadata = await prepare_message(message.text, message.metadata)
                if not text:
                    return
                message.text, message.metadata = text, metadata
                from connectors.handoff import hub

                await hub.handle(message, on_new_message)
            except DoorError as refused:
                await message.output_channel.send_text_message(message.sender_id, refused.message_ko)
            except Exception:
                logger.exception("A web chat message could not be handled")
                if message.output_channel is not None:
                    await message.output_channel.send_text_message(message.sender_id, FAILED_KO)

        socketio_webhook = super().blueprint(handle)
        sio = self.sio
        limit = max_message_bytes()
        sio.eio.max_http_buffer_size = limit

        async def refuse(sid: Text, error: Exception) -> dict:
            """Tells the page why (an `auth_error` event) and processes nothing."""
            body = {"status": getattr(error, "status", 400), **error.as_json()}
            await sio.emit("auth_error", body, to=sid, namespace=self.namespace)
            return {"ok": False, **body}

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, _environ: Dict, auth: Optional[Dict] = None) -> bool:
            # The conversation is the token's subject, fixed for the socket's life (Rasa's convention:
            # the token in the connect `auth` payload).
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                identity = verify(token if isinstance(token, str) else None)
            except AuthError as refused:
                # The client sees {"message": Korean text, "data": {"status", "code"}}.
                raise ConnectionRefusedError(refused.message_ko, {"status": refused.status, "code": refused.code}) from None
            self.subject_by_sid[sid] = identity.subject
            return True

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Optional[Dict]) -> Optional[dict]:
            subject = self.subject_by_sid.get(sid)
            claimed = data.get("session_id") if isinstance(data, dict) else None
            if subject is None:
                return await refuse(sid, AuthError(401, "token_missing", MISSING_KO))
            try:
                bind_sender(Identity(subject), claimed if claimed not in (None, "") else None)
            except AuthError as refused:
                return await refuse(sid, refused)
            previous = self._forget_sid(sid)
            if previous is not None and previous != subject:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            await sio.enter_room(sid, subject, namespace=self.namespace)
            self.sids_by_sender[subject].add(sid)
            self.sender_by_sid[sid] = subject
            await sio.emit("session_confirm", subject, room=sid, namespace=self.namespace)
            logger.debug("Socket %s is bound to its signed subject", sid)
            return None

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any) -> Optional[dict]:
            subject = self.subject_by_sid.get(sid)
            data = data if isinstance(data, dict) else {}
            if subject is None:
                return await refuse(sid, AuthError(401, "token_missing", MISSING_KO))
            try:
                claimed = data.get("session_id")
                bind_sender(Identity(subject), claimed if claimed not in (None, "") else None)
                await check_rate(subject)
                text = message_text(data.get("message"))
            except Refused as refused:
                if isinstance(refused, DoorError) and refused.status == 429:
                    await sio.emit(self.bot_message_evt, {"text": refused.message_ko}, room=sid,
                                   namespace=self.namespace)
                return await refuse(sid, refused)
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str):
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = {}
            output = SocketIOOutput(sio, self.bot_message_evt)
            await handle(UserMessage(text, output, subject, input_channel=self.name(), metadata=metadata))
            return {"ok": True}

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *_reason: Any) -> None:
            self._forget_sid(sid)
            self.subject_by_sid.pop(sid, None)
            logger.debug("Socket %s disconnected", sid)

        @socketio_webhook.listener("main_process_start")
        async def allow_photo_messages(app, _loop) -> None:
            # Read when the server is built, before any worker starts: the default is 1 MB.
            # Exactly a full set of photos and no more (Sanic's own default body cap is 100 MB).
            app.config.WEBSOCKET_MAX_SIZE = limit
            app.config.REQUEST_MAX_SIZE = limit

        @socketio_webhook.listener("after_server_start")
        async def start_pushing(_app, _loop) -> None:
            from connectors.handoff import hub

            hub.attach(_app)
            self._push_task = asyncio.create_task(self._push_loop())

        @socketio_webhook.listener("before_server_stop")
        async def stop_pushing(_app, _loop) -> None:
            if self._push_task is not None:
                self._push_task.cancel()
                self._push_task = None

        return socketio_webhook
