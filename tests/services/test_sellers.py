"""Seller verification: levels, per-brand authorisations, and the constraints behind them."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.db import transaction
from bot.models import AuditLog, Seller
from bot.services import sellers


def test_demo_levels(db_url):
    assert (sellers.seller_view("S-1001").verification_level, sellers.seller_view("S-1001").authorised_brands) == (
        "unverified", ())
    view = sellers.seller_view("S-1003")
    assert (view.verification_level, view.authorised_brands) == ("authorised_reseller", ("Adidas", "Nike"))
    assert sellers.seller_text(view).startswith("S-1003 스포츠마켓 · 정상 · 브랜드 공식 판매자(Adidas, Nike) · 유효 제재 0건")


def test_verify_up_and_down(db_url):
    view = sellers.verify("S-1001", "business_verified", actor="cli:kim")
    assert (view.verification_level, view.authorised_brands) == ("business_verified", ())
    view = sellers.verify("S-1001", "authorised_reseller", brand="구찌", actor="cli:kim")
    assert (view.verification_level, view.authorised_brands) == ("authorised_reseller", ("Gucci",))
    view = sellers.verify("S-1001", "authorised_reseller", brand="louis vuitton", actor="cli:kim")
    assert view.authorised_brands == ("Gucci", "Louis Vuitton")
    view = sellers.verify("S-1001", "business_verified", brand="Gucci", actor="cli:kim")
    assert (view.verification_level, view.authorised_brands) == ("authorised_reseller", ("Louis Vuitton",))
    view = sellers.verify("S-1001", "business_verified", brand="Louis Vuitton", actor="cli:kim")
    assert (view.verification_level, view.authorised_brands) == ("business_verified", ())
    view = sellers.verify("S-1003", "unverified", actor="cli:kim")
    assert (view.verification_level, view.authorised_brands) == ("unverified", ())
    with transaction() as session:
        assert session.get(Seller, "S-1003").verified_at is None
        audited = session.execute(select(AuditLog.detail).where(AuditLog.action == "seller.verified",
                                                                AuditLog.subject == "S-1001")).scalars().all()
    assert [d["level"] for d in audited] == ["business_verified", "authorised_reseller", "authorised_reseller",
                                             "authorised_reseller", "business_verified"]


@pytest.mark.parametrize("seller_id, level, brand, message", [
    ("S-1001", "authorised_reseller", None, "브랜드 공식 판매자로 인증하려면 --brand로 어느 브랜드의 인증인지 알려 주세요."),
    ("S-1001", "authorised_reseller", "없는브랜드", "없는브랜드는 등록된 브랜드가 아니에요. 브랜드 이름을 확인해 주세요."),
    ("S-9999", "business_verified", None, "판매자 S-9999를 찾을 수 없어요. 판매자 번호(S-NNNN)를 확인해 주세요."),
    ("S-1003", "unverified", "Nike", "미인증으로 바꾸면 모든 브랜드 인증이 함께 없어져요. --brand 없이 다시 실행해 주세요."),
])
def test_refusals_say_what_to_do(db_url, seller_id, level, brand, message):
    with pytest.raises(sellers.SellerActionError) as error:
        sellers.verify(seller_id, level, brand=brand)
    assert error.value.message_ko == message


@pytest.mark.parametrize("values", [
    {"verification_level": "gold"},
    {"verification_level": "business_verified", "verified_at": None},
])
def test_the_database_refuses_an_inconsistent_level(db_url, values):
    with pytest.raises(IntegrityError):
        with transaction() as session:
            seller = session.get(Seller, "S-1001")
            for key, value in values.items():
                setattr(seller, key, value)
