"""All configuration, read from the environment in one place (documented in README.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: _env(
            "CLEANBOT_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'cleanbot.db'}"
        )
    )
    photo_dir: Path = field(
        default_factory=lambda: Path(_env("CLEANBOT_PHOTO_DIR", str(PROJECT_ROOT / "var" / "photos")))
    )
    photo_max_bytes: int = field(default_factory=lambda: _env_int("CLEANBOT_PHOTO_MAX_BYTES", 10 * 1024 * 1024))
    photos_per_report: int = field(default_factory=lambda: _env_int("CLEANBOT_PHOTOS_PER_REPORT", 5))
    refund_window_days: int = field(default_factory=lambda: _env_int("CLEANBOT_REFUND_WINDOW_DAYS", 90))
    abuse_max_refunds: int = field(default_factory=lambda: _env_int("CLEANBOT_ABUSE_MAX_REFUNDS", 3))
    abuse_window_days: int = field(default_factory=lambda: _env_int("CLEANBOT_ABUSE_WINDOW_DAYS", 30))
    refund_days_to_money: int = field(default_factory=lambda: _env_int("CLEANBOT_REFUND_DAYS_TO_MONEY", 3))
    review_days: int = field(default_factory=lambda: _env_int("CLEANBOT_REVIEW_DAYS", 2))
    strike_expiry_days: int = field(default_factory=lambda: _env_int("CLEANBOT_STRIKE_EXPIRY_DAYS", 365))
    freeze_days: int = field(default_factory=lambda: _env_int("CLEANBOT_FREEZE_DAYS", 7))
    invite_expiry_days: int = field(default_factory=lambda: _env_int("CLEANBOT_INVITE_EXPIRY_DAYS", 7))
    rasa_url: str = field(default_factory=lambda: _env("CLEANBOT_RASA_URL", "http://localhost:5005"))
    action_port: int = field(default_factory=lambda: _env_int("CLEANBOT_ACTION_PORT", 5055))
    rasa_port: int = field(default_factory=lambda: _env_int("CLEANBOT_RASA_PORT", 5005))
    encoder: str = field(default_factory=lambda: _env("CLEANBOT_ENCODER", "jhgan/ko-sroberta-multitask"))
    timezone: str = field(default_factory=lambda: _env("CLEANBOT_TIMEZONE", "Asia/Seoul"))


def get_settings() -> Settings:
    """Settings are read afresh on every call so tests can change the environment."""
    return Settings()
