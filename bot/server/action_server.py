"""The action server: rasa-sdk's app behind a shared secret, on 127.0.0.1 by default.

Actions take the caller's identity from the tracker the request carries, so whoever can reach
/webhook can act as anyone: every route but /health needs `Authorization: Bearer <CLEANBOT_ACTION_TOKEN>`
(the Rasa server sends it through endpoints.yml's headers). A failing action answers a bare 500: rasa-sdk's
own handler echoes the whole request (the tracker, with descriptions and order numbers) into the reply,
which the Rasa server then logs.

    python -m bot.server.action_server [--port 5055]"""
from __future__ import annotations

import argparse
import hmac
import logging

from sanic import Sanic, response
from sanic.request import Request

from bot.server.security import UnsafeStart, bind_host, refused_start
from bot.settings import get_settings

logger = logging.getLogger(__name__)

OPEN_PATHS = {"/health"}
UNAUTHORIZED_KO = "액션 서버에 접근할 권한이 없어요. Rasa 서버의 CLEANBOT_ACTION_TOKEN 설정을 확인해 주세요."


def token_matches(authorization: str | None, expected: str) -> bool:
    from bot.server.auth import bearer_token

    token = bearer_token(authorization)
    return bool(expected) and token is not None and hmac.compare_digest(token.encode(), expected.encode())


MISSING_TOKEN = "액션 서버에는 CLEANBOT_ACTION_TOKEN이 필요해요. cleanbot run은 실행할 때마다 새로 만들어 줘요."


def create_app(token: str, actions_package: str = "actions") -> Sanic:
    from rasa_sdk.endpoint import create_app as create_sdk_app

    if not token:
        raise UnsafeStart([MISSING_TOKEN])
    app = create_sdk_app(actions_package, cors_origins=None)

    @app.middleware("request")
    async def require_token(request: Request):
        if request.path in OPEN_PATHS:
            return None
        if not token_matches(request.headers.get("Authorization"), token):
            logger.warning("action server: refused a request to %s from %s without the shared secret",
                           request.path, request.ip)
            return response.json({"error": UNAUTHORIZED_KO}, status=401)
        return None

    @app.exception(Exception)
    async def failed(request: Request, exception: Exception):
        # Type and action only: the request body is a whole tracker (personal data).
        action = (request.json or {}).get("next_action") if isinstance(request.json, dict) else None
        logger.error("action %s failed: %s", action, type(exception).__name__)
        return response.json({"error": "action failed", "action_name": action}, status=500)

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="클린봇 액션 서버")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    settings = get_settings()
    refused = refused_start(settings, [None if settings.action_token else MISSING_TOKEN])
    if refused:
        return refused
    app = create_app(settings.action_token, args.actions)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    host = bind_host(settings.action_host, settings)
    port = args.port or settings.action_port
    workers = settings.action_worker_count
    logger.info("action server on http://%s:%s with %s worker(s)", host, port, workers)
    app.run(host, port, workers=workers, access_log=False, motd=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
