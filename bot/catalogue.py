"""The brand catalogue file (bot/knowledge/brands.yml): canonical names and what people type."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml

from bot.settings import PROJECT_ROOT

BRANDS_FILE = PROJECT_ROOT / "bot" / "knowledge" / "brands.yml"


@lru_cache(maxsize=4)
def load_brands(path: Path = BRANDS_FILE) -> tuple[tuple[str, tuple[str, ...]], ...]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return tuple((b["name"], tuple(str(s) for s in b.get("synonyms", []))) for b in data["brands"])


def canonical_brand(text: str) -> Optional[str]:
    """The catalogue name for any of its spellings (case- and space-insensitive), else None."""
    key = "".join(text.split()).casefold()
    for name, synonyms in load_brands():
        if key in {"".join(s.split()).casefold() for s in (name, *synonyms)}:
            return name
    return None
