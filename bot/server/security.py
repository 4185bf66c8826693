"""The two modes and what a start must refuse (CLEANBOT_MODE).

demo: what `make run` gives on a fresh clone — every server on 127.0.0.1, unsigned REST senders
accepted, demo data and demo identities. production: signed identities only, no demo data, and the
start refuses unsafe settings with a message naming the setting and a non-zero exit."""
from __future__ import annotations

import sys
from typing import Iterable, Optional

from bot.settings import MODES, Settings, get_settings

LOOPBACK = "127.0.0.1"
MIN_SECRET_BYTES = 32


class UnsafeStart(SystemExit):
    """Raised (with exit status 2) when the settings are not safe for the chosen mode."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(2)

    def __str__(self) -> str:
        return "클린봇을 시작할 수 없어요:\n" + "\n".join(f"  - {p}" for p in self.problems)


def start_problems(settings: Optional[Settings] = None) -> list[str]:
    """Everything that stops a start in this mode, in Korean, each naming the setting to fix."""
    settings = settings or get_settings()
    problems: list[str] = []
    if settings.mode not in MODES:
        problems.append(f"CLEANBOT_MODE는 demo 또는 production이어야 해요(지금: {settings.mode!r}).")
        return problems
    if not settings.is_production:
        return problems
    if not (settings.jwt_secret or settings.jwt_public_key):
        problems.append("production 모드에는 로그인 토큰 서명 키가 필요해요. "
                        "CLEANBOT_JWT_SECRET(HS256) 또는 CLEANBOT_JWT_PUBLIC_KEY(RS256/ES256)를 설정해 주세요.")
    elif settings.jwt_secret and not settings.jwt_public_key and len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
        problems.append(f"CLEANBOT_JWT_SECRET가 너무 짧아요. {MIN_SECRET_BYTES}바이트 이상의 무작위 값을 설정해 주세요.")
    if settings.jwt_public_key:
        from bot.server.auth import verification_key

        try:
            verification_key(settings)
        except OSError as error:
            problems.append(f"CLEANBOT_JWT_PUBLIC_KEY 파일을 읽을 수 없어요({error.strerror}). 경로나 PEM 내용을 확인해 주세요.")
    if settings.api_token and len(settings.api_token.encode()) < MIN_SECRET_BYTES:
        problems.append(f"CLEANBOT_API_TOKEN이 너무 짧아요. {MIN_SECRET_BYTES}바이트 이상의 무작위 값을 쓰거나 비워 두세요(API 끔).")
    if settings.action_token and len(settings.action_token.encode()) < MIN_SECRET_BYTES:
        problems.append(f"CLEANBOT_ACTION_TOKEN이 너무 짧아요. {MIN_SECRET_BYTES}바이트 이상의 무작위 값을 쓰거나 비워 두세요(실행할 때마다 새로 만듦).")
    if settings.kakao_on and not settings.kakao_skill_secret:
        problems.append("production 모드에서 카카오톡 채널(CLEANBOT_KAKAO_ENABLED)을 켜려면 CLEANBOT_KAKAO_SKILL_SECRET이 필요해요. "
                        f"{MIN_SECRET_BYTES}바이트 이상의 무작위 값을 설정하고 오픈빌더 스킬 헤더에도 같은 값을 넣어 주세요.")
    elif settings.kakao_on and len(settings.kakao_skill_secret.encode()) < MIN_SECRET_BYTES:
        problems.append(f"CLEANBOT_KAKAO_SKILL_SECRET이 너무 짧아요. {MIN_SECRET_BYTES}바이트 이상의 무작위 값을 설정해 주세요.")
    if "*" in settings.cors_origin_list:
        problems.append("production 모드에서는 CLEANBOT_CORS_ORIGINS에 *를 쓸 수 없어요. 허용할 출처를 쉼표로 나눠 적어 주세요.")
    return problems


def ensure_safe_start(settings: Optional[Settings] = None) -> None:
    problems = start_problems(settings)
    if problems:
        raise UnsafeStart(problems)


def refused_start(settings: Optional[Settings] = None, more_problems: Iterable[Optional[str]] = ()) -> int:
    """For a process's entry point: 0 if it may start; else says why on stderr and returns the exit status.

    `more_problems`: the entry point's own checks (None where there is no problem)."""
    problems = start_problems(settings) + [problem for problem in more_problems if problem]
    if not problems:
        return 0
    refused = UnsafeStart(problems)
    print(refused, file=sys.stderr, flush=True)
    return refused.code


def bind_host(configured: str, settings: Optional[Settings] = None) -> str:
    """Where a server listens: always the loopback in demo mode; the configured host in production."""
    settings = settings or get_settings()
    return configured if settings.is_production else LOOPBACK


def demo_banner(settings: Optional[Settings] = None) -> str:
    settings = settings or get_settings()
    if settings.is_production:
        return ""
    return ("=" * 72 + "\n"
            "  데모 모드예요(CLEANBOT_MODE=demo). 127.0.0.1에서만 열리고, 서명 없는 sender와 데모 데이터를 써요.\n"
            "  실제 서비스에는 CLEANBOT_MODE=production과 서명 키를 설정해 주세요(docs/security.md).\n"
            + "=" * 72)
