"""Photos arriving on any channel: checked and stored by bot.photos, recorded in the database."""
from __future__ import annotations

from dataclasses import dataclass, field

from bot import photos
from bot.db import transaction
from bot.services.reports import save_photos


@dataclass
class AcceptedPhotos:
    ids: list[str] = field(default_factory=list)
    errors_ko: list[str] = field(default_factory=list)


def _with_position(error: photos.PhotoRejected, total: int) -> str:
    if total > 1 and error.index is not None:
        return f"{error.index + 1}번째 파일: {error.message_ko}"
    return error.message_ko


def _record(stored: list[photos.StoredPhoto]) -> list[str]:
    if stored:
        with transaction() as session:
            save_photos(session, stored)
    return list(dict.fromkeys(p.sha256 for p in stored))


def accept_base64(items) -> AcceptedPhotos:
    """The REST channel's metadata.photos: base64 strings or data URLs."""
    items = items if isinstance(items, list) else [items]
    stored, rejected = photos.decode_base64_photos(items)
    return AcceptedPhotos(_record(stored), [_with_position(e, len(items)) for e in rejected])


def accept_bytes(blobs: list[bytes]) -> AcceptedPhotos:
    """Raw file bytes (the Telegram channel downloads them)."""
    stored, errors = [], []
    for index, blob in enumerate(blobs):
        try:
            stored.append(photos.store_photo(blob))
        except photos.PhotoRejected as error:
            error.index = index
            errors.append(_with_position(error, len(blobs)))
    return AcceptedPhotos(_record(stored), errors)
