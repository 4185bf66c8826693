"""The demo data set (bot/fixtures/demo.yml): loaded once, idempotently, by `cleanbot demo load`."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select

from bot.catalogue import load_brands
from bot.clock import utcnow
from bot.db import transaction
from bot.models import (
    Brand,
    BrandOwnerInvite,
    BrandSynonym,
    ChatIdentity,
    Customer,
    HolderIdentity,
    Listing,
    Order,
    RightsHolder,
    Seller,
    SellerBrandAuthorisation,
)
from bot.settings import PROJECT_ROOT

DEMO_FILE = PROJECT_ROOT / "bot" / "fixtures" / "demo.yml"
SCREENING_FILE = PROJECT_ROOT / "bot" / "fixtures" / "screening.yml"


def load_catalogue(session) -> dict[str, Brand]:
    brands: dict[str, Brand] = {}
    for name, synonyms in load_brands():
        brand = session.execute(select(Brand).where(Brand.name == name)).scalar_one_or_none()
        if brand is None:
            brand = Brand(name=name)
            session.add(brand)
            session.flush()
        known = set(session.execute(select(BrandSynonym.synonym)).scalars())
        for synonym in {name.casefold(), *(s.casefold() for s in synonyms)}:
            if synonym not in known:
                session.add(BrandSynonym(brand_id=brand.id, synonym=synonym))
                known.add(synonym)
        brands[name] = brand
    session.flush()
    return brands


def is_empty() -> bool:
    with transaction() as session:
        return session.execute(select(func.count(Customer.id))).scalar_one() == 0


def load(path: Path = DEMO_FILE) -> dict[str, int]:
    """Insert whatever of the demo set is missing; returns how many rows of each kind were added.

    Never in production mode: the demo's verified rights holders and the Gucci code are public."""
    from bot.settings import get_settings

    if get_settings().is_production:
        raise PermissionError("demo data is never loaded in production mode (CLEANBOT_MODE=production)")
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    now = utcnow()
    added = {"brands": 0, "sellers": 0, "listings": 0, "customers": 0, "orders": 0, "rights_holders": 0, "invites": 0}
    with transaction() as session:
        before = session.execute(select(func.count(Brand.id))).scalar_one()
        brands = load_catalogue(session)
        added["brands"] = len(brands) - before
        for row in data["sellers"]:
            level = row.get("verification", "unverified")
            seller = session.get(Seller, row["id"])
            if seller is None:
                session.add(Seller(id=row["id"], name=row["name"], status="active", verification_level=level,
                                   verified_at=None if level == "unverified" else now))
                added["sellers"] += 1
            elif seller.verification_level == "unverified" and level != "unverified":
                # A database from before sellers had levels (migration 0008): the demo's level is what is missing.
                seller.verification_level, seller.verified_at = level, now
        session.flush()
        for row in data["sellers"]:
            for brand_name in row.get("authorised_for", []):
                if session.get(SellerBrandAuthorisation, (row["id"], brands[brand_name].id)) is None:
                    session.add(SellerBrandAuthorisation(seller_id=row["id"], brand_id=brands[brand_name].id,
                                                         created_at=now, created_by="demo"))
        session.flush()
        for row in data["listings"]:
            if session.get(Listing, row["id"]) is None:
                session.add(Listing(id=row["id"], seller_id=row["seller"], brand_id=brands[row["brand"]].id,
                                    title=row["title"], price_krw=row["price_krw"], status="active"))
                added["listings"] += 1
        for row in data["customers"]:
            if session.get(Customer, row["id"]) is None:
                session.add(Customer(id=row["id"], name=row["name"], created_at=now))
                added["customers"] += 1
        session.flush()
        for row in data["orders"]:
            if session.get(Order, row["number"]) is None:
                delivered = row["delivered_days_ago"]
                session.add(Order(
                    number=row["number"], customer_id=row["customer"], listing_id=row["listing"],
                    product_name=row["product_name"], amount_krw=row["amount_krw"],
                    paid_at=now - timedelta(days=row["paid_days_ago"]),
                    delivered_at=None if delivered is None else now - timedelta(days=delivered),
                    status=row["status"],
                ))
                added["orders"] += 1
        for row in data["rights_holders"]:
            brand = brands[row["brand"]]
            holder = session.execute(
                select(RightsHolder).where(RightsHolder.brand_id == brand.id, RightsHolder.name == row["name"])
            ).scalar_one_or_none()
            if holder is None:
                holder = RightsHolder(name=row["name"], brand_id=brand.id, verified_at=now)
                session.add(holder)
                session.flush()
                added["rights_holders"] += 1
            for ident in row["identities"]:
                identity = session.execute(select(ChatIdentity).where(
                    ChatIdentity.channel == ident["channel"], ChatIdentity.external_id == ident["external_id"])
                ).scalar_one_or_none()
                if identity is None:
                    identity = ChatIdentity(channel=ident["channel"], external_id=ident["external_id"], created_at=now)
                    session.add(identity)
                    session.flush()
                if session.get(HolderIdentity, (holder.id, identity.id)) is None:
                    session.add(HolderIdentity(rights_holder_id=holder.id, identity_id=identity.id, created_at=now))
        for row in data.get("invites", []):
            if session.execute(select(BrandOwnerInvite).where(BrandOwnerInvite.code == row["code"])).scalar_one_or_none() is None:
                session.add(BrandOwnerInvite(code=row["code"], brand_id=brands[row["brand"]].id,
                                             holder_name=row["holder_name"], created_at=now,
                                             expires_at=now + timedelta(days=row["expires_in_days"])))
                added["invites"] += 1
        added["screening_listings"] = _load_screening(session, brands, now)
    return added


def _load_screening(session, brands: dict[str, Brand], now, path: Path = SCREENING_FILE) -> int:
    """The screening set (bot/fixtures/screening.yml): store ages and reference prices for the demo.yml rows,
    more sellers and listings (genuine and fake) with their photo hashes and truth. Fills only what is
    missing, so loading twice changes nothing; returns how many listings it added."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    for seller_id, days in data["seller_ages"].items():
        seller = session.get(Seller, seller_id)
        if seller is not None and seller.created_at is None:
            seller.created_at = now - timedelta(days=days)
    for listing_id, price in data["reference_prices"].items():
        listing = session.get(Listing, str(listing_id))
        if listing is not None and listing.reference_price_krw is None:
            listing.reference_price_krw = price
            listing.truth_label = "genuine"
    for row in data["sellers"]:
        if session.get(Seller, row["id"]) is None:
            session.add(Seller(id=row["id"], name=row["name"], status="active",
                               created_at=now - timedelta(days=row["opened_days_ago"])))
    session.flush()
    added = 0
    for row in data["listings"]:
        if session.get(Listing, row["id"]) is None:
            session.add(Listing(id=row["id"], seller_id=row["seller"], brand_id=brands[row["brand"]].id,
                                title=row["title"], price_krw=row["price_krw"], status="active",
                                reference_price_krw=row["reference_price_krw"], photo_phash=row["photo_phash"],
                                truth_label=row["truth"]))
            added += 1
    return added
