"""Photos arriving on any channel: checked and stored by bot.photos, recorded in the database.

Decoding is the expensive part (a 100 KB PNG can claim 24 megapixels), so it never runs on the
event loop nor in the caller's thread: every photo, whichever channel sent it, is decoded in one
shared pool of ``photo_decode_workers`` worker processes, so at most that many decodes run at once
in the whole server and the rest wait their turn.  Processes rather than threads because Pillow's
JPEG encoder holds the GIL for the whole re-encode (0.2-0.6 s for a 24 MP photo, during which no
other request is served; see docs/benchmarks.md), and a worker that runs out of memory dies alone
instead of taking the server with it.

Before anything is decoded, not even base64, a message is cut to ``photos_per_report`` photos and
each one's length is checked against ``photo_max_bytes``.

Channels call :func:`accept_base64_async` / :func:`accept_bytes_async` from the event loop, or the
synchronous :func:`accept_base64` / :func:`accept_bytes` from a worker thread; all four share the pool.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from sqlalchemy import update

from bot import photos
from bot.clock import utcnow
from bot.db import transaction
from bot.models import Photo
from bot.services.reports import save_photos
from bot.settings import get_settings

logger = logging.getLogger(__name__)

Job = Callable[[], photos.StoredPhoto]


@dataclass
class AcceptedPhotos:
    ids: list[str] = field(default_factory=list)
    errors_ko: list[str] = field(default_factory=list)


def too_many_ko(limit: int) -> str:
    """What a sender of more than ``limit`` photos in one message is told."""
    return (f"사진은 한 번에 {limit}장까지 보낼 수 있어요. {limit + 1}번째 사진부터는 받지 못했어요. "
            "나머지는 다음 메시지로 보내 주세요.")


def _with_position(error: photos.PhotoRejected, total: int) -> str:
    if total > 1 and error.index is not None:
        return f"{error.index + 1}번째 파일: {error.message_ko}"
    return error.message_ko


# --------------------------------------------------------------------------- the decode pool

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _decode_pool() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = max(1, get_settings().photo_decode_workers)
            # spawn, not fork: the server has threads (Sanic, database pools, TensorFlow), and a forked
            # copy of a threaded process can deadlock on a lock some other thread held.  A spawned
            # worker imports the server's __main__ module (bot.server.rasa_server: light) and bot.photos.
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        return _pool


def _forget_pool(pool: ProcessPoolExecutor) -> None:
    """A broken pool (a worker was killed, e.g. out of memory) is replaced on the next photo."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    # Python < 3.12 can otherwise hang for ever, at the latest when the server stops (CPython
    # gh-94777): the pool's queue feeder thread may be blocked writing a large photo into the pipe of
    # the dead worker, since this process still holds the pipe's read end.  Closing it, as 3.12
    # does, makes that write fail and frees the thread.
    reader = getattr(getattr(pool, "_call_queue", None), "_reader", None)
    if reader is not None:
        with contextlib.suppress(OSError):
            reader.close()
    pool.shutdown(wait=False, cancel_futures=True)


def warm_decode_pool() -> None:
    """Starts the workers now (each imports Pillow and numpy, ~0.5 s) instead of on the first photo."""
    pool = _decode_pool()
    # Any bot.photos function makes a worker import the module; the result does not matter.  Jobs
    # submitted together start one worker each (up to the pool size).
    for future in [pool.submit(photos.max_encoded_chars, 0)
                   for _ in range(max(1, get_settings().photo_decode_workers))]:
        future.result()


def shutdown_decode_pool(wait: bool = True) -> None:
    """Stops the workers (server stop, tests); the next photo starts a new pool."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=wait, cancel_futures=True)


def _submit(job: Job) -> tuple[ProcessPoolExecutor, Future]:
    """``job`` queued on the pool; a pool that cannot take it gives an already failed future."""
    pool = _decode_pool()
    try:
        return pool, pool.submit(job)
    except (BrokenProcessPool, RuntimeError) as error:  # RuntimeError: shut down (server stopping)
        failed: Future = Future()
        failed.set_exception(error)
        return pool, failed


def _outcome(pool: ProcessPoolExecutor, future: Future) -> photos.StoredPhoto | photos.PhotoRejected:
    """The finished job's photo, or why there is none."""
    try:
        return future.result()
    except photos.PhotoRejected as rejected:
        return rejected
    except BrokenProcessPool as error:
        logger.error("photo decode worker died (%s); the pool is restarted", error)
        _forget_pool(pool)
    except Exception:  # noqa: BLE001 - a bug in one photo must not lose the others
        logger.exception("photo decode failed")
    return photos.PhotoRejected("failed", "decode worker error")


# --------------------------------------------------------------------------- one message's photos


@dataclass
class _Batch:
    """One message's photos, checked before decoding: jobs to run and the refusals so far."""

    total: int = 0
    jobs: list[tuple[int, Job]] = field(default_factory=list)
    rejected: list[photos.PhotoRejected] = field(default_factory=list)
    notes_ko: list[str] = field(default_factory=list)


