"""What Korean grammar says about the speaker's intent, as sparse sentence features for DIET.

Pipeline entry (after the tokenizer, next to the other featurizers)::

    - name: bot.nlu.SentenceTypeFeaturizer

A request, a question about a procedure and a statement often share every content word ("환불 신청할게요" /
"환불 신청은 어떻게 해요?" / "환불 신청했어요"); what differs is the sentence's end and a few function words.
From Kiwi's analysis of the whole message this featurizer sets:

* ``ef=<form>``: the last sentence-final ending (EF: 까요, 나요, 죠, 어요, ᆯ게요, 습니다 …) and
  ``end=EF|EC|noun|other`` for what the message ends on (EC: 는데, 고 … trailing off; noun: a fragment);
  ``ec=<form>`` when it ends on a connective ending;
* ``ep=past`` / ``ep=will`` / ``ep=honorific`` for the pre-final endings 었/았, 겠, 시;
* ``wh=<word>`` and ``wh`` for interrogatives (어디, 언제, 어떻게, 왜, 뭐, 몇, 누구, 얼마, 어느);
* modality: ``mod=can`` (-ㄹ 수 있/없), ``mod=may`` (-아도 되), ``mod=want`` (-고 싶), ``mod=intend`` (-려고),
  ``mod=must`` (-아야 하/되), ``mod=give`` (-아 주: a request), ``mod=try`` (-아 보);
* ``sf=?|.|!|~|none`` for the final punctuation and ``emoji`` when the message ends with an emoji.

The feature vocabulary is fixed by this module; training stores the one it used, and a model loads with
its own (a newer vocabulary never shifts an old model's columns). Sentence features carry the values;
every token's sequence row is zero (the features describe the message, not a token).
"""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

VOCABULARY_FILE = "sentence_type_vocabulary.json"

ENDINGS = ("까요", "나요", "ᆫ가요", "은가요", "죠", "지요", "어요", "아요", "에요", "예요", "세요", "으세요", "ᆯ게요", "을게요",
           "ᆯ래요", "을래요", "네요", "군요", "습니다", "ᆸ니다", "ᆸ니까", "습니까", "ᆫ데요", "는데요", "은데요", "거든요",
           "어", "아", "야", "지", "니", "냐", "나", "까", "ᆯ게", "을게", "ᆯ래", "을래", "네", "다", "자", "라", "어라",
           "아라", "ᆫ다", "는다", "ᆯ까", "을까", "거든", "ᆫ데", "는데")
CONNECTIVES = ("는데", "ᆫ데", "은데", "고", "어서", "아서", "니까", "으니까", "면", "으면", "려고", "으려고", "는지", "ᆫ지",
               "게", "도록", "어도", "아도")
INTERROGATIVES = ("어디", "언제", "어떻게", "어떤", "왜", "뭐", "무엇", "뭘", "몇", "누구", "누가", "얼마", "어느", "무슨")
MODALITIES = ("can", "may", "want", "intend", "must", "give", "try")
PUNCTUATION = ("?", ".", "!", "~", "none")


def vocabulary() -> list[str]:
    """Every feature name this version can set, in column order."""
    return ([f"ef={e}" for e in ENDINGS] + ["ef=other"]
            + [f"end={k}" for k in ("EF", "EC", "noun", "other")]
            + [f"ec={c}" for c in CONNECTIVES] + ["ec=other"]
            + ["ep=past", "ep=will", "ep=honorific"]
            + ["wh"] + [f"wh={w}" for w in INTERROGATIVES]
            + [f"mod={m}" for m in MODALITIES]
            + [f"sf={p}" for p in PUNCTUATION] + ["emoji"])


_EMOJI_END_RE = re.compile(r"[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?\s*$")
_FINAL_PUNCT_RE = re.compile(r"([?？.!！~])[?？.!！~\s]*$")
_NOUN_TAGS = {"NNG", "NNP", "NNB", "NR", "NP", "SL", "SN", "SH"}
_SYMBOL_TAGS = {"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SW", "SB"}


