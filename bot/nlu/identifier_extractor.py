"""Deterministic extraction of the structured identifiers of the NLU contract.

The pure functions (``find_identifiers``, ``normalize_*``,
``looks_like_order_number_attempt``) take and return plain strings/dicts and are
meant to be reused by the dialogue code to validate form answers.
``IdentifierEntityExtractor`` wraps them as a Rasa 3.6 entity extractor; put it
after DIETClassifier and before EntitySynonymMapper::

    - name: DIETClassifier
    - name: bot.nlu.IdentifierEntityExtractor
    - name: EntitySynonymMapper

Entity types and normalised values:

=================== ============================================ =====================
type                accepted input                               value
=================== ============================================ =====================
order_number        16 digits, one run or groups split by        8181234567890123
                    spaces/hyphens (8181 2345 6789 0123)
listing_id          16 digits starting with 1005, alone or in    1005006123456789
                    an item URL (…/item/1005006123456789.html)
report_number       RPT-YYYY-NNNNNN, any case, separators        RPT-2026-000042
                    optional (rpt 2026 000042, RPT2026000042)
case_number         IPP-YYYY-NNNNNN, same tolerance              IPP-2026-000123
trademark_number    40-NNNNNNN or 40-YYYY-NNNNNNN, separators    40-1234567,
                    optional                                     40-2020-1234567
verification_code   8 chars of A-Z/2-9 without 0 1 O I, with at  K7QP3MXZ
                    least one letter and one digit, own word
brand               catalogue synonym (bot/knowledge/brands.yml)  canonical name
=================== ============================================ =====================
"""
from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.training_data.message import Message

logger = logging.getLogger(__name__)

EXTRACTOR_NAME = "IdentifierEntityExtractor"

ORDER_NUMBER = "order_number"
LISTING_ID = "listing_id"
REPORT_NUMBER = "report_number"
CASE_NUMBER = "case_number"
TRADEMARK_NUMBER = "trademark_number"
VERIFICATION_CODE = "verification_code"
BRAND = "brand"

# Types this extractor owns completely: predictions of other extractors with these
# types are always dropped. `brand` is shared with DIET (unknown brands).
STRICT_ENTITY_TYPES = (
    ORDER_NUMBER,
    LISTING_ID,
    REPORT_NUMBER,
    CASE_NUMBER,
    TRADEMARK_NUMBER,
    VERIFICATION_CODE,
)
ENTITY_TYPES = STRICT_ENTITY_TYPES + (BRAND,)

LISTING_PREFIX = "1005"
ORDER_NUMBER_DIGITS = 16

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_BRANDS_FILE = REPO_ROOT / "bot" / "knowledge" / "brands.yml"

# --------------------------------------------------------------------------------------
# Low-level patterns
# --------------------------------------------------------------------------------------

_HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
_DASHES = "\\-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d"
_HSPACE = " \t\u00a0\u3000"

# digit groups joined by a hyphen (optionally spaced) belong to one "chunk";
# chunks joined by 1-3 spaces belong to one "sequence"
_HYPHEN_SEP_RE = re.compile(f"[{_HSPACE}]{{0,2}}[{_DASHES}][{_HSPACE}]{{0,2}}")
_SPACE_SEP_RE = re.compile(f"[{_HSPACE}]{{1,3}}")
_DIGITS_RE = re.compile("[0-9]+")

_URL_RE = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"
    r"|(?<![A-Za-z0-9.@\-])(?:[A-Za-z0-9\-]+\.)+(?:com|net|org|kr|cn|io|co|shop|link)"
    r"(?::[0-9]+)?/[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\""

