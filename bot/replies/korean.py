"""Korean text helpers used by every reply: particles (조사), money and dates.

``josa(word, pair)`` picks the particle by the *sound* the word ends in:

* Hangul: the final consonant (받침) of the last syllable; a ㄹ 받침 takes 로
  (서울로), any other 받침 takes 으로 (부산으로).
* Digits are read in Korean: the last digit for 1-9 (1 일·7 칠·8 팔 → ㄹ,
  3 삼 → ㅁ, 6 육 → ㄱ, 0 영 → ㅇ, 2/4/5/9 → vowel), or the unit for round
  numbers (10 십, 100 백, 1,000 천, 10,000 만, 1억, 1조 …).  Decimals and
  numbers written with a leading zero (phone/order numbers) are read digit by
  digit.  ``%`` is read 퍼센트 (vowel).
* Latin words are read the way Koreans usually say them, by a heuristic on the
  last letters (documented in ``_latin_final``):

  ======================  ==========  ===============================
  ending                  final       examples
  ======================  ==========  ===============================
  l, "le"                 ㄹ          Chanel(샤넬), Apple(애플), Google
  m, n, "me", "ne", ng    consonant   Dyson(다이슨), iPhone(아이폰), Samsung
  k/p/t/b/c after vowel   consonant   Reebok(리복), MacBook(맥북), Airwrap, Magic
  "ck"                    consonant   Black(블랙)
  k/p/t/b/c after cons.   vowel       Mask(마스크), Smart(스마트), Pink(핑크)
  vowel + vowel + t       vowel       Street(스트리트), Boat(보트)
  other e                 vowel       Nike(나이키), Lacoste(라코스테)
  a i o u y, r, s, x, …   vowel       Gucci, Moncler, Adidas(아디다스), Rolex
  ======================  ==========  ===============================

  All-caps words of at most 3 letters, or with no vowel letter, are read as
  letter names (LV 엘브이 → vowel, IBM 아이비엠 → ㅁ, L/R → ㄹ, M/N → consonant).
  A few brands whose reading breaks the rules are listed in ``_LATIN_EXCEPTIONS``.
* A trailing parenthetical is ignored, as in Korean style guides
  ("나이키(Nike)가"); trailing quotes, punctuation and emoji are skipped.
* When the sound cannot be decided (e.g. only symbols or a foreign script) the
  neutral written form is used: 이(가), 은(는), 을(를), 과(와), (으)로, (이)에요, (이)라.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.settings import get_settings

# Final-sound categories.
VOWEL = "vowel"
RIEUL = "rieul"  # ㄹ: a consonant, but takes 로 like a vowel
CONSONANT = "consonant"

# pair -> (after a consonant, after a vowel, neutral fallback)
_PAIRS: dict[str, tuple[str, str, str]] = {
    "은/는": ("은", "는", "은(는)"),
    "이/가": ("이", "가", "이(가)"),
    "을/를": ("을", "를", "을(를)"),
    "과/와": ("과", "와", "과(와)"),
    "으로/로": ("으로", "로", "(으)로"),
    "이에요/예요": ("이에요", "예요", "(이)에요"),
    "이라/라": ("이라", "라", "(이)라"),
    "아/야": ("아", "야", "아(야)"),
    "이나/나": ("이나", "나", "(이)나"),
    "이랑/랑": ("이랑", "랑", "(이)랑"),
}
# Accept the halves in either order: "는/은" works like "은/는".
for _key, _value in list(_PAIRS.items()):
    _a, _b = _key.split("/")
    _PAIRS.setdefault(f"{_b}/{_a}", _value)

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_JONG_RIEUL = 8

# Hangul compatibility jamo read by their names: ㄱ 기역, ㄹ 리을, ㅏ 아 …
_JAMO_CONSONANTS = set("ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ")
_JAMO_VOWELS = set("ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ")

# Final sound of each digit read in Sino-Korean: 영 일 이 삼 사 오 육 칠 팔 구.
_DIGIT_FINAL = {
    "0": CONSONANT, "1": RIEUL, "2": VOWEL, "3": CONSONANT, "4": VOWEL,
    "5": VOWEL, "6": CONSONANT, "7": RIEUL, "8": RIEUL, "9": VOWEL,
}


def _unit_final(trailing_zeros: int) -> str | None:
    """Final sound of a round number by its last unit: 십 백 천 만 억 조 경."""
    if trailing_zeros == 1:
        return CONSONANT  # 십
    if trailing_zeros == 2:
        return CONSONANT  # 백
    if trailing_zeros == 3:
        return CONSONANT  # 천
    if 4 <= trailing_zeros <= 7:
        return CONSONANT  # 만, 십만, 백만, 천만
    if 8 <= trailing_zeros <= 11:
        return CONSONANT  # 억
    if 12 <= trailing_zeros <= 15:
        return VOWEL  # 조
    if 16 <= trailing_zeros <= 19:
        return CONSONANT  # 경
    return None


# Letter names as read in Korean; only L 엘 / R 알 (ㄹ) and M 엠 / N 엔 end in a consonant.
_LETTER_NAME_FINAL = {"L": RIEUL, "R": RIEUL, "M": CONSONANT, "N": CONSONANT}

# Whole Latin words whose usual Korean reading breaks the heuristic.
_LATIN_EXCEPTIONS = {
    "dior": RIEUL,  # 디올
    "montblanc": CONSONANT,  # 몽블랑
}

_LATIN_VOWELS = set("aeiou")
_TRAILING_NUMBER = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?$")
_TRAILING_LATIN = re.compile(r"[A-Za-z]+$")
# Units after a number are read as words: 90ml 밀리리터는, 500g 그램은, 30cm 센티미터는.
_UNIT_FINAL = {
    "ml": VOWEL, "l": VOWEL, "mm": VOWEL, "cm": VOWEL, "m": VOWEL, "km": VOWEL, "oz": VOWEL, "w": VOWEL,
    "mah": VOWEL, "gb": VOWEL, "tb": VOWEL, "mb": VOWEL, "g": CONSONANT, "kg": CONSONANT, "mg": CONSONANT,
}
_TRAILING_UNIT = re.compile(r"[0-9]\s?(" + "|".join(sorted(_UNIT_FINAL, key=len, reverse=True)) + r")$", re.I)


def _latin_final(word: str) -> str:
    """Heuristic final sound of a Latin-letter word (see the module docstring)."""
    lower = word.lower()
    if lower in _LATIN_EXCEPTIONS:
        return _LATIN_EXCEPTIONS[lower]
    if word.isupper() and (len(word) <= 3 or not set(lower) & _LATIN_VOWELS):
        return _LETTER_NAME_FINAL.get(word[-1], VOWEL)  # acronym: LV, BMW, IBM, SK
    last = lower[-1]
    prev = lower[-2] if len(lower) > 1 else ""
    before = lower[-3] if len(lower) > 2 else ""
    if last == "l":
        return RIEUL
    if last in "mn":
        return CONSONANT
    if last == "g":
        return CONSONANT if prev == "n" else VOWEL
    if last == "e":
        if prev == "l":
            return RIEUL  # Apple 애플, Google 구글, Style 스타일
        if prev in ("m", "n"):
            return CONSONANT  # Home 홈, Phone 폰
        return VOWEL
    if last in "kptbc":
        if last == "k" and prev == "c":
            return CONSONANT  # Black 블랙
        if prev in _LATIN_VOWELS:
            if last == "t" and before in _LATIN_VOWELS:
                return VOWEL  # Street 스트리트, Boat 보트
            return CONSONANT  # Reebok 리복, Robot 로봇, Club 클럽, Magic 매직
        return VOWEL  # Mask 마스크, Smart 스마트, Light 라이트
    return VOWEL  # vowels, y, r, s, x, d, f, h, j, q, v, w, z


def _strip_for_sound(word: str) -> str:
    text = word.strip()
    # A trailing parenthetical does not count: 나이키(Nike)가.
    while text.endswith(")") and "(" in text:
        head = text[: text.rfind("(")].rstrip()
        if not head:
            break
        text = head
    # Skip closing quotes, punctuation and emoji.
    end = len(text)
    while end and not (text[end - 1].isalnum() or text[end - 1] == "%"):
        end -= 1
    return text[:end]


def final_sound(word: str) -> str | None:
    """``"vowel"``, ``"rieul"`` (ㄹ 받침), ``"consonant"``, or ``None`` when it cannot be told."""
    text = _strip_for_sound(word)
    if not text:
        return None
    last = text[-1]
    code = ord(last)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        jong = (code - _HANGUL_FIRST) % 28
        if jong == 0:
            return VOWEL
        return RIEUL if jong == _JONG_RIEUL else CONSONANT
    if last in _JAMO_CONSONANTS:
        return RIEUL if last == "ㄹ" else CONSONANT  # 리을 / 기역, 니은, …
    if last in _JAMO_VOWELS:
        return VOWEL
    if last == "%":
        return VOWEL  # 퍼센트
    if "0" <= last <= "9":
        number = _TRAILING_NUMBER.search(text).group(0)
        digits = number.replace(",", "")
        if "." in digits or (len(digits) > 1 and digits[0] == "0"):
            return _DIGIT_FINAL[digits[-1]]  # read digit by digit
        stripped = digits.rstrip("0")
        if not stripped:
            return CONSONANT  # 영
        zeros = len(digits) - len(stripped)
        return _DIGIT_FINAL[digits[-1]] if zeros == 0 else _unit_final(zeros)
    unit = _TRAILING_UNIT.search(text)
    if unit:
        return _UNIT_FINAL[unit.group(1).lower()]
    latin = _TRAILING_LATIN.search(text)
    if latin:
        return _latin_final(latin.group(0))
    return None


def has_batchim(word: str) -> bool | None:
    """True if the word ends in a consonant sound (incl. ㄹ), False for a vowel, None if unknown."""
    sound = final_sound(word)
    return None if sound is None else sound != VOWEL


def josa(word: str, pair: str) -> str:
    """``word`` followed by the right particle of ``pair``.

    Pairs: "은/는", "이/가", "을/를", "과/와", "으로/로", "이에요/예요", "이라/라",
    and also "아/야", "이나/나", "이랑/랑" (either order).  Trailing whitespace of
    ``word`` is dropped.

    >>> josa("나이키", "이/가"), josa("서울", "으로/로"), josa("3개월", "이에요/예요")
    ('나이키가', '서울로', '3개월이에요')
    """
    try:
        after_consonant, after_vowel, neutral = _PAIRS[pair.replace(" ", "")]
    except KeyError:
        raise ValueError(f"unsupported particle pair {pair!r}") from None
    word = word.rstrip()
    sound = final_sound(word)
    if sound is None:
        return word + neutral
    if sound == VOWEL:
        return word + after_vowel
    if sound == RIEUL and after_consonant == "으로":
        return word + after_vowel  # ㄹ 받침 + 로: 서울로
    return word + after_consonant


# --------------------------------------------------------------------------- money and dates


def won(amount: int) -> str:
    """``129000`` → ``"129,000원"`` (negative amounts keep their sign)."""
    if isinstance(amount, bool):
        raise TypeError("won() needs a number of won, not a bool")
    if not isinstance(amount, int):
        if float(amount) != int(amount):
            raise ValueError(f"won() needs a whole number of won, got {amount!r}")
        amount = int(amount)
    return f"{amount:,}원"


def _local(dt: datetime) -> datetime:
    """Aware datetimes are shown in the bot's time zone (Asia/Seoul); naive ones as given."""
    if dt.tzinfo is not None and dt.utcoffset() is not None:
        return dt.astimezone(ZoneInfo(get_settings().timezone))
    return dt