def features(text: Text, analysis: Optional[list] = None) -> list[str]:
    """Feature names for a message. `analysis` is Kiwi's (start, end, tag, form) list (computed if None)."""
    if analysis is None:
        from bot.nlu.korean_tokenizer import get_backend

        analysis = get_backend("kiwi").analyze(text)
    out = []
    morphs = [(tag.split("-", 1)[0], form) for _s, _e, tag, form in analysis]
    content = [(tag, form) for tag, form in morphs if tag not in _SYMBOL_TAGS and not tag.startswith("W_")]
    efs = [form for tag, form in morphs if tag == "EF"]
    if efs:
        out.append(f"ef={efs[-1]}" if efs[-1] in ENDINGS else "ef=other")
    last_tag, last_form = content[-1] if content else ("", "")
    if last_tag == "EF":
        out.append("end=EF")
    elif last_tag == "EC":
        out.append("end=EC")
        out.append(f"ec={last_form}" if last_form in CONNECTIVES else "ec=other")
    elif last_tag in _NOUN_TAGS:
        out.append("end=noun")
    else:
        out.append("end=other")
    eps = {form for tag, form in morphs if tag == "EP"}
    if eps & {"었", "았", "였", "ᆻ"}:
        out.append("ep=past")
    if "겠" in eps:
        out.append("ep=will")
    if eps & {"시", "으시"}:
        out.append("ep=honorific")
    # Kiwi splits 어떻게 into 어떻/VA + 게/EC
    found_wh = ["어떻게" if form == "어떻" else form for tag, form in morphs
                if (form in INTERROGATIVES or form == "어떻") and tag in ("NP", "MAG", "MM", "NNG", "VA")]
    if found_wh:
        out.append("wh")
        out += sorted({f"wh={w}" for w in found_wh})
    out += [f"mod={m}" for m in _modalities(morphs)]
    normalized = unicodedata.normalize("NFKC", text).strip()
    if _EMOJI_END_RE.search(normalized):
        out.append("emoji")
        normalized = _EMOJI_END_RE.sub("", normalized).strip()
    punct = _FINAL_PUNCT_RE.search(normalized)
    out.append(f"sf={punct.group(1)}" if punct else "sf=none")
    return out


def _modalities(morphs: list[tuple[str, str]]) -> list[str]:
    found = []
    for i, (tag, form) in enumerate(morphs):
        nxt = morphs[i + 1] if i + 1 < len(morphs) else ("", "")
        nxt2 = morphs[i + 2] if i + 2 < len(morphs) else ("", "")
        if tag == "ETM" and form in ("ᆯ", "을") and nxt[1] == "수" and nxt2[1] in ("있", "없"):
            found.append("can")
        elif tag == "EC" and form in ("어도", "아도", "여도") and nxt[1] == "되":
            found.append("may")
        elif tag == "EC" and form == "고" and nxt == ("VX", "싶"):
            found.append("want")
        elif tag == "EC" and form in ("려고", "으려고", "려", "으려"):
            found.append("intend")
        elif tag == "EC" and form in ("어야", "아야", "여야") and nxt[1] in ("하", "되"):
            found.append("must")
        elif tag == "VX" and form == "주":
            found.append("give")
        elif tag == "VX" and form == "보":
            found.append("try")
    return sorted(set(found), key=MODALITIES.index)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceTypeFeaturizer(SparseFeaturizer, GraphComponent):
    """Sparse sentence features for the sentence type (question / request / statement …) of a message."""

    @classmethod
    def required_components(cls) -> List[type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["kiwipiepy"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**SparseFeaturizer.get_default_config()}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """No options of its own."""

    def __init__(self, config: Dict[Text, Any], name: Text, model_storage: ModelStorage, resource: Resource,
                 names: Optional[List[Text]] = None) -> None:
        super().__init__(name, {**self.get_default_config(), **config})
        self._model_storage = model_storage
        self._resource = resource
        self._set_vocabulary(names or vocabulary())

    def _set_vocabulary(self, names: List[Text]) -> None:
        self.names = list(names)
        self._column = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SentenceTypeFeaturizer":
        return cls(config, execution_context.node_name, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "SentenceTypeFeaturizer":
        with model_storage.read_from(resource) as directory:
            names = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
        return cls(config, execution_context.node_name, model_storage, resource, names)

    def train(self, training_data: TrainingData) -> Resource:
        """Nothing to fit: stores the vocabulary (the column of every feature) this model is trained with."""
        with self._model_storage.write_to(self._resource) as directory:
            (directory / VOCABULARY_FILE).write_text(json.dumps(self.names, ensure_ascii=False), encoding="utf-8")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            if message.get(TEXT) and message.get(TOKENS_NAMES[TEXT]):
                self._featurize(message)
        return messages

    def vector(self, text: Text) -> scipy.sparse.coo_matrix:
        columns = sorted({self._column[f] for f in features(text) if f in self._column})
        return scipy.sparse.coo_matrix((np.ones(len(columns), dtype=np.float32),
                                        (np.zeros(len(columns), dtype=np.int64), np.array(columns, dtype=np.int64))),
                                       shape=(1, len(self.names)))

    def _featurize(self, message: Message) -> None:
        n_tokens = len(message.get(TOKENS_NAMES[TEXT]))
        sequence = scipy.sparse.coo_matrix((n_tokens, len(self.names)), dtype=np.float32)
        self.add_features_to_message(sequence=sequence, sentence=self.vector(message.get(TEXT)), attribute=TEXT,
                                     message=message)
