"""Custom Rasa NLU components of Clean Bot (refer to them as bot.nlu.<ClassName>)."""
from bot.nlu.identifier_extractor import IdentifierEntityExtractor  # noqa: F401
from bot.nlu.korean_tokenizer import KoreanTokenizer  # noqa: F401
from bot.nlu.sentence_featurizer import SentenceEmbeddingFeaturizer  # noqa: F401
