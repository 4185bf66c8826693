"""Migration 0008 on a database that has data from before it, on SQLite and PostgreSQL: sellers start
unverified, the one-open-case index keeps its WHERE clause through the table rebuild, and it goes down and
up again."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import BACKENDS, _pg_admin, _pg_url


@pytest.fixture(params=BACKENDS)
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    name = f"cleanbot_m_{uuid.uuid4().hex[:10]}"
    with _pg_admin().connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield _pg_url(name)
    with _pg_admin().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _case(conn, case_id: int, state: str) -> None:
    conn.execute(text("INSERT INTO ipp_cases (id, listing_id, brand_id, state, source, created_at, updated_at) "
                      "VALUES (:id, '1005000000000001', 1, :state, 'shopper_report', '2026-12-01', '2026-12-01')"),
                 {"id": case_id, "state": state})


def test_0008_over_existing_data_and_back(empty_url):
    from alembic import command

    from bot.migrate import alembic_config, upgrade

    config = alembic_config(empty_url)
    command.upgrade(config, "0007")
    engine = create_engine(empty_url, future=True)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO brands (id, name) VALUES (1, 'Nike')"))
        conn.execute(text("INSERT INTO sellers (id, name, status) VALUES ('S-1', '가게', 'active')"))
        conn.execute(text("INSERT INTO listings (id, seller_id, brand_id, title, price_krw, status) "
                          "VALUES ('1005000000000001', 'S-1', 1, '신발', 1000, 'active')"))
        _case(conn, 1, "submitted")
    upgrade(empty_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT verification_level, verified_at FROM sellers")).all() == [("unverified", None)]
    with pytest.raises(IntegrityError):  # still one open case per listing
        with engine.begin() as conn:
            _case(conn, 2, "under_review")
    with engine.begin() as conn:
        _case(conn, 3, "rejected")  # a closed one beside it is fine
    with pytest.raises(IntegrityError):
        with engine.begin() as conn:
            conn.execute(text("UPDATE sellers SET verification_level = 'business_verified'"))  # without verified_at
    command.downgrade(config, "0007")
    upgrade(empty_url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM ipp_cases")).scalar_one() == 2
    engine.dispose()
