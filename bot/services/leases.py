"""One active background loop per job across processes and replicas, and short claims on single items.

Every Rasa server process (several replicas, several Sanic workers each) starts the same background
loops: the Telegram poller and push, the agent desk's sweep, idle hand-overs, photo pruning. Each runs its
job only while it holds the job's lease, a row of `leases` (bot.models.Lease) with the holder's id and an
expiry; the other processes stand by and take over once the holder stops (it releases the row) or dies
(the expiry passes without a renewal).

* `acquire` / `renew` / `release`: one conditional statement each, in its own transaction, so two
  processes never both hold a name. SQLite: every transaction begins IMMEDIATE (bot.db), which
  serialises writers. PostgreSQL: the UPDATE's row lock, whose condition is checked again on the
  committed row after the wait, and INSERT … ON CONFLICT DO NOTHING for a name nobody has used yet.
* `holding(name, holder, ttl)`: an async context that acquires (None: someone else has it), renews in
  the background every ttl/3 and releases on exit. If the lease is lost — a renewal refused, or none
  succeeded for a whole ttl — the body is cancelled and `LeaseLost` raised.
* `run_with_lease(name, job, interval)`: the loop all leased jobs use.
* `run_periodically(job, interval, name)`: the same loop without a lease (the web chat's pushes, which
  claim per sender instead: only the process holding a sender's socket can push to it).

Expiry is reckoned with the processes' clocks (bot.clock.utcnow): replicas on different hosts need NTP,
and the ttl is kept far longer than any real skew. A holder that stalls longer than the ttl (a frozen
event loop) may overlap for one round with its successor; the jobs' own row claims (conditional updates
of the outbox rows, topics set only where none is) keep that round harmless.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, AsyncIterator, Awaitable, Callable, Optional

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.orm import Session

from bot import clock
from bot.db import transaction
from bot.models import Lease

logger = logging.getLogger(__name__)

# How long a lease lasts without renewal: how long the others wait before taking over a dead holder's job.
DEFAULT_TTL_SECONDS = 15.0
FAILURE_PAUSE = 1.0


class LeaseLost(Exception):
    """Another process has the lease now (ours expired unrenewed); this one stops the job."""


def holder_id(role: str = "") -> str:
    """A holder id unique to this process and call: host, pid, the role (for people reading the table)
    and a random part, so two runtimes in one process hold leases separately too."""
    parts = [socket.gethostname()[:80], str(os.getpid())] + ([role[:40]] if role else []) + [secrets.token_hex(3)]
    return ":".join(parts)


# ---------------------------------------------------------------- the row


def _insert_if_absent(session: Session, values: dict[str, Any]) -> bool:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # a plain INSERT would fail the whole transaction when it loses the race
        raise NotImplementedError(f"leases do not support {dialect}")
    result = session.execute(insert(Lease).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    return result.rowcount == 1


def acquire(name: str, holder: str, ttl: float) -> bool:
    """Takes the lease if it is free, expired or already `holder`'s (then it is renewed); True if held now."""
    now = clock.utcnow()
    until = now + timedelta(seconds=ttl)
    mine = Lease.holder == holder
    with transaction() as session:
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(mine, Lease.holder.is_(None), Lease.expires_at <= now))
            .values(holder=holder, expires_at=until,
                    acquired_at=case((mine, Lease.acquired_at), else_=now),
                    generation=case((mine, Lease.generation), else_=Lease.generation + 1))
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            return True
        return _insert_if_absent(session, {"name": name, "holder": holder, "expires_at": until,
                                           "acquired_at": now, "generation": 1})


def renew(name: str, holder: str, ttl: float) -> bool:
    """Extends `holder`'s lease; False if it is no longer theirs (taken over after it expired, or released)."""
    with transaction() as session:
        result = session.execute(
            update(Lease).where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=clock.utcnow() + timedelta(seconds=ttl))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def release(name: str, holder: str, forget: bool = False) -> bool:
    """Gives the lease back so another process can take it at once. `forget`: delete the row (per-item
    claims, which would otherwise leave a row per item). False if it was not `holder`'s."""
    with transaction() as session:
        if forget:
            statement = delete(Lease).where(Lease.name == name, Lease.holder == holder)
        else:
            statement = (update(Lease).where(Lease.name == name, Lease.holder == holder)
                         .values(holder=None, expires_at=clock.utcnow()))
        return session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1


def holder_of(name: str) -> Optional[str]:
    """Who holds the lease now (None: nobody, or it expired)."""
    with transaction() as session:
        row = session.execute(select(Lease.holder, Lease.expires_at).where(Lease.name == name)).one_or_none()
    if row is None or row.holder is None or row.expires_at <= clock.utcnow():
        return None
    return row.holder


