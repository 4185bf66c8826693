"""Semantic FAQ: the policy question is matched against every phrasing in bot/knowledge/faq.yml.

Scores blend the sentence encoder's cosine similarity with a character n-gram TF-IDF cosine: the
n-grams keep Korean wording robust when the encoder is the English fallback model. The file is
re-read when it changes, so new entries are answered without retraining Rasa."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

from bot.settings import PROJECT_ROOT

FAQ_FILE = PROJECT_ROOT / "bot" / "knowledge" / "faq.yml"
# Below this blended score the bot says it is not sure and offers a person.
DEFAULT_THRESHOLD = 0.35
ENCODER_WEIGHT = 0.5


@dataclass(frozen=True)
class FaqEntry:
    id: str
    questions: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float
    confident: bool


def load_entries(path: Path = FAQ_FILE) -> list[FaqEntry]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return [FaqEntry(f["id"], tuple(f["questions"]), " ".join(f["answer"].split())) for f in data["faqs"]]


class FaqIndex:
    def __init__(self, entries: list[FaqEntry], encoder=None, encoder_weight: float = ENCODER_WEIGHT):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.entries = entries
        self.encoder = encoder
        self.encoder_weight = encoder_weight if encoder is not None else 0.0
        self._owner = [i for i, e in enumerate(entries) for _ in e.questions]
        questions = [q for e in entries for q in e.questions]
        self._tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self._q_tfidf = self._tfidf.fit_transform(questions)
        self._q_emb = self._encode(questions) if encoder is not None else None

    def _encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode(texts, batch_size=64, normalize_embeddings=True,
                                              show_progress_bar=False))

    def scores(self, text: str) -> np.ndarray:
        """Best blended score per entry."""
        lexical = (self._q_tfidf @ self._tfidf.transform([text]).T).toarray().ravel()
        blended = (1 - self.encoder_weight) * lexical
        if self._q_emb is not None:
            blended = blended + self.encoder_weight * (self._q_emb @ self._encode([text])[0])
        best = np.full(len(self.entries), -1.0)
        np.maximum.at(best, self._owner, blended)
        return best

    def search(self, text: str, threshold: float = DEFAULT_THRESHOLD) -> FaqMatch:
        best = self.scores(text)
        top = int(best.argmax())
        return FaqMatch(self.entries[top], float(best[top]), bool(best[top] >= threshold))


_lock = threading.Lock()
_cache: dict[str, tuple[float, FaqIndex]] = {}


def get_index(path: Path = FAQ_FILE, use_encoder: bool = True) -> FaqIndex:
    """The index for the file as it is now (rebuilt when the file changes)."""
    key = f"{path}:{use_encoder}"
    mtime = Path(path).stat().st_mtime
    with _lock:
        cached = _cache.get(key)
        if cached is None or cached[0] != mtime:
            encoder = None
            if use_encoder:
                from bot.encoder import load_encoder

                encoder = load_encoder()
            cached = _cache[key] = (mtime, FaqIndex(load_entries(path), encoder))
        return cached[1]


def answer(text: str, threshold: Optional[float] = None) -> FaqMatch:
    return get_index().search(text, DEFAULT_THRESHOLD if threshold is None else threshold)
