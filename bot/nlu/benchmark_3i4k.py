"""3i4K as a general check of Korean sentence-type understanding (`cleanbot eval 3i4k --data FILE`).

3i4K (Cho et al. 2018; CC BY-SA 4.0) labels conversation-style Korean utterances with seven intentions:
fragment, statement, question, command, rhetorical question, rhetorical command, intonation-dependent.
The file is not part of this repository; `--data` names it (e.g. `../shared/benchmarks/3i4k/fci_train_val.txt`
from a clone in the team's work directory).

One run draws, with a seed, a class-balanced training sample and a disjoint class-balanced held-out sample
from that ONE file (duplicates removed first), trains two NLU-only models on the same sample in the same
process — our default pipeline (config.yml, or --config) and stock Rasa (`rasa init`'s pipeline:
WhitespaceTokenizer, word and char_wb 1–4 CountVectors, LexicalSyntactic, DIET 100 epochs) — and scores
both on the held-out sample: macro-F1 and accuracy of the intent the pipeline returns, and of the top
intent before the FallbackClassifier, plus training time and parse latency.

The authors' test file (fci_test.txt) is kept for an outside check: it is refused here, never read.
"""
from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

from bot.settings import PROJECT_ROOT

LABELS = ("fragment", "statement", "question", "command", "rhetorical_question", "rhetorical_command",
          "intonation_dependent")
TRAIN_PER_CLASS = 300    # 2,100 training sentences
TEST_PER_CLASS = 140     # 980 held-out sentences
DEFAULT_SEED = 42
FORBIDDEN = "fci_test.txt"

STOCK_CONFIG = """# stock Rasa: the pipeline `rasa init` writes (without ResponseSelector), DIET 100 epochs, seed 42
recipe: default.v1
language: ko
pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    constrain_similarities: true
    random_seed: 42
  - name: EntitySynonymMapper
  - name: FallbackClassifier
    threshold: 0.3
"""


class ForbiddenFile(ValueError):
    """The held-back test file was named."""


def read_corpus(path: Path) -> list[tuple[str, str]]:
    """(label name, text) per line of a 3i4K file (`label<TAB>text`)."""
    path = Path(path)
    if path.name == FORBIDDEN:
        raise ForbiddenFile(f"{FORBIDDEN}는 외부 검증용이라 읽지 않아요. fci_train_val.txt를 지정해 주세요. "
                            f"({FORBIDDEN} is kept for an outside check; pass fci_train_val.txt)")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition("\t")
        text = " ".join(text.split())
        # brackets would read as Rasa entity annotations in the training file: such lines are left out
        if any(c in text for c in "[]{}"):
            continue
        if label.strip().isdigit() and int(label) < len(LABELS) and text:
            out.append((LABELS[int(label)], text))
    return out