_RPT_RE = re.compile(
    f"(?<![A-Za-z0-9])(RPT|IPP)[{_HSPACE}{_DASHES}_]{{0,3}}([0-9]{{4}})"
    f"[{_HSPACE}{_DASHES}_]{{0,3}}([0-9]{{6}})(?![0-9])",
    re.IGNORECASE,
)
_CODE_CANDIDATE_RE = re.compile("(?<![A-Za-z0-9])[A-Za-z0-9]{8}(?![A-Za-z0-9])")
_CODE_ALPHABET = frozenset("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


class _Group(NamedTuple):
    start: int
    end: int
    digits: Text


class _Chunk(NamedTuple):
    groups: Tuple[_Group, ...]

    @property
    def start(self) -> int:
        return self.groups[0].start

    @property
    def end(self) -> int:
        return self.groups[-1].end

    @property
    def digits(self) -> Text:
        return "".join(g.digits for g in self.groups)


def _entity(entity_type: Text, start: int, end: int, value: Text, text: Text) -> Dict[Text, Any]:
    return {
        "entity": entity_type,
        "start": start,
        "end": end,
        "value": value,
        "text": text[start:end],
    }


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def _free(spans: Iterable[Tuple[int, int]], start: int, end: int) -> bool:
    return not any(_overlaps(start, end, s, e) for s, e in spans)


def find_urls(text: Text) -> List[Tuple[int, int]]:
    """(start, end) of URL-looking substrings (http(s)://…, www.…, domain.tld/path)."""
    spans = []
    for m in _URL_RE.finditer(text):
        start, end = m.start(), m.end()
        while end > start and text[end - 1] in _URL_TRAILING:
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def _digit_sequences(text: Text, blocked: Sequence[Tuple[int, int]]) -> List[List[_Chunk]]:
    """Digit groups outside `blocked` spans, grouped into chunks and sequences."""
    groups = [
        _Group(m.start(), m.end(), m.group())
        for m in _DIGITS_RE.finditer(text)
        if _free(blocked, m.start(), m.end())
    ]
    sequences: List[List[_Chunk]] = []
    chunk: List[_Group] = []
    seq: List[_Chunk] = []
    for g in groups:
        if chunk:
            between = text[chunk[-1].end : g.start]
            if _HYPHEN_SEP_RE.fullmatch(between):
                chunk.append(g)
                continue
            seq.append(_Chunk(tuple(chunk)))
            if not _SPACE_SEP_RE.fullmatch(between):
                sequences.append(seq)
                seq = []
        chunk = [g]
    if chunk:
        seq.append(_Chunk(tuple(chunk)))
        sequences.append(seq)
    return sequences


def _sixteen_windows(seq: List[_Chunk]) -> List[Tuple[int, int]]:
    """(first, last) chunk index of every run of whole chunks with exactly 16 digits.

    Windows of several chunks need every chunk to have 3+ digits, so a stray
    "1" typed after a 15-digit number does not complete it.
    """
    windows = []
    for i in range(len(seq)):
        total = 0
        for j in range(i, len(seq)):
            total += len(seq[j].digits)
            if total > ORDER_NUMBER_DIGITS:
                break
            if total == ORDER_NUMBER_DIGITS:
                if j == i or all(len(c.digits) >= 3 for c in seq[i : j + 1]):
                    windows.append((i, j))
                break
    return windows


def _trademark_value(seq: List[_Chunk], i: int, j: int) -> Optional[Text]:
    groups = [g for c in seq[i : j + 1] for g in c.groups]
    digits = "".join(g.digits for g in groups)
    if not digits.startswith("40"):
        return None
    # positions where the user split the number must be the format's own splits
    cuts, pos = set(), 0
    for g in groups[:-1]:
        pos += len(g.digits)
        cuts.add(pos)
    if len(digits) == 9 and cuts <= {2}:
        return f"40-{digits[2:]}"
    if len(digits) == 13 and cuts <= {2, 6}:
        return f"40-{digits[2:6]}-{digits[6:]}"
    return None


class _NumberScan(NamedTuple):
    entities: List[Dict[Text, Any]]
    # digit counts of sequences that look like a failed 16-digit attempt
    attempts: List[int]


def _scan_numbers(text: Text, blocked: Sequence[Tuple[int, int]]) -> _NumberScan:
    entities: List[Dict[Text, Any]] = []
    attempts: List[int] = []
    for seq in _digit_sequences(text, blocked):
        windows = _sixteen_windows(seq)
        used: Set[int] = set()
        accepted = []
        for w in windows:
            clash = any(
                o is not w and not (o[1] < w[0] or w[1] < o[0]) for o in windows
            )
            used.update(range(w[0], w[1] + 1))  # ambiguous ones are not trademark material
            if not clash:
                accepted.append(w)
        for i, j in accepted:
            digits = "".join(c.digits for c in seq[i : j + 1])
            kind = LISTING_ID if digits.startswith(LISTING_PREFIX) else ORDER_NUMBER
            entities.append(_entity(kind, seq[i].start, seq[j].end, digits, text))

        # trademark numbers: longest first, only from chunks no 16-digit run uses
        taken: Set[int] = set(used)
        candidates = []
        for i in range(len(seq)):
            for j in range(i, min(len(seq), i + 3)):
                if any(k in taken for k in range(i, j + 1)):
                    break
                value = _trademark_value(seq, i, j)
                if value:
                    candidates.append((j - i, len(value), i, j, value))
        for _, _, i, j, value in sorted(candidates, key=lambda c: (-c[1], -c[0], c[2])):
            if any(k in taken for k in range(i, j + 1)):
                continue
            taken.update(range(i, j + 1))
            entities.append(_entity(TRADEMARK_NUMBER, seq[i].start, seq[j].end, value, text))

        if not accepted:
            # what the user typed as one number, minus any trademark number in it
            rest = [c for k, c in enumerate(seq) if k not in taken or k in used]
            total = sum(len(c.digits) for c in rest)
            if 12 <= total <= 20 and (total != ORDER_NUMBER_DIGITS or windows):
                attempts.append(total)
            else:
                attempts.extend(
                    len(c.digits)
                    for c in rest
                    if 12 <= len(c.digits) <= 20 and len(c.digits) != ORDER_NUMBER_DIGITS
                )
    return _NumberScan(entities, attempts)


def _scan_urls(text: Text, urls: Sequence[Tuple[int, int]]) -> List[Dict[Text, Any]]:
    entities = []
    for start, end in urls:
        url = text[start:end]
        for m in re.finditer("(?<![0-9])[0-9]{16}(?![0-9])", url):
            digits = m.group()
            if digits.startswith(LISTING_PREFIX):
                kind = LISTING_ID
            elif re.search("order", url, re.IGNORECASE):
                kind = ORDER_NUMBER
            else:
                continue
            entities.append(_entity(kind, start + m.start(), start + m.end(), digits, text))
    return entities


def _scan_report_numbers(text: Text) -> List[Dict[Text, Any]]:
    entities = []
    for m in _RPT_RE.finditer(text):
        prefix = m.group(1).upper()
        kind = REPORT_NUMBER if prefix == "RPT" else CASE_NUMBER
        value = f"{prefix}-{m.group(2)}-{m.group(3)}"
        entities.append(_entity(kind, m.start(), m.end(), value, text))
    return entities


def is_verification_code(candidate: Text) -> bool:
    """8 chars of A-Z/2-9 (no 0, 1, O, I), at least one letter and one digit."""
    code = candidate.upper()
    return (
        len(code) == 8
        and all(ch in _CODE_ALPHABET for ch in code)
        and any(ch.isdigit() for ch in code)
        and any(ch.isalpha() for ch in code)
    )


def _scan_codes(text: Text, blocked: Sequence[Tuple[int, int]]) -> List[Dict[Text, Any]]:
    entities = []
    for m in _CODE_CANDIDATE_RE.finditer(text):
        if is_verification_code(m.group()) and _free(blocked, m.start(), m.end()):
            entities.append(_entity(VERIFICATION_CODE, m.start(), m.end(), m.group().upper(), text))
    return entities


# --------------------------------------------------------------------------------------
# Brands
# --------------------------------------------------------------------------------------

# What may directly follow a two-syllable Korean brand name (particles, copula,
# "꺼/거/것", common product nouns); anything else means it is part of another
# word (구치소, 삼성역).
_BRAND_SUFFIXES = (
    # particles and copula forms
    "은 는 이 인 임 입 가 을 를 의 에 께 도 만 요 랑 하 와 과 로 으 나 라 야 여 예 였 "
    # "thing", product and shop words
    "꺼 거 것 껀 건 제품 정품 가품 짝퉁 짭 상품 신발 운동화 지갑 옷 백 패딩 향수 시계 "
    "화장품 폰 매장 공홈 공식 직구 브랜드 모자 티셔츠 "
    # predicates that often follow directly
    "맞 같 처럼 말고"
).split()


class BrandCatalogue:
    """Catalogue brands and the compiled synonym patterns (longest first)."""

    def __init__(self, brands: Sequence[Dict[Text, Any]]) -> None:
        self.brands = [dict(b) for b in brands]
        entries: Dict[Text, Tuple[Text, Text]] = {}
        for brand in self.brands:
            name = str(brand.get("name", "")).strip()
            if not name:
                continue
            for syn in [name] + [str(s) for s in brand.get("synonyms") or []]:
                syn = " ".join(syn.split())
                if syn and syn.lower() not in entries:
                    entries[syn.lower()] = (syn, name)
        self.patterns: List[Tuple[re.Pattern, Text, int]] = []
        for syn, name in entries.values():
            self.patterns.append((self._compile(syn), name, len(syn.replace(" ", ""))))
        self.patterns.sort(key=lambda p: -p[2])

    @staticmethod
    def _compile(synonym: Text) -> re.Pattern:
        body = r"\s*".join(re.escape(part) for part in synonym.split(" "))
        first, last = synonym[0], synonym[-1]
        hangul = re.compile(f"[{_HANGUL}]")
        compact_len = len(synonym.replace(" ", ""))
        if hangul.match(first):
            left = f"(?<![{_HANGUL}])" if compact_len <= 2 else ""
        elif first.isalnum():
            left = "(?<![A-Za-z0-9])"
        else:
            left = ""
        if hangul.match(last):
            if compact_len <= 2:
                suffixes = "|".join(re.escape(s) for s in sorted(set(_BRAND_SUFFIXES), key=len, reverse=True))
                right = f"(?![{_HANGUL}])|(?=(?:{suffixes}))"
                right = f"(?:{right})"
            else:
                right = ""
        elif last.isalnum():
            right = "(?![A-Za-z0-9])"
        else:
            right = ""
        return re.compile(f"{left}{body}{right}", re.IGNORECASE)

    @classmethod
    def from_file(cls, path: os.PathLike | Text) -> "BrandCatalogue":
        import yaml

        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        brands = data.get("brands", data) if isinstance(data, dict) else data
        return cls(brands or [])

    def find(self, text: Text, blocked: Sequence[Tuple[int, int]] = ()) -> List[Dict[Text, Any]]:
        """Non-overlapping catalogue matches, longest synonym first."""
        taken: List[Tuple[int, int]] = list(blocked)
        found = []
        candidates = []
        for pattern, name, length in self.patterns:
            for m in pattern.finditer(text):
                if m.end() > m.start():
                    candidates.append((-(m.end() - m.start()), m.start(), m.end(), name))
        for _, start, end, name in sorted(candidates):
            if _free(taken, start, end):
                taken.append((start, end))
                found.append(_entity(BRAND, start, end, name, text))
        return sorted(found, key=lambda e: e["start"])


_CATALOGUE_CACHE: Dict[Tuple[Text, float], BrandCatalogue] = {}
_CATALOGUE_LOCK = threading.Lock()


def resolve_brands_file(path: Optional[Text]) -> Path:
    """`None` -> bot/knowledge/brands.yml; relative paths are relative to the repo root."""
    if not path:
        return DEFAULT_BRANDS_FILE
    p = Path(path)
    return p if p.is_absolute() else REPO_ROOT / p


def load_brand_catalogue(path: Optional[Text] = None) -> BrandCatalogue:
    """Loads (and caches until the file changes) the brand catalogue."""
    resolved = resolve_brands_file(path)
    key = (str(resolved), resolved.stat().st_mtime)
    with _CATALOGUE_LOCK:
        catalogue = _CATALOGUE_CACHE.get(key)
        if catalogue is None:
            catalogue = BrandCatalogue.from_file(resolved)
            _CATALOGUE_CACHE[key] = catalogue
    return catalogue


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def find_identifiers(
    text: Optional[Text],
    brands: Optional[BrandCatalogue] = None,
    include_brands: bool = True,
) -> List[Dict[Text, Any]]:
    """All identifiers in `text` as entity dicts, sorted by start.

    Each dict has ``entity``, ``start``, ``end`` (offsets in `text`), ``value``
    (normalised) and ``text`` (the matched substring). Spans never overlap.
    `brands` defaults to the catalogue in bot/knowledge/brands.yml.
    """
    return _analyse(text, brands, include_brands)[0]


def _analyse(
    text: Optional[Text], brands: Optional[BrandCatalogue], include_brands: bool
) -> Tuple[List[Dict[Text, Any]], List[int]]:
    if not text:
        return [], []
    original, text = text, text.translate(_HALF_WIDTH)
    entities, attempts = _scan_all(text, brands, include_brands)
    for entity in entities:  # one character for one: the offsets hold in the original text
        entity["text"] = original[entity["start"]:entity["end"]]
    return entities, attempts


# Full-width forms (what a Korean IME gives in full-width mode: ８１８１－…, ＲＰＴ) read as their ASCII
# letters and digits; the translation keeps every offset.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _scan_all(
    text: Text, brands: Optional[BrandCatalogue], include_brands: bool
) -> Tuple[List[Dict[Text, Any]], List[int]]:
    urls = find_urls(text)
    entities = _scan_report_numbers(text)
    entities += [
        e for e in _scan_urls(text, urls) if _free(_spans(entities), e["start"], e["end"])
    ]
    blocked = _spans(entities) + urls
    scan = _scan_numbers(text, blocked)
    entities += scan.entities
    blocked = _spans(entities) + urls
    entities += _scan_codes(text, blocked)
    if include_brands:
        catalogue = brands if brands is not None else load_brand_catalogue()
        entities += catalogue.find(text, _spans(entities) + urls)
    return sorted(entities, key=lambda e: e["start"]), scan.attempts


