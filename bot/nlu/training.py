"""Train the Rasa model only when what it is trained from has changed.

The fingerprint covers config, domain, training data and our NLU components; the trained model is
named by it in models/ and also kept in a cache directory outside the clone (CLEANBOT_MODEL_CACHE,
default ~/.cache/cleanbot/models) so fresh clones and CI reuse it."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Optional

from bot.settings import PROJECT_ROOT

# The NLU components' modules, not all of bot/nlu: training, evaluation, the encoder and the FAQ search live
# there too, and changing them does not change the model.
INPUTS = ["config.yml", "domain.yml", "nlu_data", "bot/nlu/__init__.py", "bot/nlu/identifier_extractor.py",
          "bot/nlu/korean_tokenizer.py", "bot/nlu/sentence_featurizer.py", "bot/nlu/sentence_type_featurizer.py",
          "bot/knowledge/brands.yml"]


def _config_path(root: Path, config: "str | Path") -> Path:
    path = Path(config)
    return path if path.is_absolute() else root / path


def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def fingerprint(root: Path = PROJECT_ROOT, config: "str | Path" = "config.yml") -> str:
    """What the model is trained from. A pipeline with the sentence-embedding featurizer also depends
    on which encoder CLEANBOT_ENCODER resolves to (a model trained with one refuses to load with another)."""
    digest = hashlib.sha256()
    config_file = _config_path(root, config)
    for path in [config_file] + [root / name for name in INPUTS[1:]]:
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            digest.update(_rel(root, file).encode())
            digest.update(file.read_bytes())
    if "SentenceEmbeddingFeaturizer" in config_file.read_text(encoding="utf-8"):
        from bot.nlu.encoder import resolve_encoder

        digest.update(b"encoder:" + resolve_encoder().identity.encode())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("CLEANBOT_MODEL_CACHE", Path.home() / ".cache" / "cleanbot" / "models"))


def model_path(root: Path = PROJECT_ROOT, config: "str | Path" = "config.yml") -> Path:
    return root / "models" / f"cleanbot-{fingerprint(root, config)}.tar.gz"


def training_info_path(model: Path) -> Path:
    """Side file next to a model: how long its training took (written when it was trained here)."""
    return Path(str(model)[: -len(".tar.gz")] + ".training.json")


def training_info(model: Path) -> Optional[dict]:
    path = training_info_path(Path(model))
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def announce_encoder(config_file: Path) -> None:
    """Says loudly, on stdout, when the sentence encoder (NLU features if configured, FAQ search) is the
    fallback model."""
    from bot.nlu.encoder import fallback_banner, resolve_encoder

    banner = fallback_banner(resolve_encoder())
    if banner:
        used = "NLU features + FAQ search" if "SentenceEmbeddingFeaturizer" in config_file.read_text(
            encoding="utf-8") else "FAQ search (this pipeline has no sentence features)"
        print(f"{banner}\n!! used by: {used}", flush=True)


def train_if_changed(force: bool = False, root: Path = PROJECT_ROOT, config: "str | Path" = "config.yml",
                     use_rasa_cache: bool = True) -> Path:
    """The model for `config` (trained only if nothing with the same fingerprint exists).

    use_rasa_cache=False trains every component from scratch (Rasa's graph cache off), for honest
    training-time measurements."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    config_file = _config_path(root, config)
    target = model_path(root, config)
    cached = cache_dir() / target.name
    if target.exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists() and not force:
        shutil.copy2(cached, target)
        if training_info_path(cached).exists():
            shutil.copy2(training_info_path(cached), training_info_path(target))
        return target
    announce_encoder(config_file)
    from rasa.api import train

    previous = os.environ.get("RASA_MAX_CACHE_SIZE")
    if not use_rasa_cache:
        os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    started = time.perf_counter()
    try:
        result = train(
            domain=str(root / "domain.yml"),
            config=str(config_file),
            training_files=[str(root / "nlu_data")],
            output=str(target.parent),
            fixed_model_name=target.name[: -len(".tar.gz")],
        )
    finally:
        if not use_rasa_cache:
            if previous is None:
                os.environ.pop("RASA_MAX_CACHE_SIZE", None)
            else:
                os.environ["RASA_MAX_CACHE_SIZE"] = previous
    seconds = time.perf_counter() - started
    if result.code != 0 or not target.exists():
        raise SystemExit("모델 학습에 실패했어요. 위의 Rasa 로그를 확인해 주세요.")
    training_info_path(target).write_text(json.dumps({
        "config": _rel(root, config_file), "seconds": round(seconds, 1), "rasa_cache": use_rasa_cache,
        "cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }, indent=2), encoding="utf-8")
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(target, cached)
    shutil.copy2(training_info_path(target), training_info_path(cached))
    return target
