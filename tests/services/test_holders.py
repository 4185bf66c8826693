"""Rights-holder verification: invite codes, redemption on any channel, refusals and the lock."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.clock import utcnow
from bot.db import transaction
from bot.models import BrandOwnerInvite, HolderIdentity, RightsHolder, VerificationAttempt
from bot.nlu.identifier_extractor import _CODE_ALPHABET, find_identifiers, is_verification_code
from bot.services import holders, identity
from bot.settings import PROJECT_ROOT

DEMO_CODE = "K7QP3MXZ"  # Gucci, unused, from bot/fixtures/demo.yml


def test_codes_are_what_the_nlu_extractor_reads():
    assert set(holders.CODE_ALPHABET) == set(_CODE_ALPHABET)
    for _ in range(2000):
        code = holders.new_code()
        assert len(code) == 8 and set(code) <= set(holders.CODE_ALPHABET)
        assert any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
        assert is_verification_code(code) and holders.is_verification_code(code)
    code = holders.new_code()
    assert [e["value"] for e in find_identifiers(f"인증코드 {code.lower()} 입니다", include_brands=False)] == [code]
    for text in ("ABCDEFGH", "23456789", "ABCD1234", "ABCDO234", "ABC2345", "ABCD23456"):
        assert holders.is_verification_code(text) == is_verification_code(text) is False


@pytest.mark.parametrize("typed", ["나이키", "NIKE", "nike", "Nike"])
def test_invite_by_any_brand_name_expires_after_the_setting(db_url, monkeypatch, typed):
    monkeypatch.setenv("CLEANBOT_INVITE_EXPIRY_DAYS", "3")
    invite = holders.issue_invite(typed, "나이키코리아 법무팀", actor="cli:test")
    assert invite.brand == "Nike" and invite.holder_name == "나이키코리아 법무팀"
    assert timedelta(days=3) - timedelta(seconds=5) < invite.expires_at - invite.created_at <= timedelta(days=3)
    assert is_verification_code(invite.code)


def test_invite_refusals(db_url):
    with pytest.raises(holders.HolderError) as unknown:
        holders.issue_invite("없는브랜드", "누군가")
    assert "찾을 수 없어요" in unknown.value.message_ko
    with pytest.raises(holders.HolderError) as empty:
        holders.issue_invite("Nike", "  ")
    assert "이름" in empty.value.message_ko


@pytest.mark.parametrize("channel", ["web", "telegram"])
def test_a_code_links_the_chat_account_on_any_channel(db_url, channel):
    result = holders.verify(channel, "holder-new-1", DEMO_CODE.lower())
    assert result.status == "verified" and result.brand == "Gucci" and result.holder_name == "구찌코리아 법무팀"
    rasa_channel = "telegram" if channel == "telegram" else "rest"
    who = identity.resolve(rasa_channel, "holder-new-1")
    assert [h.brand_name for h in who.holder_brands] == ["Gucci"]
    with transaction() as session:
        invite = session.execute(select(BrandOwnerInvite).where(BrandOwnerInvite.code == DEMO_CODE)).scalar_one()
        assert invite.used_at is not None and invite.used_by_identity_id is not None
    # The same account again: already done, not a failure.
    again = holders.verify(channel, "holder-new-1", DEMO_CODE)
    assert again.status == "already_verified" and again.ok
    assert holders.failures_in_window(channel, "holder-new-1") == 0


def test_used_expired_and_wrong_codes_are_refused_and_counted(db_url):
    assert holders.verify("web", "holder-new-1", DEMO_CODE).status == "verified"
    used = holders.verify("web", "holder-new-2", DEMO_CODE)
    assert used.status == "used" and not used.ok
    invite = holders.issue_invite("Chanel", "샤넬 법무팀")
    with transaction() as session:
        session.execute(update(BrandOwnerInvite).where(BrandOwnerInvite.code == invite.code)
                        .values(expires_at=utcnow() - timedelta(minutes=1)))
    expired = holders.verify("web", "holder-new-2", invite.code)
    assert expired.status == "expired" and expired.expired_at is not None
    wrong = holders.verify("web", "holder-new-2", "ZZZZ2222")
    assert wrong.status == "wrong" and wrong.failures_left == 2
    assert holders.failures_in_window("web", "holder-new-2") == 3
    assert identity.resolve("rest", "holder-new-2").holder_brands == ()


def test_bad_format_is_not_a_try(db_url):
    assert holders.verify("web", "holder-new-3", "K7QP3MX0").status == "bad_format"
    assert holders.verify("web", "holder-new-3", "").status == "bad_format"
    assert holders.failures_in_window("web", "holder-new-3") == 0


def test_five_wrong_codes_in_an_hour_lock_for_an_hour(db_url):
    results = [holders.verify("web", "holder-new-4", f"ZZZZ222{n}") for n in range(2, 7)]
    assert [r.status for r in results] == ["wrong"] * 5
    assert [r.failures_left for r in results[:4]] == [4, 3, 2, 1]
    assert results[4].locked_until is not None  # the fifth refusal says the account is now locked
    locked = holders.verify("web", "holder-new-4", DEMO_CODE)  # even the right code
    assert locked.status == "locked" and locked.locked_until == results[4].locked_until
    assert timedelta(minutes=59) < locked.locked_until - utcnow() <= timedelta(minutes=60)
    assert holders.failures_in_window("web", "holder-new-4") == 5  # tries during the lock are not recorded
    # Another account is not affected.
    assert holders.verify("web", "holder-new-5", DEMO_CODE).status == "verified"
    # An hour later the lock is over.
    with transaction() as session:
        session.execute(update(VerificationAttempt).values(at=VerificationAttempt.at - timedelta(minutes=61)))
    assert holders.lock_status("web", "holder-new-4") is None
    invite = holders.issue_invite("Dyson", "다이슨코리아")
    assert holders.verify("web", "holder-new-4", invite.code).status == "verified"


def test_failures_spread_over_more_than_an_hour_do_not_lock(db_url):
    for n in range(4):
        holders.verify("telegram", "777", f"ZZZZ333{n + 2}")
    with transaction() as session:
        session.execute(update(VerificationAttempt).values(at=VerificationAttempt.at - timedelta(minutes=61)))
    fifth = holders.verify("telegram", "777", "ZZZZ3337")
    assert fifth.status == "wrong" and fifth.locked_until is None and fifth.failures_left == 4
    assert holders.verify("telegram", "777", DEMO_CODE).status == "verified"


def test_lock_is_per_channel_account(db_url):
    for n in range(5):
        holders.verify("web", "same-id", f"ZZZZ444{n + 2}")
    assert holders.lock_status("web", "same-id") is not None
    assert holders.lock_status("telegram", "same-id") is None


def test_a_code_for_a_brand_the_account_already_holds_stays_unused(db_url):
    invite = holders.issue_invite("Nike", "나이키코리아 지식재산팀")
    result = holders.verify("web", "brand-nike", invite.code)
    assert result.status == "already_verified" and result.brand == "Nike"
    with transaction() as session:
        assert session.execute(select(BrandOwnerInvite.used_at).where(BrandOwnerInvite.code == invite.code)
                               ).scalar_one() is None


def test_one_account_may_hold_several_brands_and_holders_are_shared(db_url):
    invite = holders.issue_invite("Gucci", "구찌코리아 법무팀")  # same holder name as the demo code's
    assert holders.verify("web", "holder-new-6", DEMO_CODE).status == "verified"
    assert holders.verify("telegram", "42", invite.code).status == "verified"
    chanel = holders.issue_invite("Chanel", "샤넬 법무팀")
    assert holders.verify("web", "holder-new-6", chanel.code).status == "verified"
    assert sorted(h.brand_name for h in identity.resolve("rest", "holder-new-6").holder_brands) == ["Chanel", "Gucci"]
    with transaction() as session:
        gucci_holders = session.execute(select(func.count(RightsHolder.id)).where(RightsHolder.name == "구찌코리아 법무팀")
                                        ).scalar_one()
        assert gucci_holders == 1
        assert session.execute(select(func.count()).select_from(HolderIdentity)).scalar_one() == 2 + 3


def test_a_code_used_concurrently_links_one_account(db_url):
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda n: holders.verify("web", f"racer-{n}", DEMO_CODE), range(6)))
    assert sorted(r.status for r in results) == ["used"] * 5 + ["verified"]


def cleanbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_cli_invite(db_url):
    made = cleanbot("brand-owner", "invite", "젠틀몬스터", "--name", "젠틀몬스터 IP팀", "--json")
    assert made.returncode == 0, made.stderr
    invite = json.loads(made.stdout)
    assert invite["brand"] == "Gentle Monster" and is_verification_code(invite["code"])
    text = cleanbot("brand-owner", "invite", "dyson", "--name", "다이슨코리아")
    assert text.returncode == 0 and "인증 코드:" in text.stdout and "Dyson" in text.stdout
    refused = cleanbot("brand-owner", "invite", "없는브랜드", "--name", "누군가")
    assert refused.returncode == 1 and "찾을 수 없어요" in refused.stderr
    assert holders.verify("web", "holder-new-7", invite["code"]).status == "verified"
    listed = json.loads(cleanbot("brand-owner", "list", "--brand", "Gentle Monster", "--json").stdout)
    assert listed[0]["accounts"] == ["web:holder-new-7"]
    invites = json.loads(cleanbot("brand-owner", "invites", "--brand", "젠틀몬스터", "--json").stdout)
    assert invites[0]["used_by"] == "web:holder-new-7"
