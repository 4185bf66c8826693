"""Signed identities (bot/server/auth.py) and the door checks (connectors/doors.py), without a server.

Each test is an attack that worked before issue #11: a client-chosen sender, a forged or expired or
unsigned token, a token for someone else, metadata the server sets, non-string text, NUL characters,
an over-long sender id, a message flood."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.server import auth
from connectors import doors

SECRET = "s" * 40


@pytest.fixture
def production(monkeypatch):
    monkeypatch.setenv("CLEANBOT_MODE", "production")
    monkeypatch.setenv("CLEANBOT_JWT_SECRET", SECRET)


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("CLEANBOT_MODE", "demo")
    monkeypatch.setenv("CLEANBOT_JWT_SECRET", SECRET)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def token(sub="shopper-1", key=SECRET, algorithm="HS256", exp_in=600, **extra) -> str:
    claims = {"sub": sub, **extra}
    if exp_in is not None:
        claims["exp"] = int(time.time()) + exp_in
    return jwt.encode(claims, key, algorithm=algorithm)


def test_a_valid_token_names_the_conversation(production):
    sender, identity = doors.identify(f"Bearer {token(role='customer')}", None)
    assert sender == "shopper-1" and identity.role == "customer"


def test_a_body_sender_that_differs_from_the_token_is_refused_403(production):
    with pytest.raises(auth.AuthError) as refused:
        doors.identify(f"Bearer {token('shopper-1')}", "brand-nike")
    assert refused.value.status == 403 and "다른 대화" in refused.value.message_ko


def test_the_same_sender_in_the_body_is_fine(production):
    assert doors.identify(f"Bearer {token('shopper-1')}", "shopper-1")[0] == "shopper-1"


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic c2hvcHBlcjox", "Bearer not-a-jwt"])
def test_production_refuses_a_missing_or_malformed_token_401(production, header):
    with pytest.raises(auth.AuthError) as refused:
        doors.identify(header, "shopper-1")
    assert refused.value.status == 401


def test_an_expired_token_is_refused_and_says_so(production):
    with pytest.raises(auth.AuthError) as refused:
        doors.identify(f"Bearer {token(exp_in=-3600)}", None)
    assert refused.value.code == "token_expired" and "만료" in refused.value.message_ko


def test_a_token_without_exp_is_refused(production):
    with pytest.raises(auth.AuthError) as refused:
        doors.identify(f"Bearer {token(exp_in=None)}", None)
    assert refused.value.status == 401


def test_a_token_signed_with_another_key_is_refused(production):
    with pytest.raises(auth.AuthError):
        doors.identify(f"Bearer {token(key='x' * 40)}", None)


def test_an_unsigned_alg_none_token_is_refused(production):
    forged = jwt.encode({"sub": "brand-nike", "exp": int(time.time()) + 600}, None, algorithm="none")
    with pytest.raises(auth.AuthError):
        doors.identify(f"Bearer {forged}", None)


def test_public_key_mode_refuses_the_public_key_used_as_an_hmac_secret(monkeypatch):
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    monkeypatch.setenv("CLEANBOT_MODE", "production")
    monkeypatch.setenv("CLEANBOT_JWT_PUBLIC_KEY", public_pem)
    good = jwt.encode({"sub": "brand-nike", "exp": int(time.time()) + 600}, private, algorithm="ES256")
    assert doors.identify(f"Bearer {good}", None)[0] == "brand-nike"
    # The classic confusion attack: HS256 signed with the (public) verification key.
    # (PyJWT refuses to make it, so it is made by hand.)
    header = _b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64(b'{"sub":"brand-nike","exp":%d}' % (int(time.time()) + 600))
    signature = _b64(hmac.new(public_pem.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())
    forged = f"{header}.{payload}.{signature}"
    with pytest.raises(auth.AuthError):
        doors.identify(f"Bearer {forged}", None)


def test_demo_mode_takes_an_unsigned_sender_but_checks_a_token_when_one_is_sent(demo):
    assert doors.identify(None, "shopper-2") == ("shopper-2", None)
    with pytest.raises(auth.AuthError):
        doors.identify("Bearer forged", "shopper-2")
    with pytest.raises(auth.AuthError) as refused:
        doors.identify(f"Bearer {token('shopper-1')}", "shopper-2")
    assert refused.value.status == 403


def test_demo_tokens_are_never_issued_in_production(production):
    with pytest.raises(PermissionError):
        auth.issue_demo_token("shopper-1")


def test_a_demo_token_verifies_in_demo_mode(demo):
    assert auth.verify(auth.issue_demo_token("brand-nike")).subject == "brand-nike"


@pytest.mark.parametrize("sender", ["x" * 129, "a\x00b", 12345, ["shopper-1"], "   "])
def test_bad_unsigned_sender_ids_are_refused_400(demo, sender):
    with pytest.raises(doors.DoorError) as refused:
        doors.identify(None, sender)
    assert refused.value.status == 400


def test_a_token_subject_over_the_length_limit_is_refused(production):
    with pytest.raises(auth.AuthError):
        doors.identify(f"Bearer {token('x' * 129)}", None)


@pytest.mark.parametrize("value", [123, 1.5, ["hi"], {"text": "hi"}, True])
def test_message_text_must_be_a_string(value):
    with pytest.raises(doors.DoorError) as refused:
        doors.message_text(value)
    assert refused.value.status == 400 and "문자열" in refused.value.message_ko


def test_nul_characters_are_removed_and_long_text_cut():
    assert doors.message_text("가품\x00 신고") == "가품 신고"
    assert len(doors.message_text("가" * 50_000)) == doors.MAX_TEXT


def test_clients_cannot_set_server_metadata():
    spoofed = {"photo_ids": ["a" * 64], "photo_errors": ["x"], "handoff_id": 3, "photos": ["…"]}
    assert doors.client_metadata(spoofed) == {"photos": ["…"]}
    assert doors.client_metadata("photo_ids") == {}


def test_a_sender_over_the_message_rate_is_told_when_to_try_again():
    limit = doors.SenderRateLimit(limit=3, window=60)
    for second in range(3):
        limit.check("shopper-1", now=100.0 + second)
    with pytest.raises(doors.DoorError) as refused:
        limit.check("shopper-1", now=103.0)
    assert refused.value.status == 429 and refused.value.retry_after == 57
    assert "57초 뒤" in refused.value.message_ko
    limit.check("shopper-2", now=103.0)  # others are not affected
    limit.check("shopper-1", now=161.0)  # the window slides


def test_a_flood_is_told_once_then_ignored_until_it_slows_down():
    limit = doors.SenderRateLimit(limit=1, window=60)
    limit.check("telegram:1", now=0.0)
    firsts = []
    for second in (1.0, 2.0, 3.0):
        with pytest.raises(doors.DoorError) as refused:
            limit.check("telegram:1", now=second)
        firsts.append(refused.value.first)
    assert firsts == [True, False, False]
    limit.check("telegram:1", now=61.0)
    with pytest.raises(doors.DoorError) as refused:
        limit.check("telegram:1", now=62.0)
    assert refused.value.first is True
