"""Korean tokenizer for the Rasa NLU pipeline (Kiwi by default, Okt/Komoran via KoNLPy).

Pipeline entry::

    - name: bot.nlu.KoreanTokenizer
      backend: kiwi        # kiwi | okt | komoran
      mode: compact        # compact | morpheme

Every token's ``text`` is exactly ``message_text[start:end]``: analyser output is
aligned to the original text (Kiwi reports offsets, Okt surface forms are scanned
forward, Komoran's normalised morphemes are aligned per word), overlapping spans
are merged, spans are split at whitespace and at character-class changes inside
URLs/serials/e-mails/emoji runs, and any character the analyser skipped is added
back.  The resulting tokens are ordered, never overlap, never contain whitespace
and together cover every non-space character of the text.

``compact`` mode groups the morphemes of a whitespace word into a few tokens:
content morphemes start a token, verb endings/auxiliaries/suffixes stay attached
to their stem, particles and the copula after a noun form their own token::

    루이비통입니다        -> 루이비통 | 입니다
    나이키요              -> 나이키 | 요
    신고하고싶어요환불해주세요 -> 신고하고싶어요 | 환불해주세요
    8181-2345-6789-0123   -> 8181 | - | 2345 | - | 6789 | - | 0123

``morpheme`` mode returns one token per (aligned) morpheme.
"""
from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Text, Tuple

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

POS_TAG_KEY = "pos"  # what LexicalSyntacticFeaturizer reads

BACKENDS = ("kiwi", "okt", "komoran")
MODES = ("compact", "morpheme")


class KoreanTokenizerBackendError(RuntimeError):
    """The configured analyser backend cannot be used (missing package or Java)."""


# --------------------------------------------------------------------------------------
# Character classes
# --------------------------------------------------------------------------------------

_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
# Characters that modify the preceding character (emoji ZWJ sequences, variation
# selectors, skin tones, keycaps, tag sequences, combining marks).
_MODS = (
    "(?:\u200d\\S|[\ufe00-\ufe0f\u20e3\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F"
    "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f])"
)
_PIECE_RE = re.compile(
    rf"(?P<hangul>[{_HANGUL}]+){_MODS}*"
    rf"|(?P<digit>\d+){_MODS}*"
    rf"|(?P<letter>(?:(?![{_HANGUL}])[^\W\d_])+){_MODS}*"
    rf"|(?P<flag>[\U0001F1E6-\U0001F1FF]{{2}}){_MODS}*"
    rf"|(?P<rep>(?P<rp>[!-/:-@\[-`{{-~…·。、])(?P=rp)+){_MODS}*"
    rf"|(?P<symbol>[^\w\s]|_){_MODS}*"
    r"|(?P<other>\S)"
)
_PIECE_KINDS = ("hangul", "digit", "letter", "flag", "rep", "symbol", "other")
_HANGUL_CHAR_RE = re.compile(f"[{_HANGUL}]")
_CJK_RE = re.compile("[\u2e80-\u2fff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")


def _is_modifier_only(text: Text) -> bool:
    for ch in text:
        cp = ord(ch)
        if unicodedata.category(ch) in ("Mn", "Me", "Cf") or 0x1F3FB <= cp <= 0x1F3FF:
            continue
        return False
    return True


def _is_alnum_text(text: Text) -> bool:
    """Latin/other letters and digits only (no Hangul): one 'alnum' unit."""
    return bool(text) and all(
        (ch.isalnum() or unicodedata.category(ch) in ("Mn", "Me"))
        and not _HANGUL_CHAR_RE.match(ch)
        for ch in text
    )


def _is_symbol_text(text: Text) -> bool:
    return bool(text) and not any(ch.isalnum() for ch in text)


def _split_pieces(text: Text, offset: int) -> List[Tuple[int, int, Text]]:
    """Splits a whitespace-free string into (start, end, class) character-class runs."""
    pieces = []
    for m in _PIECE_RE.finditer(text):
        kind = next(name for name in _PIECE_KINDS if m.group(name) is not None)
        pieces.append((offset + m.start(), offset + m.end(), kind))
    return pieces


