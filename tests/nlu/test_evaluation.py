"""The metric functions of bot.nlu.evaluation (pure: no model, no held-out data)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from bot.nlu.evaluation import entity_key, entity_metrics, faq_metrics, intent_metrics, latency_summary, percentile


def test_intent_metrics_accuracy_macro_f1_and_confusions():
    gold = ["greet", "greet", "deny", "deny", "thanks"]
    pred = ["greet", "deny", "deny", "nlu_fallback", "thanks"]
    m = intent_metrics(gold, pred)
    assert m["n"] == 5 and m["accuracy"] == pytest.approx(3 / 5)
    # greet: P 1, R 1/2 -> F1 2/3; deny: P 1/2, R 1/2 -> 1/2; thanks: 1
    assert m["per_intent"]["greet"]["f1"] == pytest.approx(2 / 3)
    assert m["per_intent"]["deny"]["precision"] == pytest.approx(0.5)
    assert m["per_intent"]["deny"]["recall"] == pytest.approx(0.5)
    assert m["per_intent"]["thanks"]["f1"] == 1.0
    # macro over the gold intents only: nlu_fallback is not a class of its own
    assert set(m["per_intent"]) == {"greet", "deny", "thanks"}
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert m["confusions"] == [{"gold": "deny", "predicted": "nlu_fallback", "count": 1},
                               {"gold": "greet", "predicted": "deny", "count": 1}]


def test_intent_confusions_sorted_by_count_and_capped():
    gold = ["a"] * 3 + ["b"] * 2 + ["c"]
    pred = ["b"] * 3 + ["c"] * 2 + ["a"]
    m = intent_metrics(gold, pred, top_confusions=2)
    assert [(c["gold"], c["predicted"], c["count"]) for c in m["confusions"]] == [("a", "b", 3), ("b", "c", 2)]
    assert m["accuracy"] == 0.0 and m["macro_f1"] == 0.0


def test_intent_metrics_perfect_and_length_mismatch():
    assert intent_metrics(["x", "y"], ["x", "y"])["macro_f1"] == 1.0
    with pytest.raises(ValueError):
        intent_metrics(["x"], [])


def _e(entity, value, start, end, **extra):
    return {"entity": entity, "value": value, "start": start, "end": end, **extra}


def test_entity_metrics_strict_needs_type_value_and_span():
    gold = [[_e("brand", "Nike", 0, 3), _e("order_number", "8181234567890123", 10, 29)], [_e("brand", "Gucci", 0, 2)]]
    pred = [
        [_e("brand", "Nike", 0, 3, extractor="DIETClassifier"),
         _e("brand", "Nike", 0, 3, extractor="IdentifierEntityExtractor"),   # duplicate counts once
         _e("order_number", "8181234567890123", 10, 28)],                     # span off by one
        [_e("brand", "구찌", 0, 2)],                                           # not normalised
    ]
    m = entity_metrics(gold, pred, strict=True)
    assert m["match"] == "type+value+span"
    assert m["per_entity"]["brand"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert m["per_entity"]["order_number"]["f1"] == 0.0
    assert m["micro_precision"] == pytest.approx(1 / 3) and m["micro_recall"] == pytest.approx(1 / 3)
    assert m["gold"] == 3 and m["predicted"] == 3

    loose = entity_metrics(gold, pred, strict=False)
    assert loose["match"] == "type+value"
    assert loose["per_entity"]["order_number"]["f1"] == 1.0
    assert loose["micro_f1"] == pytest.approx(2 / 3)


def test_entity_metrics_missing_and_spurious():
    m = entity_metrics([[], [_e("case_number", "IPP-2026-000123", 0, 15)]],
                       [[_e("brand", "Dyson", 0, 3)], []])
    assert m["per_entity"]["brand"] == pytest.approx({"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0})
    assert m["per_entity"]["case_number"]["support"] == 1
    assert m["micro_f1"] == 0.0


def test_entity_key_stringifies_values():
    assert entity_key(_e("order_number", 8181, 0, 4)) == ("order_number", "8181", 0, 4)
    assert entity_key(_e("brand", " Nike ", 1, 4), strict=False) == ("brand", "Nike")


def test_no_entities_at_all_is_zero_not_an_error():
    m = entity_metrics([[]], [[]])
    assert m["micro_f1"] == 0.0 and m["per_entity"] == {}


def test_percentile_interpolates_like_numpy():
    import numpy as np

    values = [5.0, 1.0, 3.0, 10.0, 7.0, 2.0]
    for q in (0, 25, 50, 90, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))
    assert math.isnan(percentile([], 50))
    s = latency_summary([1.0, 2.0, 3.0])
    assert s["p50_ms"] == 2.0 and s["n"] == 3 and s["max_ms"] == 3.0


def test_faq_metrics_counts_threshold_and_misses():
    m = faq_metrics(["a", "a", "b", "c"], ["a", "b", "b", "c"], [True, True, False, False])
    assert m["top1_accuracy"] == pytest.approx(0.75)
    assert m["below_threshold"] == 2
    assert m["correct_but_below_threshold"] == 2
    assert m["wrong_and_confident"] == 1
    assert m["answered_correctly"] == pytest.approx(0.25)
    assert m["per_topic"]["a"] == {"n": 2, "correct": 1}
    assert m["confusions"] == [{"gold": "a", "predicted": "b", "count": 1}]


# ------------------------------------------------------------------------------------------ end to end

TINY_HELDOUT = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 안녕하세여
    - 반갑습니다
- intent: request_refund
  examples: |
    - 환불 부탁해요
    - [나이키](brand) 신발 환불해 주세요
    - 주문 [8181 2345 6789 0123]{"entity": "order_number", "value": "8181234567890123"} 환불요
"""


