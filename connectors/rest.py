"""The REST channel (/webhooks/rest/webhook) with photos and pending status updates.

A message may carry `metadata.photos`: a list of base64-encoded images (or data URLs). They are
checked and stored here, once, and the message goes on to Rasa with `metadata.photo_ids` (SHA-256
ids) and `metadata.photo_errors` (Korean messages for refused files) instead of the bytes, so the
tracker never holds image data. Case status updates waiting in the outbox for this sender are
delivered with the reply, marked 🔔 and before the bot's own messages, so they never bury the question the
reply ends with (bot.services.notifier.take_pending_for); what agents wrote during a hand-over comes first
(bot.services.handoff.take_web_messages). Every message
goes through the hand-over gate (connectors/handoff.py).
GET /webhooks/rest/handoff-photos/<sha256> serves the photos agents sent to web users.
GET /webhooks/rest/charts/<name>.png serves the brand report charts (bot.services.brand_stats)."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.server.auth import Refused
from bot.services.identity import channel_kind
from bot.services.photos import accept_base64_async
from connectors.doors import DoorError, client_metadata, identify, message_text, check_rate, refusal_json

logger = logging.getLogger(__name__)

EMPTY_KO = "message가 비어 있어요. 보낼 내용을 넣어 주세요."
BAD_JSON_KO = "요청 본문이 올바른 JSON 객체가 아니에요. {\"message\": \"...\"} 형식으로 보내 주세요."
PHOTO_ONLY_TEXT = "/send_photo"


async def prepare_message(text: Any, metadata: Any) -> tuple[str, dict]:
    """Stores photos (decoded off the event loop) and returns the text and metadata Rasa should see.

    Only what a client may send is kept of its metadata (connectors.doors); raises DoorError for a
    `message` that is not a string."""
    text = message_text(text)
    metadata = client_metadata(metadata)
    raw = metadata.pop("photos", None)
    if raw:
        accepted = await accept_base64_async(raw)
        metadata["photo_ids"] = accepted.ids
        metadata["photo_errors"] = accepted.errors_ko
    if not text and raw:
        text = PHOTO_ONLY_TEXT
    return text, metadata


async def read_message(request: Request) -> tuple[str, str, dict]:
    """(sender, text, metadata) of a REST message, checked at the door in this order: the body's shape,
    who is asking, how often, then the content (photos are decoded last, only for an accepted caller)."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic raises on a body that is not JSON
        body = None
    if not isinstance(body, dict):
        raise DoorError(400, "bad_json", BAD_JSON_KO)
    sender, _identity = identify(request.headers.get("Authorization"), body.get("sender"))
    await check_rate(sender)
    text, metadata = await prepare_message(body.get("message"), body.get("metadata"))
    if not text:
        raise DoorError(400, "message_empty", EMPTY_KO)
    return sender, text, metadata


def handoff_message(sender: str, row) -> dict:
    """An agent's (or the hand-over's) message as a REST / socket.io bot message."""
    from bot.settings import get_settings

    message: dict[str, Any] = {"recipient_id": sender}
    if row.text:
        message["text"] = row.text
    if row.photo_sha256:
        message["image"] = f"{get_settings().public_url.rstrip('/')}/webhooks/rest/handoff-photos/{row.photo_sha256}"
    if row.buttons:
        message["buttons"] = row.buttons
    return message


# Channels whose users take the agents' messages with their next request (Telegram's are sent by the desk).
PULL_CHANNELS = ("web", "kakao")


def pending_handoff_messages(channel: str, sender: str) -> list[dict]:
    """What agents wrote to this web (or KakaoTalk) sender since their last request, taken (marked
    delivered) at once."""
    from bot.services.handoff import take_web_messages

    kind = channel_kind(channel)
    if kind not in PULL_CHANNELS:
        return []
    try:
        return [handoff_message(sender, row) for row in take_web_messages(sender, channel=kind)]
    except Exception:  # noqa: BLE001 - an outbox problem must not cost the user their answer
        logger.exception("could not read the agents' messages for %s", sender)
        return []


def bell(text: str) -> str:
    """A notification as the user sees it among replies: marked 🔔."""
    return text if text.startswith("🔔") else f"🔔 {text}"


def pending_updates(channel: str, sender: str) -> list[dict]:
    """The sender's waiting case status updates and recall notices (with their buttons) as bot messages,
    taken (marked delivered) at once."""
    from bot.services.notifier import take_pending_for

    try:
        return [{"recipient_id": sender, "text": bell(n.text), **({"buttons": n.buttons} if n.buttons else {})}
                for n in take_pending_for(channel_kind(channel), sender)]
    except Exception:  # noqa: BLE001 - an outbox problem must not cost the user their answer
        logger.exception("could not read pending status updates for %s", sender)
        return []


class CleanBotRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("cleanbot_rest_webhook", __name__)
        from connectors import housekeeping

        housekeeping.attach(webhook)  # the decode workers, the photo prune and the freeze sweep live with the server

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, metadata = await read_message(request)
            except Refused as refused:
                body, status, headers = refusal_json(refused)
                return response.json(body, status=status, headers=headers)
            from connectors.handoff import hub

            hub.attach(request.app)
            collector = CollectingOutputChannel()
            await hub.handle(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata), on_new_message
            )
            # The agents' messages came before this one; status updates before the bot's answer, whose
            # last line is often the question the user must answer next.
            agents = await asyncio.to_thread(pending_handoff_messages, self.name(), sender)
            updates = await asyncio.to_thread(pending_updates, self.name(), sender)
            return response.json(agents + updates + collector.messages)

        @webhook.route("/handoff-photos/<sha>", methods=["GET"])
        async def handoff_photo(_: Request, sha: str) -> HTTPResponse:
            """A photo an agent sent to a web user (only those), by its SHA-256."""
            from bot.services.handoff import agent_photo_path

            path = None
            if len(sha) == 64 and all(c in "0123456789abcdef" for c in sha):
                path = await asyncio.to_thread(agent_photo_path, sha)
            if path is None:
                return response.json({"error": "사진을 찾을 수 없어요. 대화창을 새로 고쳐 주세요."}, status=404)
            import mimetypes

            mime = mimetypes.guess_type(str(path))[0] or "image/jpeg"
            return await response.file(str(path), mime_type=mime, headers={"Cache-Control": "private, max-age=86400"})

        @webhook.route("/charts/<name>", methods=["GET"])
        async def chart(_: Request, name: str) -> HTTPResponse:
            """Brand report charts (bot.services.brand_stats): only PNGs of the chart directory, by safe name."""
            from bot.services.brand_stats import chart_path

            path = chart_path(name)
            if path is None:
                return response.json({"error": "차트를 찾을 수 없어요. 통계를 다시 요청해 주세요."}, status=404)
            return await response.file(str(path), mime_type="image/png", headers={"Cache-Control": "private, max-age=3600"})

        return webhook
