"""Every reply template against the banned patterns of docs/voice.md (read from its table, so the guide and
the check cannot drift apart): the string literals of bot/replies/*.py (f-strings' fixed parts included,
docstrings not), the responses and button titles of domain.yml, the FAQ answers, and a few replies
rendered with real values."""
from __future__ import annotations

import ast
import re
from datetime import datetime

import pytest
import yaml

from bot.replies.voice import banned_patterns, violations
from bot.settings import PROJECT_ROOT

# korean.py holds the particle tables themselves (은(는) is its neutral fallback), not templates.
REPLIES = sorted(p for p in (PROJECT_ROOT / "bot" / "replies").glob("*.py") if p.name != "korean.py")
SHOPPER_FILES = {"shopper.py", "first_contact.py"}
HANGUL = re.compile(r"[가-힣]")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


# Actions still word a few hints themselves (the rest comes from bot/replies).
ACTIONS = sorted((PROJECT_ROOT / "actions").glob("*.py"))


def _patterns(tree: ast.AST) -> set[int]:
    """The literals inside re.compile(…), re.search(…) …: what users type, not what the bot says."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re":
            ids.update(id(n) for arg in node.args for n in ast.walk(arg) if isinstance(n, ast.Constant))
    return ids


def reply_literals() -> list[tuple[str, str]]:
    """(where, text) of every Korean string literal in bot/replies/*.py and actions/*.py but docstrings."""
    found = []
    for path in REPLIES + ACTIONS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree) | _patterns(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip \
                    and HANGUL.search(node.value):
                found.append((f"{path.name}:{node.lineno}", node.value))
    return found


def domain_texts() -> list[tuple[str, str]]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    texts = []
    for name, variants in domain["responses"].items():
        for variant in variants:
            texts.append((f"domain.yml:{name}", variant.get("text", "")))
            texts += [(f"domain.yml:{name}", b["title"]) for b in variant.get("buttons", [])]
    return texts


def faq_answers() -> list[tuple[str, str]]:
    faq = yaml.safe_load((PROJECT_ROOT / "bot" / "knowledge" / "faq.yml").read_text(encoding="utf-8"))
    return [(f"faq.yml:{entry['id']}", entry["answer"]) for entry in faq["faqs"]]


def rendered(db_url) -> list[tuple[str, str]]:
    """Replies with real values: the particles and dates only show once filled in."""
    from bot.replies import first_contact, shopper
    from bot.services import orders
    from bot.services.reports import ReportOutcome

    texts = []
    for order in orders.all_orders("shopper-1"):
        texts += [("rendered:order_choice", shopper.order_choice(order, 1)),
                  ("rendered:confirm_order", shopper.confirm_order(order)),
                  ("rendered:order_found", shopper.order_found(order))]
        check = orders.check_order("shopper-1", order.number)
        if check.problem:
            texts.append(("rendered:eligibility_problem", shopper.eligibility_problem(check)))
    for status in ("granted", "held"):
        outcome = ReportOutcome(status=status, report_number="RPT-2026-000001", amount_krw=129_000,
                                refunded_at=datetime(2026, 12, 2, 6, 0) if status == "granted" else None,
                                eligibility=None)
        texts.append((f"rendered:report_outcome:{status}", shopper.report_outcome(outcome)))
    for name, brands in ((None, ()), ("김민지", ()), (None, ("Nike",))):
        texts.append(("rendered:greeting", first_contact.greeting(name, brands)[0]))
    return texts


def _scope(where: str) -> str:
    return "shopper" if where.split(":")[0] in SHOPPER_FILES or where.startswith(("domain.yml", "rendered")) else "all"


def test_the_guide_lists_the_banned_patterns():
    patterns = banned_patterns()
    assert len(patterns) == 9
    assert ("천만에요", "all") in patterns and ("스트라이크", "shopper") in patterns
    for pattern, _scope_name in patterns:
        re.compile(pattern)


def _violations(texts):
    return violations((where, _scope(where), text) for where, text in texts)


@pytest.mark.parametrize("source", [reply_literals, domain_texts, faq_answers])
def test_templates_use_no_banned_pattern(source):
    texts = source()
    assert len(texts) > 10
    assert _violations(texts) == []


def test_rendered_replies_use_no_banned_pattern(db_url):
    texts = rendered(db_url)
    assert len(texts) > 10
    assert _violations(texts) == []
    # The refund gives one date, with its weekday, and no range of days besides.
    granted = dict(texts)["rendered:report_outcome:granted"]
    assert re.search(r"결제하신 수단으로 \d{1,2}월 \d{1,2}일\([월화수목금토일]\)까지 들어와요\.", granted), granted


def test_the_check_catches_what_it_bans():
    assert _violations([("shopper.py:1", "천만에요! 판매자에게 스트라이크가 부과됩니다.")]) == [
        "shopper.py:1: '천만에요' (천만에요)",
        "shopper.py:1: '됩니다' ((습니다|습니까|십시오|[입됩합]니다))",
        "shopper.py:1: '스트라이크' (스트라이크)",
    ]
    assert _violations([("holder.py:1", "판매자 스트라이크")]) == []
