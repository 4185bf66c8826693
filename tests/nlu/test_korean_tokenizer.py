"""KoreanTokenizer: offsets are true offsets, nothing is dropped, for every backend."""
from __future__ import annotations

import random
from typing import List

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import KoreanTokenizer
from bot.nlu import korean_tokenizer as kt
from bot.nlu.korean_tokenizer import (
    KoreanTokenizerBackendError,
    align_normalized,
    get_backend,
    tokenize_text,
)

HARD_TEXTS = [
    "해요",
    "했어요",
    "입니다",
    "해요 했어요 입니다",
    "신고하고싶어요환불해주세요",
    "8181-2345-6789-0123",
    "8181 2345 6789 0123",
    "주문번호는 8181 2345 6789 0123이요",
    "https://ko.aliexpress.com/item/1005006123456789.html",
    "이 링크 https://ko.aliexpress.com/item/1005006123456789.html?spm=a2g0o.order_list.0.0 가짜예요",
    "😡👍",
    "진짜 화나요😡👍 환불해주세요!!",
    "이거 Nike 맞나요",
    "louis vuitton가방",
    "나이키요",
    "루이비통입니다",
    "샤넬꺼 LV 가방 gucci",
    "인증코드 AB3D5FGH입니다",
    "RPT-2026-000042 상태 알려줘",
    "rpt 2026 000042",
    "상표 40-2020-1234567",
    "👨‍👩‍👧 ❤️ 👍🏻 🇰🇷 나이키",
    "test@example.com #나이키 @user",
    "ㅋㅋㅋ 진짜?!...",
    "  앞뒤 공백  \t\n 줄바꿈 ",
    "ａｂｃ１２３ 全角 漢字",
    "\u200b나이키\u200b",
    "판매자님들께서는 재발급해주세요",
    "가져가 됐어요 걸어요 예뻐요",
    "(나이키)요, [구찌]? {LV}!",
    "a",
    "1",
    "가",
    "!",
]

MODES = ["compact", "morpheme"]


def assert_valid(text: str, tokens: List[Token]) -> None:
    """True offsets, ordered, non-overlapping, no whitespace, full coverage."""
    covered = set()
    prev_end = 0
    for token in tokens:
        assert 0 <= token.start < token.end <= len(text), token
        assert token.text == text[token.start : token.end], (token.text, token.start, token.end)
        assert token.start >= prev_end, f"overlap/out of order at {token.text!r}"
        assert not any(ch.isspace() for ch in token.text), repr(token.text)
        assert token.lemma, token
        assert "pos" in token.data
        covered.update(range(token.start, token.end))
        prev_end = token.end
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and i not in covered]
    assert not missing, f"dropped characters {[text[i] for i in missing]!r} of {text!r}"


def texts(tokens: List[Token]) -> List[str]:
    return [t.text for t in tokens]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", HARD_TEXTS)