_PUNCT_TAGS = {
    **dict.fromkeys(".!?", "SF"),
    **dict.fromkeys(",/:;", "SP"),
    **dict.fromkeys("'\"()[]{}<>‘’“”「」『』《》〈〉【】", "SS"),
    **dict.fromkeys("…", "SE"),
    **dict.fromkeys("-~‐‑‒–—―∼〜", "SO"),
}


def _is_emoji(text: Text) -> bool:
    ch = text[0]
    return ord(ch) >= 0x2190 and unicodedata.category(ch) == "So"


# --------------------------------------------------------------------------------------
# Segments (aligned morphemes)
# --------------------------------------------------------------------------------------


@dataclass
class _Seg:
    start: int
    end: int
    tags: List[Text]
    forms: List[Text]
    # True when the form came from the analyser (so it may be used as a lemma)
    analysed: bool = True
    kind: Text = field(default="")
    # the analyser's span started inside the previous segment (a syllable shared
    # by two morphemes, e.g. 입니다 = 이/NP + 이/VCP + ᆸ니다/EF): never split there
    fused: bool = False

    @property
    def tag(self) -> Text:
        return self.tags[0]

    @property
    def form(self) -> Text:
        return self.forms[0]


# --------------------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------------------


class _Backend:
    name = ""
    digit_tag = "SN"
    letter_tag = "SL"
    hanja_tag = "SH"
    hangul_tag = "NNG"
    emoji_tag = "SW"
    other_tag = "SW"
    # backend tags that mark non-Korean material; Hangul pieces split out of
    # such a segment get `hangul_tag` instead of the original tag
    foreign_tags: Tuple[Text, ...] = ()
    # whether the morpheme form (plus "다" for predicates) is a usable lemma
    has_lemmas = True

    def analyze(self, text: Text) -> List[Tuple[int, int, Text, Text]]:
        """Returns (start, end, tag, form) per morpheme in text order (may overlap)."""
        raise NotImplementedError

    def symbol_tag(self, text: Text) -> Text:
        if _is_emoji(text):
            return self.emoji_tag
        return _PUNCT_TAGS.get(text[0], "SW")

    def piece_tag(self, kind: Text, text: Text, original_tag: Optional[Text]) -> Text:
        if kind == "digit":
            return self.digit_tag
        if kind == "letter":
            return self.hanja_tag if _CJK_RE.match(text) else self.letter_tag
        if kind == "hangul":
            if original_tag and not self.is_foreign(original_tag):
                return original_tag
            return self.hangul_tag
        if kind in ("flag", "rep", "symbol"):
            return self.symbol_tag(text)
        return self.other_tag

    def is_foreign(self, tag: Text) -> bool:
        return tag.startswith("W_") or tag in self.foreign_tags

    @staticmethod
    def base_tag(tag: Text) -> Text:
        """Kiwi marks irregular conjugation as VV-I / VA-R etc.; drop that suffix."""
        return tag.split("-", 1)[0]

    def morph_class(self, tag: Text) -> Text:
        """Sejong-style class of a tag: noun|verb|particle|ending|copula|aux|nsuffix|vsuffix|prefix."""
        tag = self.base_tag(tag)
        if tag.startswith("J"):
            return "particle"
        if tag.startswith("E") or tag.startswith("Z_"):
            return "ending"
        if tag in ("VCP", "VCN"):
            return "copula"
        if tag == "VX":
            return "aux"
        if tag == "XSN":
            return "nsuffix"
        if tag.startswith("XS"):
            return "vsuffix"
        if tag.startswith("XP"):
            return "prefix"
        if tag in ("VV", "VA"):
            return "verb"
        return "noun"

    def lemma(self, seg: _Seg) -> Optional[Text]:
        if not self.has_lemmas or not seg.analysed:
            return None
        tag = self.base_tag(seg.tag)
        form = seg.form
        if not form:
            return None
        if tag in ("VV", "VA", "VX", "VCP", "VCN", "XSV", "XSA"):
            return form + "다"
        return form


