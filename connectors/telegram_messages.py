"""What a Telegram message brings in, read the same way by the shoppers' channel (connectors/telegram.py)
and the agents' desk (connectors/telegram_desk.py): its text and its picture."""
from __future__ import annotations

from typing import Optional

from telegram import Message

from connectors.doors import clean_text


def message_text(messages: list[Message]) -> str:
    """What the messages say (texts and captions, one a line) as Rasa and the database may take it:
    strings only (a payload is JSON: a number where text belongs is ignored), no NUL characters
    (PostgreSQL refuses them), at most MAX_TEXT characters."""
    parts = (m.text or m.caption for m in messages)
    return clean_text("\n".join(p for p in parts if isinstance(p, str) and p))


def photo_source(message: Message) -> Optional[tuple[str, Optional[int]]]:
    """The file id and declared size of the message's picture: the largest photo size, or an image file."""
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        return largest.file_id, largest.file_size
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/") and not message.animation:
        return document.file_id, document.file_size
    return None