def _spans(entities: Iterable[Dict[Text, Any]]) -> List[Tuple[int, int]]:
    return [(e["start"], e["end"]) for e in entities]


def _first_value(text: Optional[Text], entity_type: Text) -> Optional[Text]:
    include_brands = entity_type == BRAND
    for e in find_identifiers(text, include_brands=include_brands):
        if e["entity"] == entity_type:
            return e["value"]
    return None


def normalize_order_number(text: Optional[Text]) -> Optional[Text]:
    """The first order number in `text` as 16 digits (listing ids do not count)."""
    return _first_value(text, ORDER_NUMBER)


def normalize_listing_id(text: Optional[Text]) -> Optional[Text]:
    """The first listing id (16 digits starting 1005, also inside item URLs)."""
    return _first_value(text, LISTING_ID)


def normalize_report_number(text: Optional[Text]) -> Optional[Text]:
    """The first report number as ``RPT-YYYY-NNNNNN``."""
    return _first_value(text, REPORT_NUMBER)


def normalize_case_number(text: Optional[Text]) -> Optional[Text]:
    """The first IP-protection case number as ``IPP-YYYY-NNNNNN``."""
    return _first_value(text, CASE_NUMBER)


def normalize_trademark_number(text: Optional[Text]) -> Optional[Text]:
    """The first trademark number as ``40-NNNNNNN`` or ``40-YYYY-NNNNNNN``."""
    return _first_value(text, TRADEMARK_NUMBER)