# ---------------------------------------------------------------- holding it while working


@dataclass
class Held:
    name: str
    holder: str
    ttl: float
    renewed: float = field(default_factory=time.monotonic)  # monotonic time the last successful write began
    lost: bool = False
    active: bool = True  # the `async with` body is running (only then may the heartbeat cancel the task)

    def check(self) -> None:
        """Raises LeaseLost once the lease may have passed to someone else, as far as this process knows."""
        if self.lost or time.monotonic() - self.renewed >= self.ttl:
            self.lost = True
            raise LeaseLost(self.name)


async def _keep(held: Held, body: asyncio.Task) -> None:
    """Renews every ttl/3; when the lease is lost, cancels the body (holding() turns that into LeaseLost)."""
    while True:
        await asyncio.sleep(held.ttl / 3)
        started = time.monotonic()
        try:
            ok: Optional[bool] = await asyncio.to_thread(renew, held.name, held.holder, held.ttl)
        except Exception as error:  # noqa: BLE001 - the database may be back before the lease runs out
            logger.warning("lease %s: renewal failed (%s)", held.name, error)
            ok = None
        if ok:
            held.renewed = started  # the new expiry counts from before the write, never after
            continue
        if ok is False or time.monotonic() - held.renewed >= held.ttl:
            held.lost = True
            if held.active:  # never into holding()'s own clean-up, where it would escape as a plain cancel
                body.cancel()
            return


@contextlib.asynccontextmanager
async def holding(name: str, holder: str, ttl: Optional[float] = None, *,
                  forget: bool = False) -> AsyncIterator[Optional[Held]]:
    """`async with holding(...) as held:` — held is None when another process has the lease."""
    ttl = DEFAULT_TTL_SECONDS if ttl is None else ttl
    started = time.monotonic()
    if not await asyncio.to_thread(acquire, name, holder, ttl):
        yield None
        return
    held = Held(name, holder, ttl, started)
    beat = asyncio.create_task(_keep(held, asyncio.current_task()), name=f"lease-{name}")
    try:
        yield held
    except asyncio.CancelledError:
        if held.lost:
            raise LeaseLost(name) from None
        raise
    finally:
        held.active = False
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        if not held.lost:
            try:
                await asyncio.to_thread(release, name, holder, forget)
            except Exception as error:  # noqa: BLE001 - it expires on its own after the ttl
                logger.warning("lease %s: could not release (%s); it expires in %gs", name, error, ttl)


# ---------------------------------------------------------------- the loops


Job = Callable[[], Awaitable[Any]]


async def run_periodically(job: Job, interval: float, name: str, check: Optional[Callable[[], None]] = None) -> None:
    """Runs `job` until cancelled: again at once when it returns something truthy (it did work, more may
    wait), else after `interval` seconds. A failing round is logged; the next one comes anyway, after at
    least FAILURE_PAUSE seconds (a job run back to back, like a long poll, must not spin on an error)."""
    while True:
        if check is not None:
            check()
        pause = interval
        try:
            if await job():
                pause = 0
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad round must not stop the job for good
            pause = max(interval, FAILURE_PAUSE)
            logger.exception("%s: a round failed; trying again in %gs", name, pause)
        await asyncio.sleep(pause)


async def run_with_lease(name: str, job: Job, interval: float, *, holder: Optional[str] = None,
                         ttl: Optional[float] = None, standby: Optional[float] = None) -> None:
    """Runs `job` like run_periodically, but only in the one process that holds lease `name`; the others
    try to take it every `standby` seconds (default ttl/3). Until cancelled; cancelling releases the lease.

        task = asyncio.create_task(run_with_lease("photo-prune", prune_round, 3600))
        ...
        task.cancel()  # on the server's stop: another replica takes over at once
    """
    holder = holder or holder_id(name)
    ttl = DEFAULT_TTL_SECONDS if ttl is None else ttl
    standby = max(ttl / 3, 0.05) if standby is None else standby
    while True:
        try:
            async with holding(name, holder, ttl) as held:
                if held is not None:
                    logger.info("%s: active in this process (%s)", name, holder)
                    await run_periodically(job, interval, name, held.check)
        except LeaseLost:
            logger.warning("%s: the lease passed to another process; standing by", name)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - e.g. the database is away: ask again shortly
            logger.warning("%s: could not take its lease (%s); trying again", name, error)
        await asyncio.sleep(standby)
