"""Housekeeping inside the Rasa server, each job in one process across replicas and workers (a lease):

- the photo decode workers' start and stop, and the orphan-photo prune (`cleanbot photos prune`)
  every ``photo_prune_interval_minutes``;
- the end of lapsed store freezes (`cleanbot sellers lift-freezes`) every
  ``freeze_sweep_interval_minutes``, so a freeze is written down as over (and audited) when it ends,
  not only when something next reads the seller;
- the risk screening (`cleanbot review screen`) every ``screening_interval_minutes`` (off by default:
  run the command from cron instead). It only opens cases for the team, never removes a listing.

0 or less turns a job off. A channel calls :func:`attach` with its blueprint; attaching from several
blueprints is harmless: the Sanic app runs one loop per job. A failing round is logged and tried
again at the next interval; only the server's stop ends the loops.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Awaitable, Callable

from bot.settings import get_settings

logger = logging.getLogger(__name__)

_TASKS = "cleanbot_housekeeping"


async def prune_round() -> None:
    """One prune (returns nothing: a truthy return would make the lease loop run again at once)."""
    from bot.services.photo_pruning import prune_orphan_photos

    await asyncio.to_thread(prune_orphan_photos)


async def freeze_round() -> None:
    """One sweep of lapsed freezes."""
    from bot.services.penalties import lift_lapsed_freezes

    lifted = await asyncio.to_thread(lift_lapsed_freezes, "housekeeping")
    if lifted:
        logger.info("store freezes ended: %s", ", ".join(lifted))


async def screening_round() -> None:
    """One risk screening: cases opened for the team above the threshold, each once."""
    from bot.services import screening

    await asyncio.to_thread(screening.screen)


def _jobs() -> dict[str, tuple[Callable[[], Awaitable[None]], float]]:
    settings = get_settings()
    return {
        "photo-prune": (prune_round, settings.photo_prune_interval_minutes),
        "freeze-sweep": (freeze_round, settings.freeze_sweep_interval_minutes),
        "screening": (screening_round, settings.screening_interval_minutes),
    }


def run_forever(name: str, job: Callable[[], Awaitable[None]], interval_minutes: float):
    """Runs ``job`` every ``interval_minutes`` in the one process holding lease ``name``, until cancelled."""
    from bot.services import leases

    return leases.run_with_lease(name, job, interval_minutes * 60)


async def _warm_up(warm) -> None:
    try:
        await asyncio.to_thread(warm)
    except Exception:  # noqa: BLE001 - the first photo will start the workers instead
        logger.exception("could not start the photo decode workers")


def attach(blueprint: Any) -> None:
    """Registers the server start and stop listeners on ``blueprint`` (a Sanic blueprint)."""

    @blueprint.listener("after_server_start")
    async def _start_housekeeping(app, _loop) -> None:
        from bot.services.photos import warm_decode_pool

        if getattr(app.ctx, _TASKS, None) is not None:
            return  # attached from another blueprint too
        setattr(app.ctx, _TASKS, [asyncio.create_task(run_forever(name, job, interval))
                                  for name, (job, interval) in _jobs().items() if interval > 0])
        # In the background: the other start listeners need not wait for the workers.
        app.ctx.cleanbot_photo_warmup = asyncio.create_task(_warm_up(warm_decode_pool))

    @blueprint.listener("before_server_stop")
    async def _stop_housekeeping(app, _loop) -> None:
        from bot.services.photos import shutdown_decode_pool

        tasks = getattr(app.ctx, _TASKS, None)
        if tasks is None:
            return
        setattr(app.ctx, _TASKS, None)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(shutdown_decode_pool, False)