def _batch(items: Any, *, encoded: bool) -> _Batch:
    """Count and size checks, before any decoding; ``encoded``: base64 strings rather than raw bytes."""
    settings = get_settings()
    limits = dict(directory=settings.photo_dir, max_bytes=settings.photo_max_bytes,
                  max_pixels=settings.photo_max_pixels)  # passed on: workers never read their own settings
    items, wrong_type = photos.as_photo_list(items)
    batch = _Batch(total=len(items))
    if wrong_type is not None:
        batch.rejected.append(wrong_type)
    limit = max(0, settings.photos_per_report)
    if len(items) > limit:
        batch.notes_ko.append(too_many_ko(limit))
    check = photos.check_encoded_size if encoded else photos.check_size
    store = photos.store_base64 if encoded else photos.store_photo
    for index, item in enumerate(items[:limit]):
        try:
            if not encoded and not isinstance(item, (bytes, bytearray, memoryview)):
                raise photos.PhotoRejected("not_image", f"expected bytes, got {type(item).__name__}")
            check(item, settings.photo_max_bytes)
        except photos.PhotoRejected as rejected:
            rejected.index = index
            batch.rejected.append(rejected)
            continue
        batch.jobs.append((index, partial(store, item, **limits)))
    return batch


def _split(batch: _Batch, outcomes: list) -> dict[int, photos.StoredPhoto]:
    """Stored photos by position; refusals go to ``batch.rejected``."""
    stored: dict[int, photos.StoredPhoto] = {}
    for (index, _job), outcome in zip(batch.jobs, outcomes):
        if isinstance(outcome, photos.PhotoRejected):
            outcome.index = index
            batch.rejected.append(outcome)
        else:
            stored[index] = outcome
    return stored


def _record(stored: dict[int, photos.StoredPhoto]) -> list[int]:
    """Photo rows for the stored files; returns the positions whose file vanished meanwhile.

    A photo sent again is young again (the orphan clock counts from the last time anyone sent it).
    The update comes before save_photos looks the rows up so that, on PostgreSQL, a prune deleting
    one of them right now is waited for and the row is then inserted afresh.  A file can still vanish
    if a prune removed it between store_photo finding it and this commit (see photo_pruning): checked
    after the commit, such a photo is stored once more.
    """
    if not stored:
        return []
    shas = list(dict.fromkeys(p.sha256 for p in stored.values()))
    with transaction() as session:
        session.execute(update(Photo).where(Photo.sha256.in_(shas)).values(created_at=utcnow())
                        .execution_options(synchronize_session=False))
        save_photos(session, stored.values())
    return [index for index, p in stored.items() if not p.path.exists()]


def _answer(batch: _Batch, stored: dict[int, photos.StoredPhoto]) -> AcceptedPhotos:
    ids = list(dict.fromkeys(stored[i].sha256 for i in sorted(stored)))
    errors = [_with_position(e, batch.total) for e in sorted(batch.rejected, key=lambda e: e.index or 0)]
    return AcceptedPhotos(ids, errors + batch.notes_ko)


def _accept(items: Any, *, encoded: bool) -> AcceptedPhotos:
    batch = _batch(items, encoded=encoded)
    submitted = [_submit(job) for _, job in batch.jobs]
    stored = _split(batch, [_outcome(pool, future) for pool, future in submitted])
    jobs = dict(batch.jobs)
    for index in _record(stored):
        _outcome(*_submit(jobs[index]))  # same bytes, same file: the row already exists
    return _answer(batch, stored)


async def _accept_async(items: Any, *, encoded: bool) -> AcceptedPhotos:
    batch = _batch(items, encoded=encoded)
    submitted = [_submit(job) for _, job in batch.jobs]
    # Cancelling this coroutine (the sender went away) cancels the photos not yet being decoded.
    await asyncio.gather(*(asyncio.wrap_future(future) for _, future in submitted), return_exceptions=True)
    stored = _split(batch, [_outcome(pool, future) for pool, future in submitted])
    jobs = dict(batch.jobs)
    for index in await asyncio.to_thread(_record, stored):
        pool, future = _submit(jobs[index])  # same bytes, same file: the row already exists
        await asyncio.gather(asyncio.wrap_future(future), return_exceptions=True)
        _outcome(pool, future)
    return _answer(batch, stored)


def accept_base64(items) -> AcceptedPhotos:
    """The REST channel's metadata.photos (base64 strings or data URLs), from a worker thread."""
    return _accept(items, encoded=True)


def accept_bytes(blobs: list[bytes]) -> AcceptedPhotos:
    """Raw file bytes (the Telegram channel downloads them), from a worker thread."""
    return _accept(blobs, encoded=False)


async def accept_base64_async(items) -> AcceptedPhotos:
    """:func:`accept_base64` for the event loop: waits for the decode pool without blocking the loop."""
    return await _accept_async(items, encoded=True)


async def accept_bytes_async(blobs: list[bytes]) -> AcceptedPhotos:
    """:func:`accept_bytes` for the event loop: waits for the decode pool without blocking the loop."""
    return await _accept_async(blobs, encoded=False)