class _KiwiBackend(_Backend):
    name = "kiwi"
    emoji_tag = "W_EMOJI"
    foreign_tags = ("SL", "SN", "SH", "SW", "SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SB")

    def __init__(self, user_words: Sequence[Text] = ()) -> None:
        try:
            from kiwipiepy import Kiwi
        except ImportError as e:  # pragma: no cover - depends on environment
            raise KoreanTokenizerBackendError(
                "KoreanTokenizer backend 'kiwi' needs the 'kiwipiepy' package: "
                "pip install kiwipiepy"
            ) from e
        self._kiwi = Kiwi()
        for word in user_words:
            if word and word.strip():
                self._kiwi.add_user_word(word.strip(), "NNP", 0.0)
        self._lock = threading.Lock()

    def analyze(self, text: Text) -> List[Tuple[int, int, Text, Text]]:
        with self._lock:
            tokens = self._kiwi.tokenize(text)
        return [(t.start, t.start + t.len, t.tag, t.form) for t in tokens]


def _ensure_java(backend: Text) -> None:
    """Fails with an actionable message when KoNLPy's Java bridge cannot work."""
    try:
        import konlpy  # noqa: F401
    except ImportError as e:
        raise KoreanTokenizerBackendError(
            f"KoreanTokenizer backend '{backend}' needs KoNLPy: pip install konlpy "
            f"(and a Java runtime), or use backend: kiwi"
        ) from e
    try:
        import jpype
    except ImportError as e:
        raise KoreanTokenizerBackendError(
            f"KoreanTokenizer backend '{backend}' needs JPype: pip install JPype1"
        ) from e
    if jpype.isJVMStarted():
        return
    try:
        jpype.getDefaultJVMPath()
    except Exception as e:
        raise KoreanTokenizerBackendError(
            f"KoreanTokenizer backend '{backend}' (KoNLPy) needs a Java runtime but none "
            f"was found ({e}). Install a JDK (e.g. `apt-get install -y "
            f"openjdk-17-jdk-headless`) and/or set JAVA_HOME to its directory, or use "
            f"backend: kiwi."
        ) from e


def _konlpy_construct(backend: Text, factory: Any, **kwargs: Any) -> Any:
    _ensure_java(backend)
    try:
        return factory(**kwargs)
    except Exception as e:
        raise KoreanTokenizerBackendError(
            f"Could not start KoNLPy's {backend} analyser: {e!r}. It needs a working Java "
            f"runtime: install a JDK (e.g. `apt-get install -y openjdk-17-jdk-headless`) "
            f"and set JAVA_HOME, or use backend: kiwi."
        ) from e


class _OktBackend(_Backend):
    name = "okt"
    digit_tag = "Number"
    letter_tag = "Alpha"
    hanja_tag = "Foreign"
    hangul_tag = "Noun"
    emoji_tag = "Foreign"
    other_tag = "Foreign"
    foreign_tags = (
        "Alpha", "Number", "Foreign", "Punctuation", "URL", "Email", "Hashtag", "ScreenName",
    )
    # stem=False keeps surface forms; there is no dictionary form to use as a lemma
    has_lemmas = False

    _CLASSES = {
        "Josa": "particle",
        "Eomi": "ending",
        "PreEomi": "ending",
        "Suffix": "nsuffix",
        "VerbPrefix": "prefix",
        "Verb": "verb",
        "Adjective": "verb",
    }

    def __init__(self, user_words: Sequence[Text] = ()) -> None:
        _ensure_java("okt")
        from konlpy.tag import Okt

        if user_words:
            logger.warning("KoreanTokenizer: backend 'okt' ignores user_words.")
        self._okt = _konlpy_construct("okt", Okt)
        self._lock = threading.Lock()

    def symbol_tag(self, text: Text) -> Text:
        return self.emoji_tag if _is_emoji(text) else "Punctuation"

    def morph_class(self, tag: Text) -> Text:
        return self._CLASSES.get(tag, "noun")

    def analyze(self, text: Text) -> List[Tuple[int, int, Text, Text]]:
        with self._lock:
            pos = self._okt.pos(text, norm=False, stem=False)
        out = []
        cursor = 0
        for form, tag in pos:
            if not form:
                continue
            while cursor < len(text) and text[cursor].isspace():
                cursor += 1
            if text.startswith(form, cursor):
                idx = cursor
            else:
                # surface forms should be verbatim; if not, look a little ahead and
                # otherwise drop the morpheme (gap filling covers the characters)
                idx = text.find(form, cursor, cursor + len(form) + 16)
                if idx < 0:
                    continue
            out.append((idx, idx + len(form), tag, form))
            cursor = idx + len(form)
        return out


