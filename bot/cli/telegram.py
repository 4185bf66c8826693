"""`cleanbot telegram …` and `cleanbot shopper link-token …`: running the bot on Telegram.

    cleanbot telegram poll                       # make run, in long-polling mode (no public URL needed)
    cleanbot telegram set-webhook https://bot.example.com [--drop-pending]
    cleanbot telegram delete-webhook             # back to polling
    cleanbot shopper link-token shopper-1 [--json]
"""
from __future__ import annotations

import asyncio
import os
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

from bot.cli.common import emit as _emit, fail as _fail, subcommands as _subcommands

WEBHOOK_PATH = "/webhooks/telegram/webhook"



def _bot():
    from bot.settings import get_settings
    from connectors.telegram_out import make_bot

    settings = get_settings()
    return make_bot(settings.telegram_bot_token, settings.telegram_api_base_url, settings.telegram_file_base_url)


def webhook_url(url: str) -> str:
    """A bare host (https://bot.example.com) gets the channel's webhook path."""
    parts = urlsplit(url.strip())
    if parts.path in ("", "/"):
        parts = parts._replace(path=WEBHOOK_PATH)
    return urlunsplit(parts)


def bot_username(timeout: float = 10) -> Optional[str]:
    """TELEGRAM_BOT_USERNAME, or the bot's username from getMe when a token is set; None if unknown."""
    from bot.settings import get_settings

    settings = get_settings()
    if settings.telegram_bot_username:
        return settings.telegram_bot_username.lstrip("@")
    if not settings.telegram_bot_token:
        return None

    async def ask() -> Optional[str]:
        async with _bot() as bot:
            return bot.username

    try:
        return asyncio.run(asyncio.wait_for(ask(), timeout))
    except Exception:  # noqa: BLE001 - the link is a convenience; the token is printed anyway
        return None


# ---------------------------------------------------------------- telegram


def cmd_poll(args) -> int:
    from bot.cli.serving import run
    from bot.settings import get_settings

    if not get_settings().telegram_bot_token:
        return _fail("TELEGRAM_BOT_TOKEN이 설정되지 않았어요. BotFather에게 받은 토큰을 환경 변수로 설정한 뒤 다시 실행해 주세요.")
    os.environ["TELEGRAM_WEBHOOK_URL"] = ""  # polling, whatever the environment said
    return run()


def cmd_set_webhook(args) -> int:
    from telegram.error import TelegramError

    from bot.settings import get_settings
    from connectors.telegram import ALLOWED_UPDATES

    settings = get_settings()
    if not settings.telegram_bot_token:
        return _fail("TELEGRAM_BOT_TOKEN이 설정되지 않았어요. BotFather에게 받은 토큰을 먼저 설정해 주세요.")
    if not settings.telegram_webhook_secret:
        import secrets

        return _fail(
            "TELEGRAM_WEBHOOK_SECRET이 설정되지 않았어요. 텔레그램이 웹훅 요청마다 보내는 비밀값이라 꼭 필요해요.\n"
            f"예: export TELEGRAM_WEBHOOK_SECRET={secrets.token_urlsafe(32)}\n"
            "서버(cleanbot run)에도 같은 값을 설정해 주세요."
        )
    url = webhook_url(args.url)

    async def register() -> None:
        async with _bot() as bot:
            await bot.set_webhook(url, secret_token=settings.telegram_webhook_secret,
                                  allowed_updates=ALLOWED_UPDATES, drop_pending_updates=args.drop_pending)

    try:
        asyncio.run(register())
    except TelegramError as error:
        return _fail(f"웹훅을 등록하지 못했어요: {error}\n주소가 공개된 HTTPS 주소인지(포트 443, 80, 88, 8443) 확인해 주세요.")
    print(f"웹훅을 등록했어요: {url}")
    if settings.telegram_webhook_url != url:
        print(f"서버도 웹훅 모드로 실행하려면 TELEGRAM_WEBHOOK_URL={url} 을 설정해 주세요. "
              "설정하지 않으면 서버가 시작할 때 폴링 모드로 돌아가면서 웹훅을 지워요.")
    return 0


def cmd_delete_webhook(args) -> int:
    from telegram.error import TelegramError

    from bot.settings import get_settings

    if not get_settings().telegram_bot_token:
        return _fail("TELEGRAM_BOT_TOKEN이 설정되지 않았어요.")

    async def delete() -> None:
        async with _bot() as bot:
            await bot.delete_webhook()

    try:
        asyncio.run(delete())
    except TelegramError as error:
        return _fail(f"웹훅을 지우지 못했어요: {error}")
    print("웹훅을 지웠어요. 이제 폴링 모드로 실행할 수 있어요(cleanbot telegram poll).")
    return 0


# ---------------------------------------------------------------- shopper


def cmd_link_token(args) -> int:
    from bot.clock import to_local
    from bot.replies.korean import korean_datetime
    from bot.services import telegram as tg

    try:
        issued = tg.issue_link_token(args.customer, actor=f"cli:{args.actor}")
    except tg.UnknownCustomer as error:
        return _fail(error.message_ko)
    username = bot_username()
    link = f"https://t.me/{username}?start={issued.token}" if username else None
    value = {"customer_id": issued.customer_id, "customer_name": issued.customer_name, "token": issued.token,
             "expires_at": issued.expires_at, "deep_link": link}

    def text(v) -> str:
        lines = [f"{v['customer_name']}({v['customer_id']}) 고객의 텔레그램 연결 링크예요. "
                 f"한 번만 쓸 수 있고 {korean_datetime(to_local(issued.expires_at))}까지 유효해요."]
        if link:
            lines.append(link)
        else:
            lines.append("봇 사용자 이름을 알 수 없어서 링크 대신 토큰만 보여 드려요(TELEGRAM_BOT_USERNAME을 설정하면 링크도 "
                         f"만들어 드려요). 텔레그램에서 봇에게 '/start {issued.token}'을 보내면 돼요.")
        lines.append(f"토큰: {issued.token}")
        return "\n".join(lines)

    _emit(args, value, text)
    return 0


def register(sub, add) -> None:
    """Adds `telegram` and `shopper link-token` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    telegram = _subcommands(sub, "telegram", "텔레그램 채널", "telegram_command")
    add(telegram, "poll", cmd_poll, "폴링 모드로 봇 실행 (공개 주소 없이, make run과 같음)", json_flag=False)
    p = add(telegram, "set-webhook", cmd_set_webhook, "웹훅 주소를 비밀값과 함께 텔레그램에 등록", json_flag=False)
    p.add_argument("url", help=f"공개 HTTPS 주소 (경로가 없으면 {WEBHOOK_PATH}를 붙여요)")
    p.add_argument("--drop-pending", action="store_true", help="쌓여 있던 업데이트 버리기")
    add(telegram, "delete-webhook", cmd_delete_webhook, "웹훅 지우기 (폴링 모드로 돌아가기)", json_flag=False)

    shopper = _subcommands(sub, "shopper", "구매자", "shopper_command")
    p = add(shopper, "link-token", cmd_link_token,
            "텔레그램 계정 연결용 일회용 링크 발급 (유효 기간: TELEGRAM_LINK_TOKEN_TTL_MINUTES)")
    p.add_argument("customer", help="마켓플레이스 고객 ID (예: shopper-1)")
    p.add_argument("--actor", default="operator")
