"""Shared fixtures for the NLU component tests."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

_JAVA_PROBLEM = None
_JAVA_CHECKED = False


def java_problem() -> str | None:
    """None if KoNLPy's Java analysers can run here, else the reason they cannot."""
    global _JAVA_CHECKED, _JAVA_PROBLEM
    if not _JAVA_CHECKED:
        _JAVA_CHECKED = True
        from bot.nlu.korean_tokenizer import KoreanTokenizerBackendError, get_backend

        try:
            get_backend("okt")
            get_backend("komoran")
        except KoreanTokenizerBackendError as e:
            _JAVA_PROBLEM = str(e)
    return _JAVA_PROBLEM


@pytest.fixture(params=["kiwi", "okt", "komoran"])
def backend(request: pytest.FixtureRequest) -> str:
    """Every tokenizer backend; the KoNLPy ones are skipped only without Java."""
    if request.param != "kiwi":
        problem = java_problem()
        if problem:
            pytest.skip(f"Java runtime unavailable for KoNLPy backend: {problem}")
    return request.param
