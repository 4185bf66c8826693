"""Chooses bot/nlu/faq.py's blend weights by cross-validation on faq.yml's OWN phrasings.

Every topic's phrasings are split into K folds; each fold is asked against an index built from the other
folds, so a phrasing never matches itself. The held-out paraphrases (tests/nlu_eval/faq_heldout.yml) are
not read here. UNANSWERABLE below are policy-sounding questions the FAQ does not answer (written for
this script): they show where the confidence threshold separates answerable from not.

    .venv/bin/python scripts/faq_tune.py [--folds 5] [--no-encoder] [--encoder NAME]
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.nlu import faq  # noqa: E402

UNANSWERABLE = [
    "해외 배송도 되나요?", "포인트 적립은 어떻게 해요", "회원 탈퇴하는 방법 알려줘", "쿠폰은 어디서 받아요?",
    "비밀번호를 잊어버렸어요", "교환은 어떻게 해요? 사이즈가 안 맞아요", "배송지 주소 바꾸고 싶어요",
    "앱 알림 끄는 법", "판매자로 입점하려면 어떻게 해요", "무이자 할부 되나요", "영수증 발행 되나요 세금계산서",
    "관세는 누가 내요", "오늘 날씨 어때", "로그인이 안 돼요", "멤버십 등급 기준이 뭐예요",
    "리뷰 쓰면 적립금 주나요", "선물 포장 돼요?", "주문 취소하고 싶어요 아직 배송 전이에요",
    "상품 재입고 언제 돼요", "회사 주소가 어디예요",
]


def folds_of(entries, k):
    items = [(i, q) for i, e in enumerate(entries) for q in e.questions]
    fold = {}
    for i, e in enumerate(entries):
        for j, q in enumerate(e.questions):
            fold[(i, q)] = j % k
    return items, fold


def collect(entries, k, encoder):
    """Per fold: signals of each left-out phrasing against an index of the rest.

    Returns gold topic indices and {signal: (best per topic, whole topic)} as [n_phrasings, n_topics] arrays."""
    items, fold = folds_of(entries, k)
    gold, parts = [], {}
    for f in range(k):
        kept = [faq.FaqEntry(e.id, tuple(q for q in e.questions if fold[(i, q)] != f), e.answer)
                for i, e in enumerate(entries)]
        index = faq.FaqIndex(kept, encoder)
        for (i, q) in items:
            if fold[(i, q)] != f:
                continue
            gold.append(i)
            for name, pair in _per_topic(index, q).items():
                parts.setdefault(name, ([], []))
                parts[name][0].append(pair[0])
                parts[name][1].append(pair[1])
    return np.array(gold), {n: (np.array(b), np.array(w)) for n, (b, w) in parts.items()}


def _per_topic(index, text):
    out = {}
    for name, (per_q, per_t) in index.signals(text).items():
        best = np.full(len(index.entries), -1.0)
        np.maximum.at(best, index._owner, per_q)
        out[name] = (best, per_t)
    return out


def score(signals, weights, topic_weight):
    total = 0.0
    for name, w in weights.items():
        if w and name in signals:
            best, whole = signals[name]
            total = total + w * ((1 - topic_weight) * best + topic_weight * whole)
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--no-encoder", action="store_true")
    parser.add_argument("--encoder", help="encoder name (default: CLEANBOT_ENCODER)")
    args = parser.parse_args()
    entries = faq.load_entries()
    encoder = None
    if not args.no_encoder:
        from bot.nlu.encoder import load_encoder, resolve_encoder

        encoder = load_encoder(resolve_encoder(args.encoder))
    gold, rows = collect(entries, args.folds, encoder)
    full = faq.FaqIndex(entries, encoder)
    neg = [_per_topic(full, q) for q in UNANSWERABLE]
    negatives = {n: (np.array([x[n][0] for x in neg]), np.array([x[n][1] for x in neg])) for n in neg[0]}
    results = []
    grid = np.round(np.arange(0, 1.01, 0.05), 2)
    enc_grid = [0.0] if encoder is None else grid
    for wc, we in itertools.product(grid, enc_grid):
        wm = round(1 - wc - we, 2)
        if wm < 0:
            continue
        weights = {"char": wc, "morph": wm, "encoder": we}
        for tw in (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            acc = float(np.mean(np.argmax(score(rows, weights, tw), axis=1) == gold))
            results.append((acc, wc, wm, we, tw))
    results.sort(reverse=True)
    print(f"{len(gold)} phrasings, {args.folds}-fold; encoder: {'none' if encoder is None else 'yes'}")
    for acc, wc, wm, we, tw in results[:15]:
        print(f"  acc {acc:.3f}  char {wc:.2f} morph {wm:.2f} encoder {we:.2f} topic {tw:.1f}")
    current = {"char": full.weights[0], "morph": full.weights[1], "encoder": full.weights[2]}
    cv = score(rows, current, full.topic_weight)
    acc = float(np.mean(np.argmax(cv, axis=1) == gold))
    in_scores = sorted(cv.max(axis=1).tolist())
    out_scores = sorted(score(negatives, current, full.topic_weight).max(axis=1).tolist())
    print(f"current weights {current} topic {full.topic_weight}: CV acc {acc:.3f}")
    print("  answerable top score percentiles 5/10/25/50:",
          [round(float(np.percentile(in_scores, p)), 3) for p in (5, 10, 25, 50)])
    print("  unanswerable top scores:", [round(x, 3) for x in out_scores])
    for t in (0.3, 0.32, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        print(f"  threshold {t}: answerable below {sum(x < t for x in in_scores)}/{len(in_scores)}, "
              f"unanswerable above {sum(x >= t for x in out_scores)}/{len(out_scores)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
