"""Measuring Clean Bot's Korean understanding on the held-out sets (`cleanbot eval nlu|faq`).

The metric functions at the top are pure (plain lists/dicts in, plain dicts out) and unit-tested in
tests/nlu/test_evaluation.py. The rest loads the held-out files, trains or loads a model and parses every
held-out message through it, one message at a time, the way the running bot does.

Definitions (also printed in the reports):

* intent accuracy / macro-F1 use the intent the pipeline finally returns, so a message the
  FallbackClassifier turns into ``nlu_fallback`` counts as a miss. Macro-F1 averages over the intents
  of the held-out set (a predicted label that never occurs in it, such as nlu_fallback, costs recall
  of the true intent but gets no F1 of its own). The intent ranked first before the fallback is
  reported too.
* entities are scored per message as sets of ``(type, normalised value, start, end)``: a predicted
  entity counts only if type, normalised value and character span all match a gold annotation
  ("strict"). The looser ``(type, normalised value)`` score is reported alongside ("value").
  Micro-F1 pools true/false positives and negatives over all entity types.
* the held-out texts are never printed: only counts, scores and label pairs.
"""
from __future__ import annotations

import asyncio
import logging
import math
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

from bot.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

NLU_HELDOUT = PROJECT_ROOT / "tests" / "nlu_eval" / "heldout.yml"
FAQ_HELDOUT = PROJECT_ROOT / "tests" / "nlu_eval" / "faq_heldout.yml"
FALLBACK_INTENT = "nlu_fallback"
WARMUP_MESSAGES = 20

# ------------------------------------------------------------------------------------------ metrics


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def intent_metrics(gold: Sequence[str], predicted: Sequence[str], top_confusions: int = 10) -> dict:
    """Accuracy, macro-F1 over the gold labels, per-intent P/R/F1 and the most frequent confusions."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted must have the same length")
    labels = sorted(set(gold))
    per_intent = {}
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted) if g == label and p != label)
        per_intent[label] = _prf(tp, fp, fn)
    correct = sum(1 for g, p in zip(gold, predicted) if g == p)
    confusions = Counter((g, p) for g, p in zip(gold, predicted) if g != p)
    return {
        "n": len(gold),
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": statistics.fmean(m["f1"] for m in per_intent.values()) if per_intent else 0.0,
        "per_intent": per_intent,
        "confusions": [{"gold": g, "predicted": p, "count": c}
                       for (g, p), c in sorted(confusions.items(), key=lambda kv: (-kv[1], kv[0]))[:top_confusions]],
    }


def entity_key(entity: dict, strict: bool = True) -> tuple:
    """(type, normalised value[, start, end]) of a Rasa entity dict."""
    value = entity.get("value")
    value = "" if value is None else str(value).strip()
    key = (entity["entity"], value)
    return key + (int(entity["start"]), int(entity["end"])) if strict else key


def entity_metrics(gold: Sequence[Iterable[dict]], predicted: Sequence[Iterable[dict]], strict: bool = True) -> dict:
    """Per-type and micro precision/recall/F1; one list of entity dicts per message.

    Duplicates within a message (two extractors finding the same thing) count once."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted must have the same length")
    counts: dict[str, Counter] = {}
    for gold_entities, predicted_entities in zip(gold, predicted):
        g = {entity_key(e, strict) for e in gold_entities}
        p = {entity_key(e, strict) for e in predicted_entities}
        for key in g | p:
            c = counts.setdefault(key[0], Counter())
            if key in g and key in p:
                c["tp"] += 1
            elif key in p:
                c["fp"] += 1
            else:
                c["fn"] += 1
    per_entity = {t: _prf(c["tp"], c["fp"], c["fn"]) for t, c in sorted(counts.items())}
    total = Counter()
    for c in counts.values():
        total.update(c)
    micro = _prf(total["tp"], total["fp"], total["fn"])
    return {"match": "type+value+span" if strict else "type+value", "per_entity": per_entity,
            "micro_precision": micro["precision"], "micro_recall": micro["recall"], "micro_f1": micro["f1"],
            "gold": total["tp"] + total["fn"], "predicted": total["tp"] + total["fp"]}


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(milliseconds: Sequence[float]) -> dict:
    return {"n": len(milliseconds), "p50_ms": percentile(milliseconds, 50), "p95_ms": percentile(milliseconds, 95),
            "max_ms": max(milliseconds) if milliseconds else math.nan}


