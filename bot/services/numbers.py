"""Public numbers (RPT-YYYY-NNNNNN, IPP-YYYY-NNNNNN) derived from the row id, so they are unique
without a separate counter that concurrent writers would contend on."""
from __future__ import annotations

from datetime import datetime


def public_number(prefix: str, row_id: int, created_at: datetime) -> str:
    return f"{prefix}-{created_at.year:04d}-{row_id:06d}"
