"""bot.nlu.SentenceTypeFeaturizer: the features Kiwi's analysis gives for each sentence type, and the
component's train/persist/load/process cycle (vocabulary stored with the model)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentence_type_featurizer import VOCABULARY_FILE, SentenceTypeFeaturizer, features, vocabulary


@pytest.mark.parametrize("text, expected", [
    # doing it / asking how / having done it: same content words, different endings
    ("환불 신청할게요", ["ef=ᆯ게요", "end=EF", "sf=none"]),
    ("환불 신청은 어떻게 해요?", ["ef=어요", "end=EF", "wh", "wh=어떻게", "sf=?"]),
    ("환불 신청했어요", ["ef=어요", "end=EF", "ep=past", "sf=none"]),
    # modality
    ("신고할 수 있나요?", ["ef=나요", "end=EF", "mod=can", "sf=?"]),
    ("사진 없어도 되나요", ["ef=나요", "end=EF", "mod=may", "sf=none"]),
    ("환불받고 싶어요", ["ef=어요", "end=EF", "mod=want", "sf=none"]),
    ("신고해야 하나요?", ["ef=나요", "end=EF", "mod=must", "sf=?"]),
    ("환불해 주세요 🙏", ["ef=세요", "end=EF", "mod=give", "emoji", "sf=none"]),
    # trailing off, fragments, outcomes, honorific future
    ("가짜 같아서 신고하려고", ["end=EC", "ec=려고", "mod=intend", "sf=none"]),
    ("받았는데", ["end=EC", "ec=는데", "ep=past", "sf=none"]),
    ("주문번호 8181", ["end=noun", "sf=none"]),
    ("삭제됐나요?", ["ef=나요", "end=EF", "ep=past", "sf=?"]),
    ("하시겠습니까?", ["ef=습니까", "end=EF", "ep=will", "ep=honorific", "sf=?"]),
    ("왜 안 돼요!!", ["ef=어요", "end=EF", "wh", "wh=왜", "sf=!"]),
])
def test_features(text, expected):
    assert features(text) == expected


def test_every_feature_is_in_the_vocabulary_once():
    names = vocabulary()
    assert len(names) == len(set(names))
    for text in ["환불 신청은 어떻게 해요?", "하시겠습니까?", "환불해 주세요 🙏", "가짜 같아서 신고하려고"]:
        assert set(features(text)) <= set(names)


def _context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), "test-model")


def _messages(texts):
    from bot.nlu import KoreanTokenizer

    messages = [Message(data={TEXT: t}) for t in texts]
    KoreanTokenizer({}).process(messages)
    return messages


def test_train_persists_the_vocabulary_and_load_uses_it(tmp_path: Path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("sentence_type")
    featurizer = SentenceTypeFeaturizer.create(SentenceTypeFeaturizer.get_default_config(), storage, resource,
                                               _context())
    featurizer.train(TrainingData(training_examples=_messages(["환불해 주세요"])))
    with storage.read_from(resource) as directory:
        assert json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8")) == vocabulary()
        # a model trained with an older, shorter vocabulary keeps its own columns
        (directory / VOCABULARY_FILE).write_text(json.dumps(["sf=?", "wh", "ef=나요"]), encoding="utf-8")
    loaded = SentenceTypeFeaturizer.load(SentenceTypeFeaturizer.get_default_config(), storage, resource, _context())
    messages = _messages(["어디서 신고할 수 있나요?", "환불해 주세요"])
    loaded.process(messages)
    sequence, sentence = messages[0].get_sparse_features(TEXT)
    assert sentence.features.shape == (1, 3)
    assert sentence.features.toarray().tolist() == [[1.0, 1.0, 1.0]]
    assert sequence.features.shape == (len(messages[0].get("text_tokens")), 3) and sequence.features.nnz == 0
    assert messages[1].get_sparse_features(TEXT)[1].features.toarray().tolist() == [[0.0, 0.0, 0.0]]


def test_exported_from_bot_nlu():
    import bot.nlu

    assert bot.nlu.SentenceTypeFeaturizer is SentenceTypeFeaturizer
