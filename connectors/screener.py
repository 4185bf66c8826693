"""The risk screening inside the Rasa server: `cleanbot review screen` every
``screening_interval_minutes`` (CLEANBOT_SCREENING_INTERVAL_MINUTES; 0, the default: never — run the
command from cron instead). One process across replicas and workers runs it (a lease); a failing round is
logged and tried again at the next interval. It only opens cases for the team, never removes a listing."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bot.settings import get_settings

_TASK = "cleanbot_screener"


async def screen_round() -> None:
    """One screening (returns nothing: a truthy return would make the lease loop run again at once)."""
    from bot.services import screening

    await asyncio.to_thread(screening.screen)


def attach(blueprint: Any) -> None:
    """Registers the server start and stop listeners on ``blueprint`` (a Sanic blueprint)."""

    @blueprint.listener("after_server_start")
    async def _start_screening(app, _loop) -> None:
        from bot.services import leases

        if getattr(app.ctx, _TASK, None) is not None:
            return  # attached from another blueprint too
        interval = get_settings().screening_interval_minutes
        task = asyncio.create_task(leases.run_with_lease("screening", screen_round, interval * 60)) \
            if interval > 0 else None
        setattr(app.ctx, _TASK, task or "off")

    @blueprint.listener("before_server_stop")
    async def _stop_screening(app, _loop) -> None:
        task = getattr(app.ctx, _TASK, None)
        setattr(app.ctx, _TASK, None)
        if isinstance(task, asyncio.Task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
