"""bot.nlu.robustness: every perturbation's exact output on messages written for this test, span bookkeeping,
determinism, and the report arithmetic (with a rule-based parser standing in for a model)."""
from __future__ import annotations

import random

import pytest

from bot.nlu import robustness as r
from bot.nlu.evaluation import Example

NIKE = {"entity": "brand", "value": "Nike"}
ORDER = {"entity": "order_number", "value": "8181222233334444"}


def _spans(example: Example) -> list[tuple[str, str]]:
    return [(e["entity"], example.text[e["start"]:e["end"]]) for e in example.entities]


def test_segments_and_join_round_trip():
    example = Example("나이키 환불 8181222233334444 부탁", "request_refund",
                      ({**NIKE, "start": 0, "end": 3}, {**ORDER, "start": 7, "end": 23}))
    parts = r.segments(example)
    assert [p.text for p in parts] == ["나이키", " 환불 ", "8181222233334444", " 부탁"]
    assert r.join(parts, example.intent) == example


def test_spaces_removed_keeps_entities_and_their_inner_spaces():
    example = Example("나이키 운동화 주문 8181 2222 3333 4444 환불해 주세요", "request_refund",
                      ({**NIKE, "start": 0, "end": 3}, {**ORDER, "start": 11, "end": 30}))
    out = r.remove_spaces(example, random.Random(1))
    assert out.text == "나이키운동화주문8181 2222 3333 4444환불해주세요"
    assert _spans(out) == [("brand", "나이키"), ("order_number", "8181 2222 3333 4444")]
    assert out.entities[1]["value"] == "8181222233334444"


def test_spaces_inside_words():
    out = r.split_words(Example("가짜 가방을 받았는데 신고하고 싶어요", "report_counterfeit"), random.Random(1))
    assert out.text == "가짜 가방을 받았 는데 신 고하고 싶어요"


def test_typos_doe_ae_e_and_liaison():
    assert r.typos(Example("환불 언제 돼요? 신고했어요", "x"), random.Random(1)).text == "환불 언제 되요? 신고헸어요"
    assert r.typos(Example("갔어요 됐네", "x"), random.Random(0)).text == "갔어요 됬내"
    assert r._typo_candidates("갔어요 됐네") == [(0, "liaison", "가써"), (4, "doe", "됬"), (5, "ae-e", "내")]
    # nothing to misspell: unchanged
    assert r.typos(Example("ok 123", "x"), random.Random(0)).text == "ok 123"


def test_typos_never_touch_an_entity():
    example = Example("몽클레어 패딩", "x", ({"entity": "brand", "value": "Moncler", "start": 0, "end": 4},))
    for seed in range(20):
        out = r.typos(example, random.Random(seed))
        assert _spans(out) == [("brand", "몽클레어")]


@pytest.mark.parametrize("polite, banmal", [
    ("제가 신고한 거 어떻게 됐나요?", "내가 신고한 거 어떻게 됐나?"),
    ("감사합니다 수고하세요", "고마워 수고해"),
    ("저는 샤넬 권리자입니다 삭제해 주시겠어요", "나는 샤넬 권리자야 삭제해 줘"),
    ("가짜 같은데 신고 대상이에요?", "가짜 같은데 신고 대상이야?"),
    ("환불 받을 수 있을까요?", "환불 받을 수 있어?"),
    ("처음부터 다시 할게요", "처음부터 다시 할게"),
    ("이거 맞죠?", "이거 맞지?"),
    ("사진 보내 드릴게요", "사진 보내 줄게"),
    ("안녕하세요~", "안녕~"),
])
def test_banmal(polite, banmal):
    assert r.to_banmal(polite) == banmal
    assert r.banmal(Example(polite, "x"), random.Random(0)).text == banmal


def test_punctuation_and_emoji_removed_or_added():
    assert r.punctuation_emoji(Example("환불돼요?", "x"), random.Random(1)).text == "환불돼요"
    assert r.punctuation_emoji(Example("고마워요 🙏", "x"), random.Random(1)).text == "고마워요"
    assert r.punctuation_emoji(Example("환불해 주세요", "x"), random.Random(1)).text == "환불해 주세요!"
    # after an entity at the very end: added after it, the entity untouched
    out = r.punctuation_emoji(Example("주문번호 8181222233334444", "x", ({**ORDER, "start": 5, "end": 21},)),
                              random.Random(1))
    assert out.text == "주문번호 8181222233334444!" and _spans(out) == [("order_number", "8181222233334444")]
    # a question mark is never added
    added = {r.punctuation_emoji(Example("환불해 주세요", "x"), random.Random(s)).text[len("환불해 주세요"):]
             for s in range(50)}
    assert added == set(r._ADDED)


