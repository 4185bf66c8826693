"""What services raise when a request does not apply: one base, so adapters answer every kind alike."""
from __future__ import annotations


class ServiceError(Exception):
    """A request that cannot be done as asked; `message_ko` says why and what to do next."""

    def __init__(self, message_ko: str):
        super().__init__(message_ko)
        self.message_ko = message_ko
