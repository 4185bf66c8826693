"""bot.replies.korean: particles (조사), won amounts and Korean dates."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from bot.replies.korean import final_sound, has_batchim, josa, korean_date, korean_datetime, won


@pytest.mark.parametrize(
    "word, pair, expected",
    [
        # Hangul: 받침 or not
        ("나이키", "이/가", "나이키가"),
        ("샤넬", "이/가", "샤넬이"),
        ("루이비통", "을/를", "루이비통을"),
        ("구찌", "을/를", "구찌를"),
        ("설화수", "은/는", "설화수는"),
        ("다이슨", "은/는", "다이슨은"),
        ("젠틀몬스터", "과/와", "젠틀몬스터와"),
        ("몽클레르", "과/와", "몽클레르와"),
        ("가방", "과/와", "가방과"),
        # 으로/로: ㄹ 받침 takes 로
        ("서울", "으로/로", "서울로"),
        ("부산", "으로/로", "부산으로"),
        ("삼성", "으로/로", "삼성으로"),
        ("대구", "으로/로", "대구로"),
        ("교환", "으로/로", "교환으로"),
        ("메일", "으로/로", "메일로"),
        # 이에요/예요, 이라/라
        ("3개월", "이에요/예요", "3개월이에요"),
        ("나이키", "이에요/예요", "나이키예요"),
        ("정품", "이에요/예요", "정품이에요"),
        ("가품", "이라/라", "가품이라"),
        ("나이키", "이라/라", "나이키라"),
        # extra pairs, either order
        ("민수", "아/야", "민수야"),
        ("지민", "아/야", "지민아"),
        ("환불", "이나/나", "환불이나"),
        ("교환", "이랑/랑", "교환이랑"),
        ("나이키", "는/은", "나이키는"),
        ("샤넬", "가/이", "샤넬이"),
        ("부산", "로/으로", "부산으로"),
    ],
)
def test_hangul(word: str, pair: str, expected: str) -> None:
    assert josa(word, pair) == expected


@pytest.mark.parametrize(
    "word, pair, expected",
    [
        ("1", "으로/로", "1로"),  # 일
        ("2", "이/가", "2가"),  # 이
        ("3", "으로/로", "3으로"),  # 삼
        ("4", "은/는", "4는"),  # 사
        ("6", "은/는", "6은"),  # 육
        ("7", "으로/로", "7로"),  # 칠
        ("8", "을/를", "8을"),  # 팔
        ("9", "이/가", "9가"),  # 구
        ("0", "이/가", "0이"),  # 영
        ("10", "을/를", "10을"),  # 십
        ("20", "으로/로", "20으로"),  # 이십
        ("100", "이/가", "100이"),  # 백
        ("1000", "은/는", "1000은"),  # 천
        ("1,000", "은/는", "1,000은"),  # 천
        ("50000", "이/가", "50000이"),  # 오만
        ("1500000", "이/가", "1500000이"),  # 백오십만
        ("300000000", "이/가", "300000000이"),  # 삼억
        ("2000000000000", "이/가", "2000000000000가"),  # 이조
        ("12", "이/가", "12가"),  # 십이
        ("15", "이에요/예요", "15예요"),  # 십오
        ("3.5", "이/가", "3.5가"),  # 삼점오
        ("2.0", "이/가", "2.0이"),  # 이점영
        ("010-1234-5678", "으로/로", "010-1234-5678로"),  # …팔
        ("0042", "이/가", "0042가"),  # 공공사이
        ("50%", "이/가", "50%가"),  # 오십퍼센트
        ("129,000원", "이/가", "129,000원이"),
        ("갤럭시 S24", "이/가", "갤럭시 S24가"),
        ("아이폰 15", "으로/로", "아이폰 15로"),
        ("2026년", "이에요/예요", "2026년이에요"),
    ],
)
def test_numbers_read_in_korean(word: str, pair: str, expected: str) -> None:
    assert josa(word, pair) == expected


@pytest.mark.parametrize(
    "word, pair, expected",
    [
        ("Nike", "이/가", "Nike가"),  # 나이키
        ("NIKE", "이/가", "NIKE가"),
        ("Chanel", "이/가", "Chanel이"),  # 샤넬
        ("Chanel", "으로/로", "Chanel로"),
        ("Louis Vuitton", "을/를", "Louis Vuitton을"),  # 루이비통
        ("Gucci", "와/과", "Gucci와"),  # 구찌
        ("Gentle Monster", "은/는", "Gentle Monster는"),  # 젠틀몬스터
        ("Sulwhasoo", "이/가", "Sulwhasoo가"),  # 설화수
        ("Samsung", "으로/로", "Samsung으로"),  # 삼성
        ("Dyson", "은/는", "Dyson은"),  # 다이슨
        ("Moncler", "이/가", "Moncler가"),  # 몽클레르
        ("Adidas", "를/을", "Adidas를"),  # 아디다스
        ("Apple", "으로/로", "Apple로"),  # 애플
        ("Google", "이/가", "Google이"),  # 구글
        ("iPhone", "이/가", "iPhone이"),  # 아이폰
        ("iPad", "이/가", "iPad가"),  # 아이패드
        ("MacBook", "이/가", "MacBook이"),  # 맥북
        ("Supreme", "은/는", "Supreme은"),  # 슈프림
        ("Black", "이/가", "Black이"),  # 블랙
        ("Mask", "이/가", "Mask가"),  # 마스크
        ("Smart", "이/가", "Smart가"),  # 스마트
        ("Street", "이/가", "Street가"),  # 스트리트
        ("Robot", "이/가", "Robot이"),  # 로봇
        ("Magic", "이/가", "Magic이"),  # 매직
        ("Rolex", "이/가", "Rolex가"),  # 롤렉스
        ("Dior", "으로/로", "Dior로"),  # 디올 (exception table)
        ("Dior", "이/가", "Dior이"),
        ("LV", "이/가", "LV가"),  # 엘브이
        ("BMW", "이/가", "BMW가"),  # 비엠더블유
        ("IBM", "이/가", "IBM이"),  # 아이비엠
        ("LG", "와/과", "LG와"),  # 엘지
        ("URL", "으로/로", "URL로"),  # 유알엘
    ],
)
def test_latin_words_by_korean_reading(word: str, pair: str, expected: str) -> None:
    assert josa(word, pair) == expected


@pytest.mark.parametrize(
    "word, pair, expected",
    [
        ("나이키(Nike)", "이/가", "나이키(Nike)가"),  # the parenthetical does not count
        ("샤넬(CHANEL)", "을/를", "샤넬(CHANEL)을"),
        ("“샤넬”", "은/는", "“샤넬”은"),
        ("'나이키'", "이/가", "'나이키'가"),
        ("나이키 ", "이/가", "나이키가"),  # trailing space dropped
        ("나이키👟", "이/가", "나이키👟가"),
        ("ㄱ", "이/가", "ㄱ이"),  # 기역
        ("ㄹ", "으로/로", "ㄹ로"),  # 리을
    ],
)
def test_punctuation_and_brackets(word: str, pair: str, expected: str) -> None:
    assert josa(word, pair) == expected


@pytest.mark.parametrize(
    "pair, expected",
    [
        ("이/가", "😀이(가)"),
        ("은/는", "😀은(는)"),
        ("을/를", "😀을(를)"),
        ("과/와", "😀과(와)"),
        ("으로/로", "😀(으)로"),
        ("이에요/예요", "😀(이)에요"),
        ("이라/라", "😀(이)라"),
    ],
)
def test_undecidable_words_get_the_neutral_form(pair: str, expected: str) -> None:
    assert josa("😀", pair) == expected
    assert josa("", pair) == expected.replace("😀", "")


def test_unknown_pair_is_an_error() -> None:
    with pytest.raises(ValueError):
        josa("나이키", "에게/한테")


def test_final_sound_and_has_batchim() -> None:
    assert final_sound("서울") == "rieul" and has_batchim("서울") is True
    assert final_sound("부산") == "consonant" and has_batchim("부산") is True
    assert final_sound("나이키") == "vowel" and has_batchim("나이키") is False
    assert final_sound("★") is None and has_batchim("★") is None


def test_won() -> None:
    assert won(129000) == "129,000원"
    assert won(0) == "0원"
    assert won(500) == "500원"
    assert won(1234567890) == "1,234,567,890원"
    assert won(-5000) == "-5,000원"
    assert won(129000.0) == "129,000원"
    with pytest.raises(ValueError):
        won(1.5)
    with pytest.raises(TypeError):
        won(True)


def test_korean_date() -> None:
    assert korean_date(date(2026, 11, 28)) == "2026년 11월 28일"
    assert korean_date(date(2026, 1, 5)) == "2026년 1월 5일"
    assert korean_date(datetime(2026, 11, 28, 23, 59)) == "2026년 11월 28일"
    # Aware datetimes are shown in Seoul time: 20:00 UTC is 05:00 the next day in Seoul.
    assert korean_date(datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc)) == "2026년 11월 29일"


@pytest.mark.parametrize(
    "dt, expected",
    [
        (datetime(2026, 11, 28, 15, 5), "2026년 11월 28일 오후 3시 5분"),
        (datetime(2026, 11, 28, 9, 30), "2026년 11월 28일 오전 9시 30분"),
        (datetime(2026, 11, 28, 0, 30), "2026년 11월 28일 오전 12시 30분"),
        (datetime(2026, 11, 28, 12, 0), "2026년 11월 28일 오후 12시"),
        (datetime(2026, 11, 28, 23, 59), "2026년 11월 28일 오후 11시 59분"),
        (datetime(2026, 11, 28, 6, 5, tzinfo=timezone.utc), "2026년 11월 28일 오후 3시 5분"),
        (datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc), "2026년 11월 29일 오전 5시"),
        (datetime(2026, 11, 28, 15, 5, tzinfo=timezone(timedelta(hours=9))), "2026년 11월 28일 오후 3시 5분"),
        (date(2026, 11, 28), "2026년 11월 28일"),
    ],
)
def test_korean_datetime(dt, expected: str) -> None:
    assert korean_datetime(dt) == expected


def test_timezone_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEANBOT_TIMEZONE", "UTC")
    assert korean_datetime(datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc)) == "2026년 11월 28일 오후 8시"


def test_day_ko_has_the_weekday_and_the_year_only_when_not_this_year() -> None:
    from bot.replies.korean import day_ko

    assert day_ko(date(2026, 12, 7), today=date(2026, 12, 2)) == "12월 7일(월)"
    assert day_ko(date(2025, 12, 7), today=date(2026, 1, 2)) == "2025년 12월 7일(일)"
    # Stored times are UTC: 20:00 UTC on Sunday is Monday in Seoul.
    assert day_ko(datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc), today=date(2026, 12, 2)) == "12월 7일(월)"


@pytest.mark.parametrize("word, expected", [
    ("설화수 윤조에센스 90ml", "설화수 윤조에센스 90ml는"),  # 밀리리터
    ("자음생크림 50ML", "자음생크림 50ML는"),
    ("원두 500g", "원두 500g은"),  # 그램
    ("쌀 5kg", "쌀 5kg은"),
    ("30cm", "30cm는"),
    ("충전기 25W", "충전기 25W는"),  # 와트
    ("네버풀 MM", "네버풀 MM은"),  # a size, read 엠엠
])
def test_units_after_a_number_are_read_as_words(word: str, expected: str) -> None:
    assert josa(word, "은/는") == expected
