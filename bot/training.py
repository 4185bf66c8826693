"""Train the Rasa model only when what it is trained from has changed.

The fingerprint covers config, domain, training data and our NLU components; the trained model is
named by it in models/ and also kept in a cache directory outside the clone (CLEANBOT_MODEL_CACHE,
default ~/.cache/cleanbot/models) so fresh clones and CI reuse it."""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from bot.settings import PROJECT_ROOT

INPUTS = ["config.yml", "domain", "nlu_data", "bot/nlu", "bot/knowledge/brands.yml"]


def fingerprint(root: Path = PROJECT_ROOT, config: str = "config.yml") -> str:
    digest = hashlib.sha256()
    for name in [config] + INPUTS[1:]:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("CLEANBOT_MODEL_CACHE", Path.home() / ".cache" / "cleanbot" / "models"))


def model_path(root: Path = PROJECT_ROOT) -> Path:
    return root / "models" / f"cleanbot-{fingerprint(root)}.tar.gz"


def train_if_changed(force: bool = False, root: Path = PROJECT_ROOT) -> Path:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    target = model_path(root)
    cached = cache_dir() / target.name
    if target.exists() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists() and not force:
        shutil.copy2(cached, target)
        return target
    from rasa.api import train

    result = train(
        domain=str(root / "domain"),
        config=str(root / "config.yml"),
        training_files=[str(root / "nlu_data")],
        output=str(target.parent),
        fixed_model_name=target.name[: -len(".tar.gz")],
    )
    if result.code != 0 or not target.exists():
        raise SystemExit("모델 학습에 실패했어요. 위의 Rasa 로그를 확인해 주세요.")
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(target, cached)
    return target
