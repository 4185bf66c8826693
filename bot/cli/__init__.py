"""`cleanbot`: the command line of the bot and of the brand-protection team.

One module per command group registers its sub-commands with `register(sub, add)` (`add`:
bot.cli.common.add); the shared helpers live in bot.cli.common, so no command module imports this one."""
from __future__ import annotations

import argparse
from typing import Optional


def build_parser() -> argparse.ArgumentParser:
    from bot import bench
    from bot.cli import (database, handoff, holders, inspections, kakao, marketplace, nlu, programme, recalls,
                         review, serving, telegram)
    from bot.cli.common import add

    parser = argparse.ArgumentParser(prog="cleanbot", description="클린봇 명령줄 도구")
    sub = parser.add_subparsers(dest="command", required=True)
    database.register(sub, add)  # db upgrade, demo load
    serving.register(sub, add)  # setup, train, run, chat
    marketplace.register(sub, add)  # orders, reports, sellers
    database.register_photos(sub, add)  # photos prune
    holders.register(sub, add)  # brand-owner, cases
    telegram.register(sub, add)  # telegram, shopper link-token
    kakao.register(sub, add)  # shopper link-code
    nlu.register(sub, add)  # eval nlu|faq, models fetch
    bench.register(sub, add)  # bench load, bench soak
    handoff.register(sub, add)  # handoff list|show|release
    recalls.register(sub, add)  # recalls list
    inspections.register(sub, add)  # inspections add|list|plan
    review.register(sub, add)  # review queue|screen (eval screening: with nlu's eval group)
    programme.register(sub, add)  # programme report
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