def korean_date(d: date | datetime) -> str:
    """``date(2026, 11, 28)`` → ``"2026년 11월 28일"``."""
    if isinstance(d, datetime):
        d = _local(d)
    return f"{d.year}년 {d.month}월 {d.day}일"


WEEKDAYS_KO = "월화수목금토일"


def day_ko(d: date | datetime, today: date | None = None) -> str:
    """The date as Korean apps write it: ``"12월 7일(월)"``; with the year when it is not this year's
    (``"2025년 12월 7일(일)"``). Aware datetimes are shown in the bot's time zone."""
    if isinstance(d, datetime):
        d = _local(d).date()
    if today is None:
        today = datetime.now(ZoneInfo(get_settings().timezone)).date()
    year = f"{d.year}년 " if d.year != today.year else ""
    return f"{year}{d.month}월 {d.day}일({WEEKDAYS_KO[d.weekday()]})"


def korean_datetime(dt: datetime | date) -> str:
    """``datetime(2026, 11, 28, 15, 5)`` → ``"2026년 11월 28일 오후 3시 5분"``.

    12-hour clock with 오전/오후 (00:30 → 오전 12시 30분, 12:00 → 오후 12시);
    ``0분`` is left out.  A plain date is formatted like :func:`korean_date`.
    """
    if not isinstance(dt, datetime):
        return korean_date(dt)
    dt = _local(dt)
    half = "오전" if dt.hour < 12 else "오후"
    hour12 = dt.hour % 12 or 12
    text = f"{korean_date(dt)} {half} {hour12}시"
    if dt.minute:
        text += f" {dt.minute}분"
    return text


__all__ = [
    "day_ko",
    "final_sound",
    "has_batchim",
    "josa",
    "korean_date",
    "korean_datetime",
    "won",
]
