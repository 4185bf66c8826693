"""The web chat page, served by the Rasa server itself at /chat.

Rasa mounts each input channel's blueprint at urljoin("/webhooks/", url_prefix()); an absolute
prefix ("/chat") replaces the "/webhooks/" part, so this channel's page lives at /chat. The page
talks to the bot over the socket.io channel (connectors/socketio.py); this channel only serves
files, all of them from connectors/webchat_static/ (no CDN, no web fonts), and a small JSON
configuration: the socket.io event names, the photo limits and, in demo mode only, the identities
the page offers (the demo customers and web rights holders of bot/fixtures/demo.yml) with the
demo-only token endpoint. In production the identity comes from the marketplace's login: a signed
token handed to the page as /chat#token=<jwt>.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import yaml
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.settings import get_settings

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "webchat_static"
STATIC_FILES = {
    "webchat.css": "text/css; charset=utf-8",
    "webchat.js": "text/javascript; charset=utf-8",
    "socket.io.min.js": "text/javascript; charset=utf-8",
    "socket.io.LICENSE.txt": "text/plain; charset=utf-8",
}
# Everything the page loads comes from this server; bot messages may show images from other hosts
# (e.g. brand report charts under CLEANBOT_PUBLIC_URL).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'self'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def demo_identities(path: Optional[Path] = None) -> list[dict[str, str]]:
    """The demo customers and web rights holders, as the page's identity selector lists them."""
    from bot.demo import DEMO_FILE

    data = yaml.safe_load((path or DEMO_FILE).read_text(encoding="utf-8")) or {}
    people = [
        {"id": c["id"], "label": f"{c['name']} ({c['id']})", "kind": "shopper"}
        for c in data.get("customers") or []
    ]
    for holder in data.get("rights_holders") or []:
        for identity in holder.get("identities") or []:
            if identity.get("channel") == "web":
                people.append({
                    "id": identity["external_id"],
                    "label": f"{holder['name']} · {holder['brand']} ({identity['external_id']})",
                    "kind": "rights_holder",
                })
    return people


def _socketio_settings(request: Request) -> dict[str, Any]:
    """The event names and path of the socket.io channel running in the same server."""
    from rasa.core.channels.socketio import SocketIOInput

    for channel in getattr(request.app.ctx, "input_channels", None) or []:
        if isinstance(channel, SocketIOInput):
            return {
                "path": channel.socketio_path or "/socket.io",
                "namespace": channel.namespace or "/",
                "user_message_evt": channel.user_message_evt,
                "bot_message_evt": channel.bot_message_evt,
            }
    return {}


class WebChatInput(InputChannel):
    """Serves the chat page; the conversation itself runs over the socket.io channel."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WebChatInput":
        credentials = credentials or {}
        return cls(demo_identities=bool(credentials.get("demo_identities", True)))

    def __init__(self, demo_identities: bool = True) -> None:
        self.demo_identities = demo_identities

    def url_prefix(self) -> Text:
        return "/chat"

    def shows_demo(self) -> bool:
        """Demo identities and demo tokens exist only in demo mode, whatever credentials.yml says."""
        return self.demo_identities and not get_settings().is_production

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webchat = Blueprint("cleanbot_webchat", __name__)

        async def page(_: Request) -> HTTPResponse:
            return await response.file(STATIC_DIR / "index.html", mime_type="text/html; charset=utf-8",
                                       headers=HEADERS)

        webchat.add_route(page, "", methods=["GET"], name="page", strict_slashes=True)
        webchat.add_route(page, "/", methods=["GET"], name="page_slash", strict_slashes=True)

        @webchat.route("/config.json", methods=["GET"])
        async def config(request: Request) -> HTTPResponse:
            settings = get_settings()
            socketio = _socketio_settings(request)
            if not socketio:
                logger.warning("The web chat needs the socket.io channel in credentials.yml")
            return response.json(
                {
                    "socketio": socketio,
                    "photo_max_bytes": settings.photo_max_bytes,
                    "photos_per_message": settings.photos_per_report,
                    "identities": demo_identities() if self.shows_demo() else [],
                    "demo_token_url": "/chat/demo-token" if self.shows_demo() else "",
                },
                headers=HEADERS,
            )

        if self.shows_demo():
            @webchat.route("/demo-token", methods=["POST"])
            async def demo_token(request: Request) -> HTTPResponse:
                """Demo only (the route does not exist in production): a signed token for a demo
                identity, so the page and `cleanbot chat` go through the same check as production."""
                from bot.server.auth import issue_demo_token
                from connectors.doors import DoorError, check_sender

                body = request.json if isinstance(request.json, dict) else {}
                try:
                    sender = check_sender(body.get("sender"))
                except DoorError as refused:
                    return response.json(refused.as_json(), status=refused.status, headers=HEADERS)
                return response.json({"token": issue_demo_token(sender), "sender": sender}, headers=HEADERS)

        @webchat.route("/static/<name>", methods=["GET"])
        async def static(_: Request, name: str) -> HTTPResponse:
            mime_type = STATIC_FILES.get(name)
            if mime_type is None:
                return response.text("없는 파일이에요.", status=404, headers=HEADERS)
            return await response.file(STATIC_DIR / name, mime_type=mime_type, headers=HEADERS)

        return webchat
