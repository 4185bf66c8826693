"""Markdown rows for docs/benchmarks.md from the JSON reports in benchmarks/results/.

Each report is the output of `.venv/bin/cleanbot eval nlu --config benchmarks/configs/<name>.yml --json`
(saved as benchmarks/results/<name>.json). Usage: .venv/bin/python scripts/bench_table.py [names...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def row(name: str, r: dict) -> str:
    t = r.get("training") or {}
    seconds = t.get("seconds")
    load = t.get("load_average_1m")
    train = f"{seconds / 60:.1f} min" if seconds is not None else "—"
    if load is not None:
        train += f" (load {load:.1f})"
    return (f"| `{name}` | {r['intent']['macro_f1']:.3f} | {r['intent']['accuracy']:.3f} | {r['fallbacks']} | "
            f"{r['entities']['micro_f1']:.3f} | {r['latency']['p50_ms']:.1f} | {r['latency']['p95_ms']:.1f} | {train} | "
            f"`{command(name, r)}` |")


def command(name: str, r: dict) -> str:
    if r.get("config") == "config.yml":
        return "cleanbot eval nlu"
    if r.get("config"):
        return f"cleanbot eval nlu --config {r['config']}"
    model = Path(r["model"])
    return f"cleanbot eval nlu --model models/{model.name}"


def main(names: list[str]) -> int:
    files = [RESULTS / f"{n}.json" for n in names] if names else sorted(RESULTS.glob("*.json"))
    print("| config | intent macro-F1 | intent acc. | nlu_fallback | entity micro-F1 | parse p50 ms | parse p95 ms "
          "| training | command |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in files:
        print(row(f.stem, json.loads(f.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
