"""Deleting photos nobody uses: last sent more than ``photo_orphan_hours`` ago and referenced by no
report, case or hand-over message (every table with a foreign key to ``photos`` counts, so a new
one is respected without touching this file).

Exactly once, and never a photo in use:

* each photo is deleted in its own transaction by a DELETE that re-checks every condition, so two
  prunes at once remove (and count) it once, and a photo attached or sent again meanwhile stays;
  a report attaching it at that very moment makes the foreign key refuse the DELETE, which is kept;
* the file goes only after the deletion is committed.  It is first moved aside, then the row is
  looked up again: if the same picture was sent again in between (its writer found the file and
  recorded a new row), the file is put back.  The writer, for its part, checks the file after its
  commit and stores it again if a prune removed it (bot.services.photos._record);
* a file already missing is fine: the row is still removed.
"""
from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Base, Photo
from bot.settings import get_settings

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class PruneResult:
    removed: int  # photo rows deleted by this run (their files too, when they were there)
    files_missing: int  # of those, how many had no file any more
    kept_in_use: int  # candidates that got attached while this run was deleting them
    older_than_hours: float
    cutoff: datetime  # naive UTC: photos last sent before this were candidates


def _referencing_columns():
    key = Photo.__table__.c.sha256
    return [fk.parent for table in Base.metadata.sorted_tables for fk in table.foreign_keys if fk.column is key]


def _orphan(cutoff: datetime):
    """SQL condition: last sent before ``cutoff`` and referenced nowhere."""
    unused = [~exists().where(column == Photo.sha256) for column in _referencing_columns()]
    return and_(Photo.created_at < cutoff, *unused)


def _delete_row(sha256: str, cutoff: datetime) -> Optional[bool]:
    """True when this run deleted the row; False when it no longer qualifies (or another run got it
    first); None when something attached it at this very moment (the foreign key said no)."""
    try:
        with transaction() as session:
            result = session.execute(
                delete(Photo).where(Photo.sha256 == sha256, _orphan(cutoff))
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1
    except IntegrityError:
        return None


def _remove_file(sha256: str, path: Path) -> bool:
    """Removes a deleted photo's file unless the picture was stored again; False if it was missing."""
    aside = path.with_name(f".pruning-{uuid.uuid4().hex}-{path.name}")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return False
    try:
        with transaction() as session:
            sent_again = session.get(Photo, sha256) is not None
    except BaseException:
        os.replace(aside, path)  # not sure: keep the file (an unused file is harmless)
        raise
    if sent_again:
        os.replace(aside, path)
    else:
        try:
            aside.unlink()
        except FileNotFoundError:
            pass
    return True


def prune_orphan_photos(older_than_hours: Optional[float] = None) -> PruneResult:
    """Deletes unused photos older than ``older_than_hours`` (default ``photo_orphan_hours``)."""
    hours = get_settings().photo_orphan_hours if older_than_hours is None else older_than_hours
    if hours < 0:
        raise ValueError("older_than_hours must not be negative")
    cutoff = utcnow() - timedelta(hours=hours)
    removed = missing = in_use = 0
    seen: set[str] = set()
    while True:
        with transaction() as session:
            rows = session.execute(
                select(Photo.sha256, Photo.path).where(_orphan(cutoff)).order_by(Photo.created_at).limit(BATCH)
            ).all()
        rows = [row for row in rows if row.sha256 not in seen]
        if not rows:
            break
        for sha256, path in rows:
            seen.add(sha256)  # a row this run could not delete is not tried again
            deleted = _delete_row(sha256, cutoff)
            if deleted is None:
                in_use += 1
            elif deleted:
                removed += 1
                try:
                    if not _remove_file(sha256, Path(path)):
                        missing += 1
                except OSError as error:  # the row is gone; a stray file is only disk space
                    logger.warning("photo prune: could not remove a file: %s", error)
    if removed or in_use:
        logger.info("photo prune: removed %d unused photos (%d files already gone), %d kept as now in use",
                    removed, missing, in_use)
    return PruneResult(removed, missing, in_use, float(hours), cutoff)


def prune_text_ko(result: PruneResult) -> str:
    """The command line's report of a prune."""
    hours = f"{result.older_than_hours:g}시간"
    if not result.removed:
        return f"지울 사진이 없어요. {hours} 넘게 신고나 상담에 쓰이지 않은 사진이 없어요."
    text = f"{hours} 넘게 신고나 상담에 쓰이지 않은 사진 {result.removed}장을 지웠어요."
    if result.files_missing:
        text += f" 그중 {result.files_missing}장은 파일이 이미 없어서 기록만 지웠어요."
    if result.kept_in_use:
        text += f" 지우는 사이에 쓰이기 시작한 {result.kept_in_use}장은 남겨 두었어요."
    return text