def test_offsets_and_coverage(backend: str, mode: str, text: str) -> None:
    assert_valid(text, tokenize_text(text, backend=backend, mode=mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", ["", " ", "   \t\n  ", "\u3000"])
def test_empty_and_whitespace_only(backend: str, mode: str, text: str) -> None:
    assert tokenize_text(text, backend=backend, mode=mode) == []


def test_random_mixtures_keep_invariants(backend: str) -> None:
    fragments = [
        "나이키", "요", "입니다", "했어요", "해요", "신고", "하고싶어요", "환불", "해주세요",
        "8181", "-", " ", "  ", "2345", "1005006123456789", "https://ko.aliexpress.com/item/",
        ".html", "?spm=a.b.0", "😡", "👍🏻", "❤️", "🇰🇷", "Nike", "louis", "vuitton", "가방",
        "LV", "AB3D5FGH", "RPT-2026-000042", "!", "?!", "...", "(", ")", "ㅋㅋ", "ㅠㅠ", "\n",
        "漢字", "ａｂｃ", "é", "\u200b", "₩", "%", "_", "#", "@", "~", "１２３",
    ]
    rng = random.Random(20260401 + len(backend))
    for _ in range(120):
        text = "".join(rng.choice(fragments) for _ in range(rng.randint(1, 10)))
        for mode in MODES:
            assert_valid(text, tokenize_text(text, backend=backend, mode=mode))


def test_compact_examples_kiwi() -> None:
    assert texts(tokenize_text("루이비통입니다")) == ["루이비통", "입니다"]
    assert texts(tokenize_text("나이키요")) == ["나이키", "요"]
    assert texts(tokenize_text("신고하고싶어요환불해주세요")) == ["신고하고싶어요", "환불해주세요"]
    assert texts(tokenize_text("해요 했어요 입니다")) == ["해요", "했어요", "입니다"]
    assert texts(tokenize_text("판매자님들께서는")) == ["판매자님들", "께서는"]
    # Kiwi splits AB|3|D|5|FGH; compact mode keeps a Latin/digit run together
    assert texts(tokenize_text("AB3D5FGH입니다")) == ["AB3D5FGH", "입니다"]
    assert texts(tokenize_text("이거 짝퉁이에요😡")) == ["이거", "짝퉁", "이에요", "😡"]


def test_morpheme_mode_kiwi_contractions() -> None:
    # Kiwi reports 했 as 하 + 었 on the same character and 입니다 as 이 + ᆸ니다
    tokens = tokenize_text("했어요 입니다", mode="morpheme")
    assert texts(tokens) == ["했", "어요", "입", "니다"]
    assert [t.lemma for t in tokens][:1] == ["하다"]
    assert tokens[2].data["pos"] == "VCP"


def test_lemma_and_pos_kiwi() -> None:
    by_text = {
        t.text: t for text in ["했어요", "걸어요", "나이키요", "입니다"] for t in tokenize_text(text)
    }
    assert by_text["했어요"].lemma == "하다"
    assert by_text["걸어요"].lemma == "걷다"  # irregular VV-I: tag suffix dropped
    assert by_text["걸어요"].data["pos"] == "VV"
    assert by_text["나이키"].lemma == "나이키"
    assert by_text["나이키"].data["pos"] == "NNP"
    copula = tokenize_text("루이비통입니다")[1]
    assert (copula.text, copula.lemma, copula.data["pos"]) == ("입니다", "이다", "VCP")


@pytest.mark.parametrize("mode", MODES)
def test_numbers_with_hyphens_and_spaces(backend: str, mode: str) -> None:
    assert texts(tokenize_text("8181-2345-6789-0123", backend=backend, mode=mode)) == [
        "8181", "-", "2345", "-", "6789", "-", "0123",
    ]
    assert texts(tokenize_text("8181 2345 6789 0123", backend=backend, mode=mode)) == [
        "8181", "2345", "6789", "0123",
    ]


@pytest.mark.parametrize("mode", MODES)
def test_url_digit_run_is_own_token(backend: str, mode: str) -> None:
    text = "https://ko.aliexpress.com/item/1005006123456789.html 이거 가품이에요"
    tokens = tokenize_text(text, backend=backend, mode=mode)
    assert_valid(text, tokens)
    assert "1005006123456789" in texts(tokens)
    assert "aliexpress" in texts(tokens)
    start = text.index("1005006123456789")
    token = next(t for t in tokens if t.text == "1005006123456789")
    assert (token.start, token.end) == (start, start + 16)


@pytest.mark.parametrize("mode", MODES)
def test_emoji_are_own_tokens(backend: str, mode: str) -> None:
    tokens = texts(tokenize_text("화나요😡👍 👍🏻", backend=backend, mode=mode))
    assert tokens[-3:] == ["😡", "👍", "👍🏻"]


@pytest.mark.parametrize("mode", MODES)
def test_latin_brand_inside_korean(backend: str, mode: str) -> None:
    assert "Nike" in texts(tokenize_text("이거 Nike 맞나요", backend=backend, mode=mode))
    tokens = tokenize_text("louis vuitton가방", backend=backend, mode=mode)
    assert texts(tokens)[:2] == ["louis", "vuitton"]


@pytest.mark.parametrize("mode", MODES)
def test_particle_glued_to_brand(backend: str, mode: str) -> None:
    tokens = texts(tokenize_text("나이키요", backend=backend, mode=mode))
    assert tokens == ["나이키", "요"]


def test_contractions_stay_whole_in_compact_mode(backend: str) -> None:
    for text in ["해요", "했어요", "입니다", "됐어요", "봐요", "해주세요"]:
        for mode in MODES:
            tokens = tokenize_text(text, backend=backend, mode=mode)
            assert_valid(text, tokens)
            if mode == "compact" and not (backend == "okt" and text == "해요"):
                # (Okt reads a lone 해요 as the noun 해 + particle 요)
                assert texts(tokens) == [text]


def test_align_normalized_gives_unmatched_rest_to_unmatched_morphemes() -> None:
    # Komoran: 했어요 = 하/VV + 았/EP + 어요/EC; 입니다 = 이/VCP + ㅂ니다/EC
    spans = align_normalized("했어요", [("하", "VV"), ("았", "EP"), ("어요", "EC")])
    assert [(s, e) for s, e, _, _ in spans if e > s] == [(0, 1), (1, 3)]
    assert spans[0][2:] == ("VV", "하")
    spans = align_normalized("입니다", [("이", "VCP"), ("ㅂ니다", "EC")])
    assert [(s, e) for s, e, _, _ in spans if e > s] == [(0, 3)]
    # a skipped character goes to the morpheme before it
    spans = align_normalized("나이키요", [("나이", "NNP"), ("요", "JX")])
    assert [(s, e) for s, e, _, _ in spans if e > s] == [(0, 3), (3, 4)]
    # nothing matches at all: the whole word
    spans = align_normalized("됐", [("되", "VV"), ("었", "EP")])
    assert [(s, e) for s, e, _, _ in spans if e > s] == [(0, 1)]


def test_backends_are_cached() -> None:
    assert get_backend("kiwi") is get_backend("kiwi")


def test_unknown_backend_and_mode_are_rejected() -> None:
    with pytest.raises(ValueError, match="backend"):
        KoreanTokenizer({"backend": "mecab"})
    with pytest.raises(ValueError, match="mode"):
        KoreanTokenizer({"mode": "words"})


def test_missing_java_gives_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    jpype = pytest.importorskip("jpype")

    def no_jvm() -> str:
        raise jpype.JVMNotFoundException("No JVM shared library file (libjvm.so) found.")

    monkeypatch.setattr(jpype, "isJVMStarted", lambda: False)
    monkeypatch.setattr(jpype, "getDefaultJVMPath", no_jvm)
    with pytest.raises(KoreanTokenizerBackendError, match="JAVA_HOME") as info:
        kt._ensure_java("okt")
    assert "JDK" in str(info.value)


def _component(tmp_path, **config) -> KoreanTokenizer:
    return KoreanTokenizer.create(
        {**KoreanTokenizer.get_default_config(), **config},
        LocalModelStorage(tmp_path),
        Resource("tokenizer"),
        ExecutionContext(graph_schema=None, model_id=None),
    )


def test_rasa_component_process(tmp_path, backend: str) -> None:
    tokenizer = _component(tmp_path, backend=backend)
    text = "주문번호 8181-2345-6789-0123 나이키요 😡"
    message = Message(data={TEXT: text})
    tokenizer.process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert_valid(text, tokens)
    assert "나이키" in texts(tokens)


def test_rasa_component_intent_split_and_token_pattern(tmp_path) -> None:
    tokenizer = _component(
        tmp_path, intent_tokenization_flag=True, intent_split_symbol="+", token_pattern=r"\d{4}|[^\d]+"
    )
    message = Message(data={TEXT: "번호 81812345", INTENT: "report+brand"})
    tokenizer.process_training_data(TrainingData([message]))
    assert texts(message.get(TOKENS_NAMES[INTENT])) == ["report", "brand"]
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert texts(tokens) == ["번호", "8181", "2345"]
    assert [(t.start, t.end) for t in tokens] == [(0, 2), (3, 7), (7, 11)]


def test_morpheme_mode_component(tmp_path) -> None:
    tokenizer = _component(tmp_path, mode="morpheme")
    message = Message(data={TEXT: "신고하고싶어요"})
    tokenizer.process([message])
    assert texts(message.get(TOKENS_NAMES[TEXT])) == ["신고", "하", "고", "싶", "어요"]