# Komoran crashes on astral characters (emoji) and on whitespace-only input; those
# characters are never sent to it and are added back by gap filling instead.
_KOMORAN_UNSAFE_RE = re.compile("[\U00010000-\U0010ffff\u200d\ufe00-\ufe0f\u20e3\\s]+")


class _KomoranBackend(_Backend):
    name = "komoran"
    emoji_tag = "SW"
    foreign_tags = ("SL", "SN", "SH", "SW", "SF", "SP", "SS", "SE", "SO", "NA", "NF", "NV")

    def __init__(self, user_words: Sequence[Text] = ()) -> None:
        _ensure_java("komoran")
        from konlpy.tag import Komoran

        kwargs: Dict[Text, Any] = {}
        words = [w.strip() for w in user_words if w and w.strip() and " " not in w.strip()]
        if words:
            fd, path = tempfile.mkstemp(prefix="komoran_userdic_", suffix=".txt")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for w in words:
                    f.write(f"{w}\tNNP\n")
            kwargs["userdic"] = path
        self._komoran = _konlpy_construct("komoran", Komoran, **kwargs)
        self._lock = threading.Lock()

    def analyze(self, text: Text) -> List[Tuple[int, int, Text, Text]]:
        out: List[Tuple[int, int, Text, Text]] = []
        pos = 0
        for m in _KOMORAN_UNSAFE_RE.finditer(text + " "):
            if m.start() > pos:
                out.extend(self._analyze_run(text[pos : m.start()], pos))
            pos = m.end()
        return out

    def _analyze_run(self, run: Text, offset: int) -> List[Tuple[int, int, Text, Text]]:
        try:
            with self._lock:
                morphs = [(f, t) for f, t in self._komoran.pos(run) if f]
        except Exception as e:  # Komoran throws on some inputs; gap filling covers it
            logger.debug(f"Komoran failed on {run!r}: {e!r}")
            return []
        return [(offset + s, offset + e, tag, form) for s, e, tag, form in align_normalized(run, morphs)]


def align_normalized(
    word: Text, morphs: Sequence[Tuple[Text, Text]]
) -> List[Tuple[int, int, Text, Text]]:
    """Aligns normalised morphemes of one whitespace-free word to the word's characters.

    Morphemes whose form occurs in the word (in order) get that span; consecutive
    morphemes that could not be found share the remaining characters between their
    neighbours (``했어요`` = 하+았+어요 -> 했|어요). The result covers the word with
    no gaps and no overlaps; morphemes that get no characters are emitted as
    zero-width spans (they are merged into a neighbour later).
    """
    n = len(word)
    matches: List[Optional[Tuple[int, int]]] = []
    cursor = 0
    for form, _tag in morphs:
        idx = word.find(form, cursor) if form else -1
        if idx >= 0:
            matches.append((idx, idx + len(form)))
            cursor = idx + len(form)
        else:
            matches.append(None)

    out: List[List[Any]] = []  # [start, end, tag, form]
    pending: List[int] = []
    prev_end = 0

    def flush(region_end: int) -> None:
        nonlocal prev_end
        if pending:
            if region_end > prev_end:
                # the unmatched morphemes share the unmatched characters
                first = pending[0]
                out.append([prev_end, region_end, morphs[first][1], morphs[first][0]])
                for i in pending[1:]:
                    out.append([region_end, region_end, morphs[i][1], morphs[i][0]])
            else:
                for i in pending:
                    out.append([prev_end, prev_end, morphs[i][1], morphs[i][0]])
            pending.clear()
            prev_end = max(prev_end, region_end)
        elif region_end > prev_end:
            # characters skipped by a forward match belong to the previous morpheme
            last = next((o for o in reversed(out) if o[1] > o[0]), None)
            if last is not None:
                last[1] = region_end
                prev_end = region_end

    for i, span in enumerate(matches):
        if span is None:
            pending.append(i)
            continue
        s, e = span
        flush(s)
        s = max(s, prev_end)
        if not any(o[1] > o[0] for o in out) and s > 0:
            s = 0  # leading characters nobody claimed go to the first morpheme
        out.append([s, e, morphs[i][1], morphs[i][0]])
        prev_end = e
    flush(n)
    if prev_end < n and out:
        last = next((o for o in reversed(out) if o[1] > o[0]), out[-1])
        last[1] = n
    return [(o[0], o[1], o[2], o[3]) for o in out]


