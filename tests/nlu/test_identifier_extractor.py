"""IdentifierEntityExtractor and the reusable identifier helpers."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import IdentifierEntityExtractor
from bot.nlu.identifier_extractor import (
    BrandCatalogue,
    DEFAULT_BRANDS_FILE,
    find_identifiers,
    is_verification_code,
    load_brand_catalogue,
    looks_like_order_number_attempt,
    normalize_brand,
    normalize_case_number,
    normalize_listing_id,
    normalize_order_number,
    normalize_report_number,
    normalize_trademark_number,
    normalize_verification_code,
    order_number_attempt_digits,
)


def found(text: str) -> List[Tuple[str, str, str]]:
    """(entity, matched text, value) triples; also checks the offsets."""
    out = []
    for e in find_identifiers(text):
        assert e["text"] == text[e["start"] : e["end"]]
        out.append((e["entity"], e["text"], e["value"]))
    return out


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "text, matched",
    [
        ("8181 2345 6789 0123", "8181 2345 6789 0123"),
        ("8181-2345-6789-0123", "8181-2345-6789-0123"),
        ("8181234567890123", "8181234567890123"),
        ("8181 234567890123", "8181 234567890123"),
        ("8181 - 2345 - 6789 - 0123", "8181 - 2345 - 6789 - 0123"),
        ("주문번호는 8181234567890123입니다", "8181234567890123"),
        ("주문번호 8181-2345-6789-0123 이고 2개 샀어요", "8181-2345-6789-0123"),
        ("주문 8181234567890123 2개", "8181234567890123"),
        ("4012 3456 7890 1234", "4012 3456 7890 1234"),  # starts with 40: still an order
    ],
)
def test_order_number_formats(text: str, matched: str) -> None:
    value = matched.replace(" ", "").replace("-", "")
    assert found(text) == [("order_number", matched, value)]
    assert normalize_order_number(text) == value
    assert not looks_like_order_number_attempt(text)


@pytest.mark.parametrize(
    "text, digits",
    [
        ("818123456789012", 15),
        ("81812345678901234", 17),
        ("주문번호 8181 2345 6789 012요", 15),
        ("8181-2345-6789-01234", 17),
        ("8181 2345 6789 0123 4567", 20),  # which 16 of the 20? ambiguous
        ("818123456789", 12),
        ("818123456789012 1개", 15),  # a stray digit does not complete it
    ],
)
def test_not_order_numbers_but_attempts(text: str, digits: int) -> None:
    assert not [e for e in find_identifiers(text) if e["entity"] in ("order_number", "listing_id")]
    assert normalize_order_number(text) is None
    assert looks_like_order_number_attempt(text)
    assert order_number_attempt_digits(text) == digits


@pytest.mark.parametrize(
    "text", ["", "안녕하세요", "010-1234-5678", "12345678901", "2026년 3월 5일", "123456789012345678901"]
)
def test_no_attempt(text: str) -> None:
    assert not looks_like_order_number_attempt(text)
    assert normalize_order_number(text) is None


def test_order_number_not_inside_longer_digit_runs() -> None:
    assert found("번호 818123456789012345 요") == []
    assert found("x18181234567890123") == []


@pytest.mark.parametrize(
    "text, matched",
    [
        ("1005006123456789", "1005006123456789"),
        ("1005 0061 2345 6789", "1005 0061 2345 6789"),
        ("https://ko.aliexpress.com/item/1005006123456789.html", "1005006123456789"),
        (
            "이거요 aliexpress.com/item/1005006123456789.html?spm=a2g0o.order_list.0.0.21ef 가짜",
            "1005006123456789",
        ),
        ("https://ko.aliexpress.com/item/1005006123456789.html이 상품이요", "1005006123456789"),
    ],
)
def test_listing_ids(text: str, matched: str) -> None:
    assert found(text) == [("listing_id", matched, "1005006123456789")]
    assert normalize_listing_id(text) == "1005006123456789"
    assert normalize_order_number(text) is None
    assert not looks_like_order_number_attempt(text)


def test_url_offsets_point_at_digits() -> None:
    text = "https://ko.aliexpress.com/item/1005006123456789.html"
    (entity,) = find_identifiers(text)
    assert (entity["start"], entity["end"]) == (31, 47)


def test_order_number_in_order_url_but_other_url_numbers_ignored() -> None:
    assert found("https://www.aliexpress.com/p/order/detail.html?orderId=8181234567890123") == [
        ("order_number", "8181234567890123", "8181234567890123")
    ]
    assert found("https://example.com/img/8181234567890123.jpg") == []


# ---------------------------------------------------------------------- RPT / IPP


@pytest.mark.parametrize(
    "text, entity, value",
    [
        ("RPT-2026-000042", "report_number", "RPT-2026-000042"),
        ("rpt-2026-000042", "report_number", "RPT-2026-000042"),
        ("rpt 2026 000042", "report_number", "RPT-2026-000042"),
        ("RPT2026000042", "report_number", "RPT-2026-000042"),
        ("신고번호 Rpt-2026-000042요", "report_number", "RPT-2026-000042"),
        ("IPP-2026-000123", "case_number", "IPP-2026-000123"),
        ("ipp 2026-000123 진행상황", "case_number", "IPP-2026-000123"),
        ("IPP2026000123", "case_number", "IPP-2026-000123"),
    ],
)
def test_report_and_case_numbers(text: str, entity: str, value: str) -> None:
    assert [(e, v) for e, _, v in found(text)] == [(entity, value)]
    normalize = normalize_report_number if entity == "report_number" else normalize_case_number
    assert normalize(text) == value


@pytest.mark.parametrize("text", ["RPT-2026-00004", "RPT-2026-0000421", "XRPT-2026-000042", "RPT-26-000042"])
def test_report_number_non_matches(text: str) -> None:
    assert normalize_report_number(text) is None


# ------------------------------------------------------------------------ trademarks


@pytest.mark.parametrize(
    "text, value",
    [
        ("40-1234567", "40-1234567"),
        ("상표등록번호 401234567 입니다", "40-1234567"),
        ("40 1234567", "40-1234567"),
        ("40-2020-1234567", "40-2020-1234567"),
        ("4020201234567", "40-2020-1234567"),
        ("40 2020 1234567", "40-2020-1234567"),
        ("제 상표는 40-2020-1234567이에요", "40-2020-1234567"),
    ],
)
def test_trademark_numbers(text: str, value: str) -> None:
    assert [(e, v) for e, _, v in found(text)] == [("trademark_number", value)]
    assert normalize_trademark_number(text) == value


@pytest.mark.parametrize(
    "text", ["4012345678", "41-1234567", "40-123456", "40-12-34567", "1401234567", "40-1234567-1"]
)
def test_trademark_non_matches(text: str) -> None:
    assert normalize_trademark_number(text) is None


def test_trademark_does_not_steal_order_digits() -> None:
    assert found("4012 3456 7890 1234") == [("order_number", "4012 3456 7890 1234", "4012345678901234")]
    assert found("40123456789012345") == []  # 17 digits: neither
    assert found("상표 40-1234567 주문 8181234567890123") == [
        ("trademark_number", "40-1234567", "40-1234567"),
        ("order_number", "8181234567890123", "8181234567890123"),
    ]


# ------------------------------------------------------------------ verification code


@pytest.mark.parametrize(
    "text, value",
    [
        ("K7QP3MXZ", "K7QP3MXZ"),
        ("인증코드 k7qp3mxz", "K7QP3MXZ"),
        ("AB3D5FGH입니다", "AB3D5FGH"),
        ("코드는AB3D5FGH요", "AB3D5FGH"),
        ("(ZZ22ZZ22)", "ZZ22ZZ22"),
    ],
)
def test_verification_codes(text: str, value: str) -> None:
    assert [(e, v) for e, _, v in found(text)] == [("verification_code", value)]
    assert normalize_verification_code(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "NIKE2025",  # I and 0 are not in the alphabet
        "password",  # no digit
        "PASSWORD",
        "23456789",  # no letter
        "K7QP3MX",  # 7 characters
        "K7QP3MXZZ",  # 9 characters
        "AK7QP3MXZ",
        "K7QP3MXO",  # O not allowed
        "https://example.com/K7QP3MXZ",  # inside a URL
    ],
)
def test_verification_code_non_matches(text: str) -> None:
    assert normalize_verification_code(text) is None
    assert not is_verification_code(text)


# ---------------------------------------------------------------------------- brands


@pytest.mark.parametrize(
    "text, matched, value",
    [
        ("나이키요", "나이키", "Nike"),
        ("루이비통입니다", "루이비통", "Louis Vuitton"),
        ("샤넬꺼 샀어요", "샤넬", "Chanel"),
        ("이거 Nike 맞나요", "Nike", "Nike"),
        ("이거 NIKE 맞나요", "NIKE", "Nike"),
        ("louis vuitton가방", "louis vuitton", "Louis Vuitton"),
        ("Louis  Vuitton 지갑", "Louis  Vuitton", "Louis Vuitton"),
        ("루이 비통 가방", "루이 비통", "Louis Vuitton"),
        ("LV 가방", "LV", "Louis Vuitton"),
        ("구찌가방 가짜같아요", "구찌", "Gucci"),
        ("이거나이키맞아요", "나이키", "Nike"),
        ("젠틀몬스터 선글라스", "젠틀몬스터", "Gentle Monster"),
        ("gentlemonster", "gentlemonster", "Gentle Monster"),
        ("삼성전자 충전기", "삼성전자", "Samsung"),
    ],
)
def test_brands(text: str, matched: str, value: str) -> None:
    assert found(text) == [("brand", matched, value)]
    assert normalize_brand(text) == value


@pytest.mark.parametrize(
    "text", ["silver 목걸이", "nikes", "구치소 갔다", "삼성역 근처", "프라다요", "lvl 3", "https://lv.example.com/a/b"]
)
def test_brand_non_matches(text: str) -> None:
    assert [e for e in find_identifiers(text) if e["entity"] == "brand"] == []


def test_custom_catalogue() -> None:
    catalogue = BrandCatalogue([{"name": "Prada", "synonyms": ["프라다", "prada"]}])
    assert find_identifiers("프라다요", brands=catalogue)[0]["value"] == "Prada"
    assert find_identifiers("나이키요", brands=catalogue) == []


def test_catalogue_file_is_the_knowledge_file() -> None:
    catalogue = load_brand_catalogue()
    assert DEFAULT_BRANDS_FILE.name == "brands.yml"
    assert {"Nike", "Louis Vuitton"} <= {b["name"] for b in catalogue.brands}


def test_everything_at_once() -> None:
    text = (
        "주문번호 8181-2345-6789-0123, 상품 https://ko.aliexpress.com/item/1005006123456789.html "
        "나이키요. 신고번호 rpt 2026 000042 / 케이스 IPP-2026-000123 / 상표 40-2020-1234567 / "
        "인증코드 k7qp3mxz입니다"
    )
    assert [(e, v) for e, _, v in found(text)] == [
        ("order_number", "8181234567890123"),
        ("listing_id", "1005006123456789"),
        ("brand", "Nike"),
        ("report_number", "RPT-2026-000042"),
        ("case_number", "IPP-2026-000123"),
        ("trademark_number", "40-2020-1234567"),
        ("verification_code", "K7QP3MXZ"),
    ]


# --------------------------------------------------------------------- the component


def _extractor(tmp_path: Path, **config: Any) -> IdentifierEntityExtractor:
    return IdentifierEntityExtractor.create(
        {**IdentifierEntityExtractor.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("identifiers"),
        ExecutionContext(graph_schema=None, model_id=None),
    )


def test_component_replaces_conflicting_predictions(tmp_path: Path) -> None:
    text = "주문번호 8181 2345 6789 0123 나이키요 프라다도 있어요"
    diet = [
        # wrong span for the order number: overlaps -> dropped
        {"entity": "order_number", "start": 5, "end": 14, "value": "8181 2345", "extractor": "DIETClassifier"},
        # identifier type anywhere -> dropped
        {"entity": "verification_code", "start": 0, "end": 4, "value": "주문번호", "extractor": "DIETClassifier"},
        # brand overlapping a catalogue match -> dropped
        {"entity": "brand", "start": 25, "end": 29, "value": "나이키요", "extractor": "DIETClassifier"},
        # unknown brand from DIET -> kept
        {"entity": "brand", "start": 30, "end": 33, "value": "프라다", "extractor": "DIETClassifier"},
        # other entity overlapping an identifier -> dropped
        {"entity": "product", "start": 20, "end": 24, "value": "0123", "extractor": "DIETClassifier"},
    ]
    message = Message(data={"text": text, "entities": [dict(e) for e in diet]})
    _extractor(tmp_path).process([message])
    entities = message.get("entities")
    assert [(e["entity"], e["value"], e["extractor"]) for e in entities] == [
        ("order_number", "8181234567890123", "IdentifierEntityExtractor"),
        ("brand", "Nike", "IdentifierEntityExtractor"),
        ("brand", "프라다", "DIETClassifier"),
    ]
    order, nike = entities[0], entities[1]
    assert (order["start"], order["end"]) == (5, 24)
    assert text[nike["start"] : nike["end"]] == "나이키"
    assert order["confidence_entity"] == 1.0
    assert "text" not in order


def test_component_without_text_or_entities(tmp_path: Path) -> None:
    extractor = _extractor(tmp_path)
    empty = Message(data={"text": ""})
    no_text = Message(data={"intent": "greet"})
    extractor.process([empty, no_text])
    assert empty.get("entities") == []
    assert no_text.get("entities") is None


def test_component_brands_file_option(tmp_path: Path) -> None:
    brands = tmp_path / "brands.yml"
    brands.write_text("brands:\n  - name: Prada\n    synonyms: [프라다]\n", encoding="utf-8")
    message = Message(data={"text": "프라다요 나이키요"})
    _extractor(tmp_path, brands_file=str(brands)).process([message])
    assert [(e["entity"], e["value"]) for e in message.get("entities")] == [("brand", "Prada")]

    message = Message(data={"text": "나이키요 8181234567890123"})
    _extractor(tmp_path, extract_brands=False).process([message])
    assert [e["entity"] for e in message.get("entities")] == ["order_number"]


# ----------------------------------------------------------------- real Rasa pipeline

@pytest.mark.slow  # the shared tiny model (tests/conftest.py), trained once per session
def test_inside_trained_rasa_pipeline(tiny_nlu_model: Path) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(str(tiny_nlu_model))

    def parse(text: str) -> Dict[str, Any]:
        return asyncio.run(agent.parse_message(text))

    result = parse("주문번호는 8181 2345 6789 0123이고 나이키요")
    got = [(e["entity"], e["value"], e["extractor"]) for e in result["entities"]]
    assert ("order_number", "8181234567890123", "IdentifierEntityExtractor") in got
    assert ("brand", "Nike", "IdentifierEntityExtractor") in got
    text = result["text"]
    for e in result["entities"]:
        assert 0 <= e["start"] < e["end"] <= len(text)
    # DIET's own guesses survive only where they overlap nothing the extractor found, and never as an
    # identifier type (a tiny DIET guesses more or less at random, so only the overlap rule is asserted).
    ours = [(e["start"], e["end"]) for e in result["entities"] if e["extractor"] == "IdentifierEntityExtractor"]
    for e in result["entities"]:
        if e["extractor"] != "IdentifierEntityExtractor":
            assert e["entity"] != "order_number"
            assert all(e["end"] <= start or e["start"] >= end for start, end in ours), e

    result = parse("https://ko.aliexpress.com/item/1005006123456789.html 이거 가품이에요 RPT2026000042")
    got = {(e["entity"], e["value"]) for e in result["entities"]}
    assert {("listing_id", "1005006123456789"), ("report_number", "RPT-2026-000042")} <= got
    assert all(e["entity"] not in ("order_number",) for e in result["entities"])

    for text in ["", "   ", "😡👍"]:
        result = parse(text)
        assert result["intent"] is not None


@pytest.mark.parametrize("text, entity, value, matched", [
    ("주문번호 ８１８１２２２２３３３３４４４４ 환불", "order_number", "8181222233334444", "８１８１２２２２３３３３４４４４"),
    ("주문 ８１８１－２２２２－３３３３－４４４４ 요", "order_number", "8181222233334444", "８１８１－２２２２－３３３３－４４４４"),
    ("ＲＰＴ－２０２６－０００１２３ 어떻게 됐어요", "report_number", "RPT-2026-000123", "ＲＰＴ－２０２６－０００１２３"),
])
def test_full_width_identifiers(text: str, entity: str, value: str, matched: str) -> None:
    """A full-width IME gives ８１８１; the value is the ASCII form, the span and text are the original's."""
    found = [e for e in find_identifiers(text) if e["entity"] == entity]
    assert len(found) == 1
    assert (found[0]["value"], found[0]["text"], text[found[0]["start"]:found[0]["end"]]) == (value, matched, matched)
