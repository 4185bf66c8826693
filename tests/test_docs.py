"""docs/settings.md is the one table of every setting: each variable bot/ reads from the environment has
exactly one row there, and the Markdown documents' relative links lead to files that exist."""
from __future__ import annotations

import re
from collections import Counter

from bot.settings import PROJECT_ROOT

SETTINGS_DOC = PROJECT_ROOT / "docs" / "settings.md"
VARIABLE = re.compile(r"\b(?:CLEANBOT|TELEGRAM)_[A-Z0-9_]+\b")


def _rows() -> Counter:
    rows = Counter()
    for line in SETTINGS_DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            rows.update(set(VARIABLE.findall(line.split("|")[1])))
    return rows


def _read_by_bot() -> set[str]:
    """Variables read in bot/: through bot/settings.py's helpers or os.environ."""
    read = re.compile(r"""(?:_env(?:_int)?\(|environ\.get\(|environ\[|getenv\()\s*["']((?:CLEANBOT|TELEGRAM)_[A-Z0-9_]+)""")
    return {name for path in (PROJECT_ROOT / "bot").rglob("*.py") for name in read.findall(path.read_text(encoding="utf-8"))}


def test_every_setting_has_one_row_in_docs_settings():
    rows = _rows()
    missing = sorted(_read_by_bot() - set(rows))
    assert not missing, f"not in docs/settings.md: {', '.join(missing)}"
    twice = sorted(name for name, count in rows.items() if count > 1)
    assert not twice, f"more than one row in docs/settings.md: {', '.join(twice)}"


def test_relative_links_in_the_docs_lead_somewhere():
    documents = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md")),
                 PROJECT_ROOT / "deploy" / "README.md"]
    broken = []
    for document in documents:
        text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if not re.match(r"[a-z]+:", target) and not (document.parent / target).exists():
                broken.append(f"{document.relative_to(PROJECT_ROOT)} → {target}")
    assert not broken, "broken links: " + ", ".join(broken)