def normalize_verification_code(text: Optional[Text]) -> Optional[Text]:
    """The first verification code, upper-cased."""
    return _first_value(text, VERIFICATION_CODE)


def normalize_brand(text: Optional[Text], brands: Optional[BrandCatalogue] = None) -> Optional[Text]:
    """Canonical name of the first catalogue brand mentioned in `text`."""
    for e in find_identifiers(text, brands=brands):
        if e["entity"] == BRAND:
            return e["value"]
    return None


def order_number_attempt_digits(text: Optional[Text]) -> Optional[int]:
    """Digit count of a 12-20 digit number in `text` that is not a valid order number.

    Returns ``None`` when the text holds a valid order number or listing id, or no
    such digit run. Digits may be grouped with spaces/hyphens like order numbers;
    a 16-digit run that cannot be read unambiguously (e.g. five 4-digit groups)
    counts as an attempt too.
    """
    entities, attempts = _analyse(text, None, include_brands=False)
    if any(e["entity"] in (ORDER_NUMBER, LISTING_ID) for e in entities):
        return None
    return attempts[0] if attempts else None


def looks_like_order_number_attempt(text: Optional[Text]) -> bool:
    """True if `text` has a 12-20 digit number that is not a valid 16-digit order number.

    Lets the bot answer "주문번호는 16자리예요" instead of "I did not understand".
    """
    return order_number_attempt_digits(text) is not None