_BACKEND_CLASSES = {"kiwi": _KiwiBackend, "okt": _OktBackend, "komoran": _KomoranBackend}
_BACKEND_CACHE: Dict[Tuple[Text, Tuple[Text, ...]], _Backend] = {}
_BACKEND_LOCK = threading.Lock()


def get_backend(name: Text, user_words: Iterable[Text] = ()) -> _Backend:
    """Returns the process-wide analyser for `name` (created on first use)."""
    if name not in _BACKEND_CLASSES:
        raise ValueError(
            f"Unknown KoreanTokenizer backend '{name}'. Choose one of {', '.join(BACKENDS)}."
        )
    key = (name, tuple(sorted(set(user_words))))
    backend = _BACKEND_CACHE.get(key)
    if backend is None:
        with _BACKEND_LOCK:
            backend = _BACKEND_CACHE.get(key)
            if backend is None:
                backend = _BACKEND_CLASSES[name](key[1])
                _BACKEND_CACHE[key] = backend
    return backend


# --------------------------------------------------------------------------------------
# Alignment pipeline (backend independent)
# --------------------------------------------------------------------------------------


def _resolve_overlaps(text: Text, morphs: Sequence[Tuple[int, int, Text, Text]]) -> List[_Seg]:
    """Clips overlapping spans; morphemes left without characters join the previous one."""
    n = len(text)
    segs: List[_Seg] = []
    ordered = sorted(
        ((max(0, s), min(n, e), tag, form) for s, e, tag, form in morphs),
        key=lambda m: m[0],
    )
    for s, e, tag, form in ordered:
        fused = False
        if segs and s < segs[-1].end:
            s, fused = segs[-1].end, True
        if e <= s:
            if segs:
                segs[-1].tags.append(tag)
                segs[-1].forms.append(form)
            continue
        segs.append(_Seg(s, e, [tag], [form], fused=fused))
    return segs


def _split_whitespace(text: Text, segs: List[_Seg]) -> List[_Seg]:
    out = []
    for seg in segs:
        chunk = text[seg.start : seg.end]
        if not any(ch.isspace() for ch in chunk):
            out.append(seg)
            continue
        first = True
        for m in re.finditer(r"\S+", chunk):
            if first:
                out.append(_Seg(seg.start + m.start(), seg.start + m.end(), seg.tags, seg.forms))
                first = False
            else:
                out.append(
                    _Seg(seg.start + m.start(), seg.start + m.end(), [seg.tag], [m.group()], False)
                )
    return out


def _refine(text: Text, segs: List[_Seg], backend: _Backend) -> List[_Seg]:
    """Splits segments mixing character classes (URLs, serials, e-mails, emoji runs)."""
    out = []
    for seg in segs:
        pieces = _split_pieces(text[seg.start : seg.end], seg.start)
        if len(pieces) <= 1:
            out.append(seg)
            continue
        for s, e, kind in pieces:
            piece = text[s:e]
            tag = backend.piece_tag(kind, piece, seg.tag)
            out.append(_Seg(s, e, [tag], [piece], False))
    return out