def split(rows: Sequence[tuple[str, str]], seed: int = DEFAULT_SEED, train_per_class: int = TRAIN_PER_CLASS,
          test_per_class: int = TEST_PER_CLASS) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Balanced, disjoint training and held-out samples. A text that occurs under two labels is dropped,
    and a text occurs once in all."""
    labels_of: dict[str, set] = {}
    for label, text in rows:
        labels_of.setdefault(text, set()).add(label)
    by_label: dict[str, list[str]] = {label: [] for label in LABELS}
    for text, labels in labels_of.items():
        if len(labels) == 1:
            by_label[next(iter(labels))].append(text)
    rng = random.Random(seed)
    train, test = [], []
    for label in LABELS:
        texts = sorted(by_label[label])
        rng.shuffle(texts)
        need = train_per_class + test_per_class
        if len(texts) < need:
            raise ValueError(f"3i4K class {label} has {len(texts)} distinct sentences, fewer than {need}")
        train += [(label, t) for t in texts[:train_per_class]]
        test += [(label, t) for t in texts[train_per_class:need]]
    return train, test


def nlu_yaml(rows: Sequence[tuple[str, str]]) -> str:
    """Rasa 3 NLU training data for the rows (texts are taken literally by the block scalar)."""
    lines = ['version: "3.1"', "nlu:"]
    for label in LABELS:
        texts = [t for lab, t in rows if lab == label]
        if not texts:
            continue
        lines += [f"- intent: {label}", "  examples: |"]
        lines += [f"    - {t}" for t in texts]
    return "\n".join(lines) + "\n"


def _train(config_file: Path, data_file: Path, out_dir: Path, name: str) -> tuple[Path, float]:
    from rasa.model_training import train_nlu

    started = time.perf_counter()
    model = train_nlu(str(config_file), str(data_file), str(out_dir), fixed_model_name=name)
    seconds = time.perf_counter() - started
    if not model:
        raise RuntimeError(f"training {name} failed")
    return Path(model), seconds


def _score(model: Path, test: Sequence[tuple[str, str]]) -> dict:
    from rasa.core.agent import Agent

    from bot.nlu.evaluation import _top_non_fallback, intent_metrics, latency_summary

    agent = Agent.load(str(model))

    async def run():
        parsed, times = [], []
        for _, text in test:
            started = time.perf_counter()
            parsed.append(await agent.parse_message(text))
            times.append((time.perf_counter() - started) * 1000.0)
        return parsed, times

    parsed, times = asyncio.run(run())
    gold = [label for label, _ in test]
    final = intent_metrics(gold, [(p.get("intent") or {}).get("name") or "" for p in parsed])
    before = intent_metrics(gold, [_top_non_fallback(p) or "" for p in parsed])
    return {"macro_f1": final["macro_f1"], "accuracy": final["accuracy"],
            "macro_f1_before_fallback": before["macro_f1"], "accuracy_before_fallback": before["accuracy"],
            "per_intent_f1": {k: v["f1"] for k, v in final["per_intent"].items()},
            "latency": latency_summary(times)}


def evaluate(data: Path, config: Optional[str] = None, seed: int = DEFAULT_SEED,
             train_per_class: int = TRAIN_PER_CLASS, test_per_class: int = TEST_PER_CLASS) -> dict:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    train, test = split(read_corpus(Path(data)), seed, train_per_class, test_per_class)
    ours = Path(config) if config else PROJECT_ROOT / "config.yml"
    ours = ours if ours.is_absolute() else PROJECT_ROOT / ours
    report = {"data": Path(data).name, "seed": seed, "train": len(train), "test": len(test), "pipelines": {}}
    with tempfile.TemporaryDirectory(prefix="cleanbot-3i4k-") as tmp:
        tmp_dir = Path(tmp)
        data_file = tmp_dir / "nlu.yml"
        data_file.write_text(nlu_yaml(train), encoding="utf-8")
        stock = tmp_dir / "stock.yml"
        stock.write_text(STOCK_CONFIG, encoding="utf-8")
        for name, config_file in (("default", ours), ("stock", stock)):
            model, seconds = _train(config_file, data_file, tmp_dir, name)
            report["pipelines"][name] = {"config": name if name == "stock" else _relative(config_file),
                                         "training_seconds": round(seconds, 1),
                                         "load_average_1m": round(os.getloadavg()[0], 2), **_score(model, test)}
    d, s = report["pipelines"]["default"], report["pipelines"]["stock"]
    report["difference"] = {"macro_f1": d["macro_f1"] - s["macro_f1"],
                            "training_time_ratio": d["training_seconds"] / s["training_seconds"]}
    return report


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT.resolve()))
    except ValueError:
        return path.name


def format_report(r: dict) -> str:
    lines = [f"3i4K ({r['data']}, seed {r['seed']}): {r['train']} training / {r['test']} held-out sentences, "
             f"balanced over {len(LABELS)} classes",
             f"{'pipeline':<10} {'macro-F1':>8} {'acc.':>6} {'before fallback':>16} {'training':>9} {'parse p95':>10}"]
    for name, p in r["pipelines"].items():
        lines.append(f"{name:<10} {p['macro_f1']:8.3f} {p['accuracy']:6.3f} {p['macro_f1_before_fallback']:16.3f} "
                     f"{p['training_seconds']:8.0f}s {p['latency']['p95_ms']:8.1f}ms")
    lines.append(f"default − stock: macro-F1 {r['difference']['macro_f1']:+.3f}, training time "
                 f"×{r['difference']['training_time_ratio']:.2f}")
    return "\n".join(lines)
