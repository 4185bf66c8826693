"""`cleanbot setup`, `cleanbot train`, `cleanbot run` and `cleanbot chat`: getting the bot ready and serving it.

`run` (also `cleanbot telegram poll`) starts the servers of bot.server.runner (one Rasa server and one action
server) or bot.server.replicas (several behind nginx) and keeps them until Ctrl-C or SIGTERM."""
from __future__ import annotations

import os
import signal
import sys
import time

from bot.settings import PROJECT_ROOT, get_settings


def cmd_setup(args) -> int:
    """Migrate, then load the demo data into an empty database."""
    from bot import demo
    from bot.migrate import upgrade

    upgrade()
    if get_settings().is_production:
        print("production 모드라서 데모 데이터는 불러오지 않았어요.")
    elif demo.is_empty():
        demo.load()
        print("빈 데이터베이스에 데모 데이터를 불러왔어요.")
    return 0


def cmd_train(args) -> int:
    from bot.nlu.training import train_if_changed

    path = train_if_changed(force=args.force)
    print(path)
    return 0


def cmd_run(args) -> int:
    return run(replicas=args.replicas)


def cmd_chat(args) -> int:
    from bot.cli.chat import chat

    return chat(args.sender, args.url or get_settings().rasa_url, args.token or os.environ.get("CLEANBOT_CHAT_TOKEN"))


def register(sub, add) -> None:
    """Adds `setup`, `train`, `run` and `chat` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    add(sub, "setup", cmd_setup, "마이그레이션 후 빈 데이터베이스면 데모 데이터", json_flag=False)
    p = add(sub, "train", cmd_train, "학습 데이터나 설정이 바뀌었을 때만 모델 학습", json_flag=False)
    p.add_argument("--force", action="store_true")
    p = add(sub, "run", cmd_run, "액션 서버와 Rasa 서버 실행", json_flag=False)
    p.add_argument("--replicas", type=int, default=1,
                   help="Rasa 서버와 액션 서버를 이만큼 띄우고 nginx로 나눠요(2 이상은 CLEANBOT_REDIS_URL 필요)")
    p = add(sub, "chat", cmd_chat, "터미널 채팅 (REST 채널)", json_flag=False)
    p.add_argument("--sender", default="shopper-1")
    p.add_argument("--url", default=None)
    p.add_argument("--token", default=None, help="로그인 토큰(JWT). 없으면 데모 서버에서 --sender의 데모 토큰을 받아요")


# ---------------------------------------------------------------- cleanbot run


def _telegram_line(settings) -> str:
    if not settings.telegram_bot_token:
        return "  텔레그램: TELEGRAM_BOT_TOKEN이 없어서 꺼져 있어요.\n"
    if settings.telegram_webhook_url:
        return f"  텔레그램: 웹훅 모드예요({settings.telegram_webhook_url}).\n"
    return "  텔레그램: 폴링 모드로 연결했어요. 텔레그램에서 봇에게 말을 걸어 보세요.\n"


def _announce_encoder() -> None:
    """The FAQ search (and the NLU features, if configured) use the sentence encoder: say loudly when it
    is the fallback model, before anything else is printed."""
    from bot.nlu.encoder import fallback_banner

    banner = fallback_banner()
    if banner:
        print(banner, flush=True)


def run(replicas: int = 1) -> int:
    """`make run`: serve until Ctrl-C or SIGTERM, then stop everything started here.

    With `replicas` > 1: that many Rasa and action servers behind nginx (bot/server/replicas.py)."""
    from bot.nlu.training import train_if_changed
    from bot.server.security import demo_banner, refused_start

    settings = get_settings()
    refused = refused_start(settings)
    if refused:
        return refused
    banner = demo_banner(settings)
    if banner:
        print(banner, flush=True)
    _announce_encoder()
    from bot.server.replicas import Replicas, ReplicaProblem, check_replicas
    from bot.server.runner import BotServers, credentials_file

    try:
        check_replicas(replicas, settings)
    except ReplicaProblem as problem:
        print(problem, file=sys.stderr, flush=True)
        return 2
    model = train_if_changed()
    if replicas > 1:
        from bot.server.security import bind_host

        servers = Replicas(model, replicas, settings.rasa_port, bind_host(settings.rasa_host, settings),
                           credentials=credentials_file(), log_dir=PROJECT_ROOT / "var" / "logs")
        where = f"nginx {servers.url} → Rasa 서버 {replicas}개"
    else:
        servers = BotServers(model, settings.rasa_port, settings.action_port, credentials=credentials_file())
        where = f"{servers.rasa_url}  · 액션 서버: http://127.0.0.1:{settings.action_port}"
    stopping = {"flag": False}

    def _stop(signum, _frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        servers.start()
    except (ReplicaProblem, RuntimeError) as problem:
        print(problem, file=sys.stderr, flush=True)
        return 1
    url = getattr(servers, "url", None) or servers.rasa_url
    print(
        f"\n클린봇이 준비됐어요.\n"
        f"  웹 채팅: http://localhost:{settings.rasa_port}/chat  (브라우저에서 열고 데모 사용자를 골라 주세요)\n"
        f"  Rasa 서버(REST, socket.io): {where}\n"
        f"  터미널에서 대화하기: .venv/bin/cleanbot chat --sender shopper-1\n"
        f"  REST: curl -s {url}/webhooks/rest/webhook -d '{{\"sender\":\"shopper-1\",\"message\":\"안녕하세요\"}}'\n"
        f"{_telegram_line(settings)}"
        f"  멈추려면 Ctrl-C를 누르세요.\n",
        flush=True,
    )
    try:
        while not stopping["flag"]:
            if any(p.poll() is not None for p in servers.processes):
                print("서버 하나가 멈췄어요. 모두 종료할게요.", file=sys.stderr)
                servers.stop()
                return 1
            time.sleep(0.5)
    finally:
        servers.stop()
    return 0
