"""`cleanbot sellers verify` as the team runs it (a real process against a real database)."""
from __future__ import annotations

import json

from tests.test_cli import cleanbot


def test_verify_a_seller_for_a_brand(db_url):
    result = cleanbot("sellers", "verify", "S-1001", "--level", "authorised_reseller", "--brand", "구찌", "--json")
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    assert (view["verification_level"], view["authorised_brands"]) == ("authorised_reseller", ["Gucci"])
    text = cleanbot("sellers", "show", "S-1001")
    assert text.stdout.startswith("S-1001 글로벌패션몰 · 정상 · 브랜드 공식 판매자(Gucci) · 유효 제재 0건")


def test_a_refusal_says_what_to_do(db_url):
    result = cleanbot("sellers", "verify", "S-1001", "--level", "authorised_reseller")
    assert result.returncode == 1
    assert result.stderr.strip() == "브랜드 공식 판매자로 인증하려면 --brand로 어느 브랜드의 인증인지 알려 주세요."