def test_brand_script_hangul_to_latin_and_back():
    example = Example("루이비통 지갑이랑 GUCCI 벨트, 그리고 무명브랜드", "x",
                      ({"entity": "brand", "value": "Louis Vuitton", "start": 0, "end": 4},
                       {"entity": "brand", "value": "Gucci", "start": 10, "end": 15}))
    out = r.brand_script(example, random.Random(1))
    assert out.text == "Louis Vuitton 지갑이랑 구찌 벨트, 그리고 무명브랜드"
    assert _spans(out) == [("brand", "Louis Vuitton"), ("brand", "구찌")]
    assert [e["value"] for e in out.entities] == ["Louis Vuitton", "Gucci"]


def test_order_number_written_another_way():
    example = Example("주문 8181-2222-3333-4444 환불", "x", ({**ORDER, "start": 3, "end": 22},))
    out = r.order_number_format(example, random.Random(1))
    assert out.text == "주문 8181 2222 3333 4444 환불"
    styles = {r.order_number_format(example, random.Random(s)).text for s in range(30)}
    assert styles == {"주문 8181 2222 3333 4444 환불", "주문 ８１８１２２２２３３３３４４４４ 환불"}
    for text in styles:
        assert r.order_number_format(Example(text, "x", ({**ORDER, "start": 3, "end": len(text) - 3},)),
                                     random.Random(0)).entities[0]["value"] == "8181222233334444"


def test_long_story_is_200_to_400_characters_and_keeps_the_message_last():
    out = r.long_story(Example("나이키 환불해 주세요", "request_refund", ({**NIKE, "start": 0, "end": 3},)),
                       random.Random(3))
    assert out.text.endswith(" 나이키 환불해 주세요")
    assert 200 <= len(out.text) <= 400
    assert _spans(out) == [("brand", "나이키")]
    assert out.text.split(". ")[0] + "." in r.STORY
    for n in (1, 30, 120):
        assert 200 <= len(r.long_story(Example("가" * n, "x"), random.Random(n)).text) <= 400


def test_perturbations_are_deterministic_per_seed():
    examples = [Example("가짜 가방을 받았는데 신고하고 싶어요", "x"), Example("환불 언제 돼요?", "y")]
    for name in r.PERTURBATIONS:
        assert r.perturb_all(examples, name, 14) == r.perturb_all(examples, name, 14)
    assert r.perturb_all(examples, "spaces_inside_words", 14) != r.perturb_all(examples, "spaces_inside_words", 15)


def test_evaluate_reports_each_perturbation_against_the_baseline():
    examples = [Example("환불해 주세요", "request_refund"), Example("가짜 신고할게요", "report_counterfeit"),
                Example("나이키 환불", "request_refund", ({**NIKE, "start": 0, "end": 3},))]

    def parse(texts):  # a rule-based stand-in: 환불 → refund (unless 신고), brands found only in Hangul
        out = []
        for text in texts:
            intent = "request_refund" if "환불" in text and "신고" not in text else "report_counterfeit"
            at = text.find("나이키")
            entities = [{**NIKE, "start": at, "end": at + 3}] if at >= 0 else []
            out.append({"intent": {"name": intent}, "entities": entities})
        return out

    report = r.evaluate(examples, parse, seed=14, names=["brand_script", "spaces_removed"])
    assert report["baseline"]["intent_macro_f1"] == 1.0 and report["baseline"]["entity_f1"] == 1.0
    brand = report["perturbations"]["brand_script"]
    assert brand["changed"] == 1 and brand["entity_f1"] == 0.0 and brand["delta_entity_f1"] == -1.0
    assert brand["delta_intent_macro_f1"] == 0.0
    assert brand["changed_before"]["entity_f1"] == 1.0 and brand["changed_after"]["entity_f1"] == 0.0
    spaces = report["perturbations"]["spaces_removed"]
    assert spaces["changed"] == 3 and spaces["intent_macro_f1"] == 1.0 and spaces["entity_f1"] == 1.0
    assert "brand_script" in r.format_report(report)
