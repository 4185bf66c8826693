"""The banned patterns of docs/voice.md, read from its table, and the check of texts against them (used by
tests/replies/test_voice.py on every reply template, so the guide and the check cannot drift apart)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

from bot.settings import PROJECT_ROOT

VOICE_GUIDE = PROJECT_ROOT / "docs" / "voice.md"


def banned_patterns(guide: Path = VOICE_GUIDE) -> list[tuple[str, str]]:
    """(regex, scope) of each row of the table under '## Banned patterns'; scope is "all" or "shopper"."""
    section = guide.read_text(encoding="utf-8").split("## Banned patterns", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows.append((cells[0].strip("`").replace("\\|", "|"), cells[1]))
    return rows


def violations(texts: Iterable[tuple[str, str, str]], guide: Path = VOICE_GUIDE) -> list[str]:
    """'where: match (pattern)' for each banned pattern found in (where, scope, text) triples; a text of
    scope "shopper" is checked against every pattern, one of scope "all" against the "all" ones."""
    texts = list(texts)
    found = []
    for pattern, scope in banned_patterns(guide):
        regex = re.compile(pattern)
        for where, text_scope, text in texts:
            if scope == "all" or text_scope == scope:
                match = regex.search(text)
                if match:
                    found.append(f"{where}: {match.group(0)!r} ({pattern})")
    return found
