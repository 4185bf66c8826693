"""Clean Bot's NLU: the custom Rasa components (config.yml names them bot.nlu.<ClassName>), and around them
training (training.py), evaluation (evaluation.py), the sentence encoder (encoder.py) and the FAQ search
(faq.py).

The components are imported on first use (PEP 562 `__getattr__`): Rasa resolves `bot.nlu.KoreanTokenizer`
with `getattr`, while `import bot.nlu.faq` or `bot.nlu.training` does not pull in Rasa's component
machinery (and TensorFlow with it)."""
from __future__ import annotations

import importlib
from typing import Any

COMPONENTS = {
    "IdentifierEntityExtractor": "bot.nlu.identifier_extractor",
    "KoreanTokenizer": "bot.nlu.korean_tokenizer",
    "SentenceEmbeddingFeaturizer": "bot.nlu.sentence_featurizer",
    "SentenceTypeFeaturizer": "bot.nlu.sentence_type_featurizer",
}

__all__ = list(COMPONENTS)


def __getattr__(name: str) -> Any:
    if name in COMPONENTS:
        return getattr(importlib.import_module(COMPONENTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