def _fill_gaps(text: Text, segs: List[_Seg], backend: _Backend) -> List[_Seg]:
    """Adds back every non-space character no morpheme covered."""
    covered = bytearray(len(text))
    for seg in segs:
        for i in range(seg.start, seg.end):
            covered[i] = 1
    gaps = []
    i, n = 0, len(text)
    while i < n:
        if covered[i] or text[i].isspace():
            i += 1
            continue
        j = i
        while j < n and not covered[j] and not text[j].isspace():
            j += 1
        gaps.append((i, j))
        i = j
    if not gaps:
        return segs

    by_end = {seg.end: seg for seg in segs}
    by_start = {seg.start: seg for seg in segs}
    new: List[_Seg] = []
    for gs, ge in gaps:
        for s, e, kind in _split_pieces(text[gs:ge], gs):
            piece = text[s:e]
            glue = kind == "hangul" or _is_modifier_only(piece)
            prev = by_end.get(s)
            nxt = by_start.get(e)
            if glue and prev is not None:
                del by_end[prev.end]
                prev.end = e
                by_end[e] = prev
            elif glue and nxt is not None:
                del by_start[nxt.start]
                nxt.start = s
                by_start[s] = nxt
            else:
                seg = _Seg(s, e, [backend.piece_tag(kind, piece, None)], [piece], False)
                new.append(seg)
                by_end[e] = seg
                by_start[s] = seg
    return sorted(segs + new, key=lambda sg: sg.start)


def analyze(text: Text, backend: _Backend) -> List[_Seg]:
    """Aligned, non-overlapping, whitespace-free segments covering all non-space chars."""
    if not text or text.isspace():
        return []
    segs = _resolve_overlaps(text, backend.analyze(text))
    segs = _split_whitespace(text, segs)
    segs = _refine(text, segs, backend)
    segs = _fill_gaps(text, segs, backend)
    for seg in segs:
        chunk = text[seg.start : seg.end]
        if _is_symbol_text(chunk):
            seg.kind = "symbol"
        elif _is_alnum_text(chunk):
            seg.kind = "alnum"
        else:
            seg.kind = backend.morph_class(seg.tag)
    return segs


def _group_compact(segs: List[_Seg], join_alphanumeric: bool) -> List[List[_Seg]]:
    """Groups the segments of each whitespace word into compact tokens."""
    groups: List[List[_Seg]] = []
    state: Optional[Text] = None  # kind of the open token
    prev_end = -1
    for seg in segs:
        if seg.start != prev_end:  # whitespace in between: new word
            state = None
        prev_end = seg.end
        k = seg.kind

        def new(new_state: Optional[Text]) -> None:
            nonlocal state
            groups.append([seg])
            state = new_state

        def attach(new_state: Optional[Text] = None) -> None:
            nonlocal state
            groups[-1].append(seg)
            if new_state:
                state = new_state

        if seg.fused and state not in (None, "symbol"):
            attach("verbal" if k in ("ending", "copula", "aux", "vsuffix") else None)
        elif k == "symbol":
            new("symbol")
        elif k == "alnum":
            if state == "prefix" or (state == "alnum" and join_alphanumeric):
                attach("alnum")
            else:
                new("alnum")
        elif k in ("noun", "verb"):
            target = "verbal" if k == "verb" else "nominal"
            if state == "prefix":
                attach(target)
            else:
                new(target)
        elif k == "prefix":
            if state == "prefix":
                attach()
            else:
                new("prefix")
        elif k == "particle":
            if state in ("verbal", "func"):
                attach()
            else:
                new("func")
        elif k == "ending":
            if state in ("verbal", "func"):
                attach()
            else:
                new("func")
        elif k == "copula":
            if state in ("verbal", "func"):
                attach("verbal")
            else:
                new("verbal")
        elif k in ("aux", "vsuffix"):
            if state in ("verbal", "func", "nominal", "alnum", "prefix"):
                attach("verbal")
            else:
                new("verbal")
        elif k == "nsuffix":
            if state in ("nominal", "alnum", "prefix"):
                attach("nominal")
            elif state in ("verbal", "func"):
                attach()
            else:
                new("nominal")
        else:  # pragma: no cover - every kind is handled above
            new("nominal")
    return groups