def faq_metrics(gold: Sequence[str], predicted: Sequence[str], confident: Sequence[bool]) -> dict:
    """Top-1 accuracy, how many fall below the threshold, and label-pair counts of the misses."""
    n = len(gold)
    correct = [g == p for g, p in zip(gold, predicted)]
    per_topic: dict[str, Counter] = {}
    for g, ok in zip(gold, correct):
        per_topic.setdefault(g, Counter())["n"] += 1
        per_topic[g]["correct"] += int(ok)
    misses = Counter((g, p) for g, p, ok in zip(gold, predicted, correct) if not ok)
    return {
        "n": n,
        "top1_accuracy": sum(correct) / n if n else 0.0,
        "below_threshold": sum(1 for c in confident if not c),
        "correct_but_below_threshold": sum(1 for ok, c in zip(correct, confident) if ok and not c),
        "wrong_and_confident": sum(1 for ok, c in zip(correct, confident) if not ok and c),
        "answered_correctly": sum(1 for ok, c in zip(correct, confident) if ok and c) / n if n else 0.0,
        "per_topic": {t: {"n": c["n"], "correct": c["correct"]} for t, c in sorted(per_topic.items())},
        "confusions": [{"gold": g, "predicted": p, "count": c}
                       for (g, p), c in sorted(misses.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple = field(default_factory=tuple)


def load_nlu_examples(path: Path = NLU_HELDOUT) -> list[Example]:
    """Held-out messages with their intent and normalised entity annotations (Rasa YAML)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    out = []
    for message in data.intent_examples:
        entities = tuple({"entity": e["entity"], "value": e.get("value"), "start": e["start"], "end": e["end"]}
                         for e in message.get("entities") or [])
        out.append(Example(message.get("text"), message.get("intent"), entities))
    return out


def load_faq_paraphrases(path: Path = FAQ_HELDOUT) -> list[tuple[str, str]]:
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [(p["text"], p["faq"]) for p in data["paraphrases"]]


# ------------------------------------------------------------------------------------------ NLU run


def _config_uses_encoder(config_file: Path) -> bool:
    return "SentenceEmbeddingFeaturizer" in Path(config_file).read_text(encoding="utf-8")


def resolve_model(config: Optional[str] = None, model: Optional[str] = None) -> tuple[Path, Optional[dict], bool]:
    """(model path, training info, trained now?) for `--model`, `--config` or the current config."""
    from bot.nlu import training

    if model:
        path = Path(model)
        if not path.exists():
            raise SystemExit(f"모델 파일이 없어요: {path}")
        return path, training.training_info(path), False
    config = config or "config.yml"
    target = training.model_path(PROJECT_ROOT, config)
    existed = target.exists() or (training.cache_dir() / target.name).exists()
    path = training.train_if_changed(config=config, use_rasa_cache=False)
    return path, training.training_info(path), not existed


async def _parse_all(agent, texts: Sequence[str], warmup: int) -> tuple[list[dict], list[float]]:
    for text in list(texts[:warmup]) or ["안녕하세요"]:
        await agent.parse_message(text)
    results, times = [], []
    for text in texts:
        started = time.perf_counter()
        parsed = await agent.parse_message(text)
        times.append((time.perf_counter() - started) * 1000.0)
        results.append(parsed)
    return results, times


def _top_non_fallback(parsed: dict) -> str:
    for item in parsed.get("intent_ranking") or []:
        if item.get("name") != FALLBACK_INTENT:
            return item.get("name")
    return (parsed.get("intent") or {}).get("name")


def _relative(path: Path) -> str:
    """A path inside the project as written in a result file: relative to the project (results are committed,
    so no machine's absolute path goes into them)."""
    root = PROJECT_ROOT.resolve()
    if path.is_absolute() and path.resolve().is_relative_to(root):
        return str(path.resolve().relative_to(root))
    return str(path)


def evaluate_nlu(config: Optional[str] = None, model: Optional[str] = None, heldout: Path = NLU_HELDOUT,
                 warmup: int = WARMUP_MESSAGES) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    examples = load_nlu_examples(heldout)
    model_file, info, trained_now = resolve_model(config, model)

    from rasa.core.agent import Agent

    started = time.perf_counter()
    agent = Agent.load(str(model_file))
    load_seconds = time.perf_counter() - started
    parsed, times = asyncio.run(_parse_all(agent, [e.text for e in examples], warmup))

    gold_intents = [e.intent for e in examples]
    final = [(p.get("intent") or {}).get("name") or "" for p in parsed]
    before_fallback = [_top_non_fallback(p) or "" for p in parsed]
    gold_entities = [e.entities for e in examples]
    predicted_entities = [p.get("entities") or [] for p in parsed]
    config_file = PROJECT_ROOT / (config or "config.yml") if not model else None
    report = {
        "model": _relative(Path(model_file)),
        "config": str(config or "config.yml") if not model else None,
        "heldout": _relative(heldout),
        "messages": len(examples),
        "intent": intent_metrics(gold_intents, final),
        "intent_before_fallback": {k: v for k, v in intent_metrics(gold_intents, before_fallback).items()
                                   if k in ("accuracy", "macro_f1")},
        "fallbacks": sum(1 for p in final if p == FALLBACK_INTENT),
        "entities": entity_metrics(gold_entities, predicted_entities, strict=True),
        "entities_value_only": {k: v for k, v in entity_metrics(gold_entities, predicted_entities, strict=False).items()
                                if k in ("match", "micro_precision", "micro_recall", "micro_f1")},
        "latency": latency_summary(times),
        "model_load_seconds": round(load_seconds, 2),
        "training": {**(info or {}), "trained_now": trained_now} if info or trained_now else None,
        "machine": {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)},
    }
    if config_file is not None and config_file.exists() and _config_uses_encoder(config_file):
        from bot.nlu.encoder import resolve_encoder

        choice = resolve_encoder()
        report["encoder"] = {"name": choice.name, "fallback": choice.is_fallback}
    return report


def format_nlu_report(r: dict) -> str:
    i, e, lat = r["intent"], r["entities"], r["latency"]
    lines = [
        f"모델 / model: {r['model']}" + (f"   (config {r['config']})" if r.get("config") else ""),
        f"held-out: {r['heldout']} — {r['messages']} messages",
    ]
    if r.get("encoder"):
        lines.append(f"encoder: {r['encoder']['name']}" + ("  [FALLBACK]" if r["encoder"]["fallback"] else ""))
    lines += [
        "",
        f"INTENT  accuracy {i['accuracy']:.3f}   macro-F1 {i['macro_f1']:.3f}   "
        f"(nlu_fallback {r['fallbacks']}×; before fallback: acc {r['intent_before_fallback']['accuracy']:.3f}, "
        f"macro-F1 {r['intent_before_fallback']['macro_f1']:.3f})",
        f"  {'intent':<22} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}",
    ]
    for name, m in sorted(i["per_intent"].items(), key=lambda kv: kv[1]["f1"]):
        lines.append(f"  {name:<22} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:4d}")
    lines += ["", "  top confusions (gold → predicted: count)"]
    lines += [f"    {c['gold']} → {c['predicted']}: {c['count']}" for c in i["confusions"]] or ["    none"]
    lines += [
        "",
        f"ENTITIES ({e['match']} exact)  micro P {e['micro_precision']:.3f}  R {e['micro_recall']:.3f}  "
        f"F1 {e['micro_f1']:.3f}   (type+value only: F1 {r['entities_value_only']['micro_f1']:.3f})",
        f"  {'entity':<22} {'P':>6} {'R':>6} {'F1':>6} {'n':>4}",
    ]
    for name, m in e["per_entity"].items():
        lines.append(f"  {name:<22} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:4d}")
    lines += [
        "",
        f"PARSE latency (one message at a time, after {WARMUP_MESSAGES} warm-up): p50 {lat['p50_ms']:.1f} ms  "
        f"p95 {lat['p95_ms']:.1f} ms  max {lat['max_ms']:.1f} ms   (model load {r['model_load_seconds']:.1f} s)",
    ]
    t = r.get("training")
    if t and t.get("seconds") is not None:
        when = "trained now" if t.get("trained_now") else f"trained earlier ({t.get('trained_at', '?')})"
        lines.append(f"TRAINING {t['seconds']:.0f} s ({when}; load avg then {t.get('load_average_1m', '?')} "
                     f"on {t.get('cpus', '?')} CPUs)")
    else:
        lines.append("TRAINING not measured here (model was given or trained elsewhere)")
    m = r["machine"]
    lines.append(f"machine: {m['cpus']} CPUs, 1-min load average {m['load_average_1m']}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ FAQ run


def evaluate_faq(heldout: Path = FAQ_HELDOUT, faq_file: Optional[Path] = None, use_encoder: bool = True,
                 threshold: Optional[float] = None, encoder_name: Optional[str] = None) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from bot.nlu import faq

    pairs = load_faq_paraphrases(heldout)
    index = faq.get_index(faq_file or faq.FAQ_FILE, use_encoder=use_encoder, encoder_name=encoder_name)
    threshold = index.threshold if threshold is None else threshold
    times, predicted, confident = [], [], []
    index.search("환불 규정", threshold)  # warm-up
    for text, _ in pairs:
        started = time.perf_counter()
        match = index.search(text, threshold)
        times.append((time.perf_counter() - started) * 1000.0)
        predicted.append(match.entry.id)
        confident.append(match.confident)
    report = faq_metrics([g for _, g in pairs], predicted, confident)
    report.update({
        "threshold": threshold,
        "topics": len(index.entries),
        "questions": sum(len(e.questions) for e in index.entries),
        "latency": latency_summary(times),
    })
    if use_encoder:
        from bot.nlu.encoder import resolve_encoder

        choice = resolve_encoder(encoder_name)
        report["encoder"] = {"name": choice.name, "fallback": choice.is_fallback}
    else:
        report["encoder"] = None
    return report


def format_faq_report(r: dict) -> str:
    enc = r.get("encoder")
    lines = [
        f"FAQ: {r['topics']} topics, {r['questions']} questions; held-out paraphrases: {r['n']}",
        "encoder: " + (f"{enc['name']}" + ("  [FALLBACK]" if enc["fallback"] else "") if enc else "none (lexical only)"),
        f"top-1 accuracy {r['top1_accuracy']:.3f}   below threshold ({r['threshold']}): {r['below_threshold']} "
        f"(of which correct top-1: {r['correct_but_below_threshold']})   wrong but confident: "
        f"{r['wrong_and_confident']}   answered correctly: {r['answered_correctly']:.3f}",
        f"search latency p50 {r['latency']['p50_ms']:.1f} ms  p95 {r['latency']['p95_ms']:.1f} ms",
    ]
    weak = {t: c for t, c in r["per_topic"].items() if c["correct"] < c["n"]}
    if weak:
        lines.append("topics with misses: " + ", ".join(f"{t} {c['correct']}/{c['n']}" for t, c in weak.items()))
    if r["confusions"]:
        lines.append("confusions (gold → predicted: count): "
                     + ", ".join(f"{c['gold']}→{c['predicted']}: {c['count']}" for c in r["confusions"]))
    return "\n".join(lines)