# --------------------------------------------------------------------------------------
# Rasa component
# --------------------------------------------------------------------------------------


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class IdentifierEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds identifier entities found by pattern; replaces other extractors' guesses."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        """The component's default config (see parent class for full docstring)."""
        return {
            # brand catalogue (YAML with `brands: [{name, synonyms}]`); relative
            # paths are resolved against the repository root
            "brands_file": None,
            # match catalogue brands (DIET still supplies unknown brands)
            "extract_brands": True,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        """Creates the extractor and loads the brand catalogue."""
        self._config = {**self.get_default_config(), **config}
        self.extract_brands = bool(self._config["extract_brands"])
        self.brands: Optional[BrandCatalogue] = None
        if self.extract_brands:
            self.brands = load_brand_catalogue(self._config["brands_file"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IdentifierEntityExtractor:
        """Creates a new component (see parent class for full docstring)."""
        return cls(config)

    @property
    def name(self) -> Text:
        """Name written to the entities' `extractor` field."""
        return EXTRACTOR_NAME

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds identifier entities and drops conflicting entities of other extractors."""
        for message in messages:
            text = message.get("text")
            if not isinstance(text, str):
                continue
            found = find_identifiers(text, self.brands, include_brands=self.extract_brands)
            for entity in found:
                entity.pop("text", None)
                entity["confidence_entity"] = 1.0
                entity["extractor"] = self.name
            spans = _spans(found)
            kept = []
            for entity in message.get("entities", []) or []:
                if entity.get("extractor") != self.name:
                    if entity.get("entity") in STRICT_ENTITY_TYPES:
                        continue
                    start, end = entity.get("start"), entity.get("end")
                    if (
                        isinstance(start, int)
                        and isinstance(end, int)
                        and not _free(spans, start, end)
                    ):
                        continue
                kept.append(entity)
            entities = sorted(kept + found, key=lambda e: (e.get("start") or 0, e.get("end") or 0))
            message.set("entities", entities, add_to_output=True)
        return messages
