"""Starts the Rasa server with the flags the mode allows (bot.server.runner.rasa_arguments), after the same
start checks as `cleanbot run`, so a server started by hand refuses unsafe settings too.

    python -m bot.server.rasa_server --model models/x.tar.gz --port 5005 --credentials credentials.yml"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.server.runner import rasa_arguments
from bot.server.security import refused_start
from bot.settings import PROJECT_ROOT, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="클린봇 Rasa 서버")
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--credentials", default=str(PROJECT_ROOT / "credentials.yml"))
    args = parser.parse_args(argv)
    settings = get_settings()
    # Rasa takes more than one Sanic worker only with a lock store shared between them (Redis).
    os.environ.setdefault("SANIC_WORKERS", str(settings.worker_count))
    from bot.server.lock_store import worker_problem  # Rasa would accept any SANIC_WORKERS with our lock store type

    refused = refused_start(settings, [worker_problem(settings)])
    if refused:
        return refused
    from bot.server.rasa_speedups import install as install_speedups

    install_speedups()  # before Rasa starts, so forked workers have them too (CLEANBOT_RASA_SPEEDUPS=0: off)
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *rasa_arguments(settings, Path(args.model), args.port or settings.rasa_port,
                                        Path(args.credentials))]
    rasa_main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
