"""The command line, as the team runs it (a real process against a real database)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.settings import PROJECT_ROOT


def cleanbot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=PROJECT_ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def test_orders_list_json_for_one_customer(db_url):
    result = cleanbot("orders", "list", "--customer", "shopper-2", "--json")
    assert result.returncode == 0, result.stderr
    orders = json.loads(result.stdout)
    assert len(orders) == 5 and {o["customer_id"] for o in orders} == {"shopper-2"}
    assert all(len(o["number"]) == 16 for o in orders)


def test_demo_load_is_idempotent(db_url):
    result = cleanbot("demo", "load", "--json")
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout).values()) == {0}


def test_review_confirms_fake_once_and_strikes_the_seller(db_url, orders_by_customer):
    from bot.services import reports, sellers

    order = next(o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] == 5)
    number = reports.file_report("shopper-1", order["number"], "가짜").report_number
    result = cleanbot("reports", "review", number, "--confirm-fake", "--note", "정품 대조 결과 가품", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdict"] == "confirmed_fake"
    again = cleanbot("reports", "review", number, "--confirm-fake")
    assert again.returncode == 1 and "이미 결정된" in again.stderr
    shown = json.loads(cleanbot("orders", "show", order["number"], "--json").stdout)
    seller = json.loads(cleanbot("sellers", "show", "S-1003", "--json").stdout)
    assert shown["report_number"] == number
    assert seller["active_strikes"] == 1 and seller["status"] == "active"


def test_unknown_report_says_so(db_url):
    result = cleanbot("reports", "show", "RPT-2026-999999")
    assert result.returncode == 1 and "찾을 수 없어요" in result.stderr


def test_lift_freezes_ends_the_freezes_that_ran_out(db_url):
    from datetime import timedelta

    from bot.clock import utcnow
    from bot.db import transaction
    from bot.models import Seller

    with transaction() as session:
        for seller_id, left in (("S-1002", timedelta(minutes=-1)), ("S-1004", timedelta(days=1))):
            seller = session.get(Seller, seller_id)
            seller.status, seller.frozen_until = "frozen", utcnow() + left
    result = cleanbot("sellers", "lift-freezes", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["S-1002"]
    assert cleanbot("sellers", "lift-freezes").stdout.startswith("판매 정지가 끝난 판매자 0곳을")
    assert json.loads(cleanbot("sellers", "show", "S-1004", "--json").stdout)["status"] == "frozen"
