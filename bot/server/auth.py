"""Signed identities: who a web or REST client is, from a JSON Web Token of the marketplace's login.

The token's `sub` is the customer id or the rights holder's account id, and it *is* the conversation id:
channels bind the conversation to it on the server and refuse a client-chosen sender that differs.
`exp` is required; `role` is optional and informational. HS256 with CLEANBOT_JWT_SECRET, or RS256/ES256
with CLEANBOT_JWT_PUBLIC_KEY (PEM text or a path to a PEM file). Only the algorithms that fit the
configured key are accepted, so a token signed with "none" or with the public key as an HMAC secret fails.

In demo mode the /chat page and `cleanbot chat` get short-lived tokens from a demo-only endpoint
(`issue_demo_token`), so the same verification runs in both modes."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import jwt

from bot.settings import Settings, get_settings

HMAC_ALGORITHMS = ["HS256"]
PUBLIC_KEY_ALGORITHMS = ["RS256", "ES256"]
DEMO_TOKEN_SECONDS = 12 * 60 * 60


@dataclass(frozen=True)
class Identity:
    subject: str
    role: Optional[str] = None
    expires_at: Optional[int] = None


class Refused(Exception):
    """A refused request: the HTTP status, a machine-readable code and what to tell the person."""

    def __init__(self, status: int, code: str, message_ko: str):
        super().__init__(f"{code}: {message_ko}")
        self.status, self.code, self.message_ko = status, code, message_ko

    def as_json(self) -> dict:
        return {"error": self.message_ko, "code": self.code}


class AuthError(Refused):
    """A refused identity: `status` is the HTTP status (401 unknown caller, 403 wrong conversation)."""


MISSING_KO = "로그인 정보가 없어요. 다시 로그인한 뒤 대화를 시작해 주세요."
EXPIRED_KO = "로그인이 만료됐어요. 다시 로그인한 뒤 대화를 이어 가 주세요."
INVALID_KO = "로그인 정보를 확인할 수 없어요. 다시 로그인한 뒤 대화를 시작해 주세요."
MISMATCH_KO = "로그인한 계정과 다른 대화에는 메시지를 보낼 수 없어요. 본인 계정으로 다시 시도해 주세요."
NO_KEY_KO = "서버에 로그인 확인 키가 설정되지 않았어요. 관리자에게 CLEANBOT_JWT_SECRET 설정을 요청해 주세요."


def _public_key(value: str) -> str:
    if "-----BEGIN" in value:
        return value
    return Path(value).expanduser().read_text(encoding="utf-8")


def verification_key(settings: Optional[Settings] = None) -> tuple[Optional[str], list[str]]:
    """The key tokens are checked with and the algorithms it allows; (None, []) when none is set."""
    settings = settings or get_settings()
    if settings.jwt_public_key:
        return _public_key(settings.jwt_public_key), PUBLIC_KEY_ALGORITHMS
    if settings.jwt_secret:
        return settings.jwt_secret, HMAC_ALGORITHMS
    return None, []


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def valid_subject(subject: object, settings: Optional[Settings] = None) -> bool:
    settings = settings or get_settings()
    return (isinstance(subject, str) and 0 < len(subject) <= settings.max_sender_length
            and subject.isprintable() and subject.strip() == subject)


def verify(token: Optional[str], settings: Optional[Settings] = None) -> Identity:
    """The identity a token proves; AuthError(401) when it is missing, expired, forged or malformed."""
    settings = settings or get_settings()
    if not token:
        raise AuthError(401, "token_missing", MISSING_KO)
    key, algorithms = verification_key(settings)
    if key is None:
        raise AuthError(401, "no_signing_key", NO_KEY_KO)
    options = {"require": ["exp", "sub"]}
    try:
        claims = jwt.decode(
            token, key, algorithms=algorithms, options=options,
            audience=settings.jwt_audience or None, issuer=settings.jwt_issuer or None, leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token_expired", EXPIRED_KO) from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise AuthError(401, "token_invalid", INVALID_KO) from None
    subject = claims.get("sub")
    if not valid_subject(subject, settings):
        raise AuthError(401, "token_invalid", INVALID_KO)
    role = claims.get("role")
    return Identity(subject, role if isinstance(role, str) else None, claims.get("exp"))


def bind_sender(identity: Identity, claimed: Optional[str]) -> str:
    """The conversation id for a verified caller: its subject; a different client-chosen id is refused."""
    if claimed not in (None, "") and claimed != identity.subject:
        raise AuthError(403, "sender_mismatch", MISMATCH_KO)
    return identity.subject


def issue_demo_token(subject: str, role: Optional[str] = None, seconds: int = DEMO_TOKEN_SECONDS,
                     settings: Optional[Settings] = None) -> str:
    """A token for the demo identity selector and `cleanbot chat`; refused outside demo mode."""
    settings = settings or get_settings()
    if settings.is_production:
        raise PermissionError("demo tokens are not issued in production mode")
    if not settings.jwt_secret:
        raise PermissionError("demo tokens need CLEANBOT_JWT_SECRET (cleanbot run generates one)")
    now = int(time.time())
    claims = {"sub": subject, "iat": now, "exp": now + seconds}
    if role:
        claims["role"] = role
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


def new_secret() -> str:
    """A fresh random secret (the per-run demo signing key, the action server's shared secret)."""
    return secrets.token_urlsafe(32)
