"""Photo housekeeping inside the Rasa server: the decode workers' start and stop, and the orphan
prune (`cleanbot photos prune`) every ``photo_prune_interval_minutes`` (0 or less: never).

A channel calls :func:`attach` with its blueprint.  Attaching from several blueprints is harmless:
the Sanic app runs one prune loop.  A failing prune is logged and tried again at the next interval;
only the server's stop ends the loop.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from bot.settings import get_settings

logger = logging.getLogger(__name__)

_TASK = "cleanbot_photo_pruner"


async def prune_round() -> None:
    """One prune (returns nothing: a truthy return would make the lease loop run again at once)."""
    from bot.services.photo_pruning import prune_orphan_photos

    await asyncio.to_thread(prune_orphan_photos)


def prune_forever(interval_minutes: float):
    """Prunes every ``interval_minutes`` in one process across replicas and workers (a lease), until
    cancelled; a failed round is logged and tried again at the next interval."""
    from bot.services import leases

    return leases.run_with_lease("photo-prune", prune_round, interval_minutes * 60)


async def _warm_up(warm) -> None:
    try:
        await asyncio.to_thread(warm)
    except Exception:  # noqa: BLE001 - the first photo will start the workers instead
        logger.exception("could not start the photo decode workers")


def attach(blueprint: Any) -> None:
    """Registers the server start and stop listeners on ``blueprint`` (a Sanic blueprint)."""

    @blueprint.listener("after_server_start")
    async def _start_photo_work(app, _loop) -> None:
        from bot.services.photos import warm_decode_pool

        if getattr(app.ctx, _TASK, None) is not None:
            return  # attached from another blueprint too
        interval = get_settings().photo_prune_interval_minutes
        task = asyncio.create_task(prune_forever(interval)) if interval > 0 else None
        setattr(app.ctx, _TASK, task or "off")
        # In the background: the other start listeners need not wait for the workers.
        app.ctx.cleanbot_photo_warmup = asyncio.create_task(_warm_up(warm_decode_pool))

    @blueprint.listener("before_server_stop")
    async def _stop_photo_work(app, _loop) -> None:
        from bot.services.photos import shutdown_decode_pool

        task = getattr(app.ctx, _TASK, None)
        if task is None:
            return
        setattr(app.ctx, _TASK, None)
        if isinstance(task, asyncio.Task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(shutdown_decode_pool, False)