@pytest.fixture(scope="module")
def tiny_heldout(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny-heldout") / "heldout.yml"
    path.write_text(TINY_HELDOUT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_model(tiny_nlu_model, tiny_heldout):
    """The session's shared tiny model (tests/conftest.py) and the held-out file."""
    return tiny_nlu_model, tiny_heldout


def test_load_nlu_examples_keeps_normalised_values(tiny_heldout):  # reads the file only: trains nothing
    from bot.nlu.evaluation import load_nlu_examples

    examples = load_nlu_examples(tiny_heldout)
    assert [e.intent for e in examples] == ["greet", "greet", "request_refund", "request_refund", "request_refund"]
    order = examples[-1].entities[0]
    assert order["entity"] == "order_number" and order["value"] == "8181234567890123"
    assert examples[-1].text[order["start"]:order["end"]] == "8181 2345 6789 0123"


@pytest.mark.slow  # the shared tiny model (trained once per session), parses five messages
def test_evaluate_nlu_with_a_given_model(tiny_model):
    from bot.nlu.evaluation import evaluate_nlu, format_nlu_report

    model, heldout = tiny_model
    report = evaluate_nlu(model=str(model), heldout=heldout, warmup=2)
    assert report["messages"] == 5 and report["latency"]["n"] == 5
    assert report["latency"]["p95_ms"] >= report["latency"]["p50_ms"] > 0
    assert set(report["intent"]["per_intent"]) == {"greet", "request_refund"}
    # the deterministic extractor finds the order number with the annotated span and value
    assert report["entities"]["per_entity"]["order_number"]["f1"] == 1.0
    assert report["training"] is None  # not trained by the evaluation
    text = format_nlu_report(report)
    assert "macro-F1" in text and "p95" in text and "order_number" in text


@pytest.mark.slow
def test_cli_json_output_is_clean_json(tiny_model):
    import json
    import subprocess
    import sys

    from bot.settings import PROJECT_ROOT

    model, heldout = tiny_model
    done = subprocess.run([sys.executable, "-m", "bot.cli", "eval", "nlu", "--model", str(model), "--heldout",
                           str(heldout), "--json"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["messages"] == 5 and "macro_f1" in report["intent"]
