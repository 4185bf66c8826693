"""FAQ ablation for docs/benchmarks.md: old/new matcher × original/new faq.yml on the held-out paraphrases.

"old" = bot/faq.py (now bot/nlu/faq.py) and bot/knowledge/faq.yml as of commit 9cb46a8 (read with git show). Prints only
aggregate accuracy. Usage: .venv/bin/python scripts/faq_ablation.py
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
BASE = "9cb46a8"

from bot.nlu import evaluation, faq  # noqa: E402
from bot.nlu.encoder import load_encoder  # noqa: E402


def _git_show(path: str) -> str:
    return subprocess.run(["git", "show", f"{BASE}:{path}"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="faq-ablation-"))
    (tmp / "faq_old.py").write_text(_git_show("bot/faq.py"), encoding="utf-8")  # its path at BASE
    (tmp / "faq_orig.yml").write_text(_git_show("bot/knowledge/faq.yml"), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("faq_old", tmp / "faq_old.py")
    old = importlib.util.module_from_spec(spec)
    sys.modules["faq_old"] = old
    spec.loader.exec_module(old)
    encoder = load_encoder()
    pairs = evaluation.load_faq_paraphrases()

    def run(index, threshold) -> str:
        found = [index.search(text, threshold) for text, _ in pairs]
        m = evaluation.faq_metrics([g for _, g in pairs], [f.entry.id for f in found], [f.confident for f in found])
        return f"top-1 {m['top1_accuracy']:.3f}, below threshold {m['below_threshold']}"

    orig = tmp / "faq_orig.yml"
    print("old matcher, original faq.yml:", run(old.FaqIndex(old.load_entries(orig), encoder), old.DEFAULT_THRESHOLD))
    print("old matcher, new faq.yml:     ", run(old.FaqIndex(old.load_entries(faq.FAQ_FILE), encoder),
                                                old.DEFAULT_THRESHOLD))
    print("new matcher, original faq.yml:", run(faq.FaqIndex(faq.load_entries(orig), encoder), faq.DEFAULT_THRESHOLD))
    print("new matcher, new faq.yml:     ", run(faq.FaqIndex(faq.load_entries(), encoder), faq.DEFAULT_THRESHOLD))
    print("new matcher, no encoder:      ", run(faq.FaqIndex(faq.load_entries(), None), faq.DEFAULT_THRESHOLD))
    return 0


if __name__ == "__main__":
    sys.exit(main())
