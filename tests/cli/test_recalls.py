"""`cleanbot recalls list CASE`: the buyers a recall could not reach in chat."""
from __future__ import annotations

import json

from bot.services import identity, inspections
from bot.db import transaction
from tests.test_cli import cleanbot

AF1 = "1005006000123456"


def test_lists_the_buyers_without_a_chat_account(db_url, orders_by_customer):
    with transaction() as session:
        identity.get_or_create_identity(session, "web", "shopper-5")
    case = inspections.add(AF1, "fake", "한국소비자검사원").case_number
    result = cleanbot("recalls", "list", case, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    order = next(o["number"] for o in orders_by_customer["shopper-1"] if o["listing"] == AF1)
    assert [(r["customer_id"], r["order_number"], r["reached"], r["claimed"]) for r in rows] == [
        ("shopper-1", order, 0, False)]
    assert cleanbot("recalls", "list", case, "--all", "--json").stdout.count('"order_number"') == 2
    text = cleanbot("recalls", "list", case).stdout
    assert text == f"shopper-1\t김민지\t주문 {order}\t나이키 에어포스 1 '07 화이트\t129,000원\t미신청\t채팅 계정 0개\n"


def test_an_unknown_case(db_url):
    result = cleanbot("recalls", "list", "IPP-2026-999999")
    assert result.returncode == 1
    assert result.stderr.strip() == "IPP-2026-999999 케이스를 찾을 수 없어요. 케이스 번호(IPP-YYYY-NNNNNN)를 확인해 주세요."
