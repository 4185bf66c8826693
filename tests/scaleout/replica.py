"""One Clean Bot server process for the scale-out tests (`python -m tests.scaleout.replica CONFIG STATUS`):
the Telegram channel — long polling, status pushes and the agents' desk, with their leases — against the
test's database (CLEANBOT_DATABASE_URL) and the fake Bot API, without Rasa: every message is answered
with this process's id. Every 0.2 s it writes its state (pid, getUpdates calls made so far)
to STATUS. SIGTERM stops it the clean way (leases released); SIGKILL is a crash."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path


def main() -> None:
    config, status = json.loads(sys.argv[1]), Path(sys.argv[2])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    from bot.services import leases

    leases.DEFAULT_TTL_SECONDS = float(config.pop("lease_ttl"))
    from telegram.ext import ExtBot

    from connectors.telegram import TelegramConfig, TelegramRuntime

    polls = 0
    get_updates = ExtBot.get_updates

    async def counted(self, *args, **kwargs):  # this process's long polls
        nonlocal polls
        polls += 1
        return await get_updates(self, *args, **kwargs)

    ExtBot.get_updates = counted

    async def on_new_message(message) -> None:
        await message.output_channel.send_text_message(message.sender_id, f"받았어요 [{os.getpid()}] {message.text}")

    def write(runtime, state: str) -> None:
        data = {"pid": os.getpid(), "state": state, "polls": polls}
        temporary = status.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        temporary.replace(status)

    async def run() -> None:
        runtime = TelegramRuntime(TelegramConfig(**config), on_new_message)
        await runtime.start()
        await asyncio.wait_for(runtime.ready.wait(), 60)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        while not stop.is_set():
            write(runtime, "running")
            try:
                await asyncio.wait_for(stop.wait(), 0.2)
            except asyncio.TimeoutError:
                pass
        await runtime.stop(drain_seconds=5)
        write(runtime, "stopped")

    asyncio.run(run())


if __name__ == "__main__":
    main()