_CONTENT_KINDS = ("noun", "verb", "alnum")


def _make_token(text: Text, group: List[_Seg], backend: _Backend) -> Token:
    start, end = group[0].start, group[-1].end
    token_text = text[start:end]
    head = next((s for s in group if s.kind in _CONTENT_KINDS), group[0])
    lemma = None
    if head.kind not in ("alnum", "symbol"):
        lemma = backend.lemma(head)
    pos = backend.base_tag(head.tag)
    return Token(token_text, start, end, data={POS_TAG_KEY: pos}, lemma=lemma or token_text)


def tokenize_text(
    text: Text,
    backend: Text = "kiwi",
    mode: Text = "compact",
    join_alphanumeric: bool = True,
    user_words: Iterable[Text] = (),
) -> List[Token]:
    """Tokenises `text` without a Rasa message (also used by tests and tools)."""
    if mode not in MODES:
        raise ValueError(f"Unknown KoreanTokenizer mode '{mode}'. Choose one of {', '.join(MODES)}.")
    if not text or text.isspace():
        return []
    be = get_backend(backend, user_words)
    segs = analyze(text, be)
    if mode == "morpheme":
        groups = [[seg] for seg in segs]
    else:
        groups = _group_compact(segs, join_alphanumeric)
    return [_make_token(text, g, be) for g in groups]


# --------------------------------------------------------------------------------------
# Rasa component
# --------------------------------------------------------------------------------------


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class KoreanTokenizer(Tokenizer):
    """Korean morphological tokenizer (kiwipiepy by default; KoNLPy Okt/Komoran)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """Returns default config (see parent class for full docstring)."""
        return {
            # kiwi (kiwipiepy) | okt | komoran (KoNLPy, need Java)
            "backend": "kiwi",
            # compact: stems with their endings, nouns apart from their particles
            # morpheme: one token per morpheme
            "mode": "compact",
            # compact mode: keep contiguous Latin letters and digits together
            # (AB3D5FGH, iPhone15) although the analyser splits them
            "join_alphanumeric": True,
            # extra proper nouns for the analyser dictionary (kiwi, komoran)
            "user_words": [],
            # Flag to check whether to split intents
            "intent_tokenization_flag": False,
            # Symbol on which intent should be split
            "intent_split_symbol": "_",
            # Regular expression to detect tokens
            "token_pattern": None,
            # Symbol on which prefix should be split
            "prefix_separator_symbol": None,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Initialize the tokenizer."""
        config = {**self.get_default_config(), **config}
        super().__init__(config)
        self.backend_name = config["backend"]
        self.mode = config["mode"]
        if self.backend_name not in BACKENDS:
            raise ValueError(
                f"Unknown KoreanTokenizer backend '{self.backend_name}'. "
                f"Choose one of {', '.join(BACKENDS)}."
            )
        if self.mode not in MODES:
            raise ValueError(
                f"Unknown KoreanTokenizer mode '{self.mode}'. Choose one of {', '.join(MODES)}."
            )
        self.join_alphanumeric = bool(config.get("join_alphanumeric", True))
        self.user_words = tuple(config.get("user_words") or ())

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KoreanTokenizer:
        """Creates a new component (see parent class for full docstring)."""
        tokenizer = cls(config)
        if tokenizer.backend_name in ("okt", "komoran"):
            _ensure_java(tokenizer.backend_name)  # fail early with a clear message
        return tokenizer

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        """Not restricted: Korean text with Latin/digits is the point, any code works."""
        return None

    @staticmethod
    def required_packages() -> List[Text]:
        """Any extra python dependencies required for this component to run."""
        return ["kiwipiepy"]

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokenizes the text of the provided attribute of the incoming message."""
        text = message.get(attribute)
        if not isinstance(text, str):
            return []
        tokens = tokenize_text(
            text,
            backend=self.backend_name,
            mode=self.mode,
            join_alphanumeric=self.join_alphanumeric,
            user_words=self.user_words,
        )
        return self._apply_token_pattern(tokens)
