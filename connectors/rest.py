"""The REST channel (/webhooks/rest/webhook) with photos and pending status updates.

A message may carry `metadata.photos`: a list of base64-encoded images (or data URLs). They are
checked and stored here, once, and the message goes on to Rasa with `metadata.photo_ids` (SHA-256
ids) and `metadata.photo_errors` (Korean messages for refused files) instead of the bytes, so the
tracker never holds image data. Case status updates waiting in the outbox for this sender are
delivered with the reply."""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.services.photos import accept_base64

logger = logging.getLogger(__name__)

MAX_TEXT = 10_000
PHOTO_ONLY_TEXT = "/send_photo"


def prepare_message(text: Optional[str], metadata: Optional[dict]) -> tuple[str, dict]:
    """Stores photos and returns the text and metadata Rasa should see."""
    metadata = dict(metadata or {})
    raw = metadata.pop("photos", None)
    if raw:
        accepted = accept_base64(raw)
        metadata["photo_ids"] = accepted.ids
        metadata["photo_errors"] = accepted.errors_ko
    text = (text or "").strip()[:MAX_TEXT]
    if not text and raw:
        text = PHOTO_ONLY_TEXT
    return text, metadata


class CleanBotRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("cleanbot_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender = body.get("sender")
            if not sender or not isinstance(sender, str):
                return response.json(
                    {"error": "sender가 필요해요. 요청 본문에 sender(고객 ID)를 넣어 주세요."}, status=400
                )
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            text, metadata = prepare_message(body.get("message"), metadata)
            if not text:
                return response.json(
                    {"error": "message가 비어 있어요. 보낼 내용을 넣어 주세요."}, status=400
                )
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
            )
            return response.json(collector.messages)

        return webhook
