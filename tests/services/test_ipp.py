"""Filing takedown notices and what a rights holder may see (bot.services.ipp)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from bot.db import transaction
from bot.models import CaseEvent, CasePhoto, IppCase, Listing, Order
from bot.services import cases, holders, ipp, reports
from bot.services.identity import resolve

NIKE = ("1005006000123456", "1005006000131375")
CHANEL = ("1005006000155132", "1005006000163051")


def _nike():
    return resolve("rest", "brand-nike")


def _file(who, listing_id, kind="counterfeit", trademark="40-2020-1234567", description="로고 도용 위조품", photos=()):
    return ipp.file_case(who.holder_brands, who.channel, who.sender_id, listing_id, kind, trademark, description,
                         list(photos))


@pytest.mark.parametrize("text,kind", [
    ("위조품", "counterfeit"), ("가품이에요", "counterfeit"), ("짝퉁", "counterfeit"), ("counterfeit", "counterfeit"),
    ("상표권 침해", "trademark"), ("로고 무단 사용", "trademark"), ("저작권 침해요", "copyright"),
    ("정품 사진 도용", "copyright"), ("디자인권 침해", "design"), ("디자인 카피", "design"), ("2", "trademark"),
    ("글쎄요", None), ("", None),
])
def test_infringement_types(text, kind):
    assert ipp.parse_infringement_type(text) == kind


@pytest.mark.parametrize("text,value", [
    ("40-1234567", "40-1234567"), ("40-2020-1234567", "40-2020-1234567"), ("4020201234567", "40-2020-1234567"),
    ("40 2020 1234567", "40-2020-1234567"), ("401234567", "40-1234567"),
    ("41-1234567", None), ("40-123456", None), ("40-20-1234567", None), ("", None),
])
def test_trademark_numbers(text, value):
    assert ipp.normalize_trademark(text) == value


def test_filing_opens_a_submitted_case_with_photos(db_url, tmp_path):
    import io

    from PIL import Image

    from bot import photos as photo_store
    from bot.services.reports import save_photos

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, "PNG")
    stored = photo_store.store_photo(buffer.getvalue())
    with transaction() as session:
        save_photos(session, [stored])
    outcome = _file(_nike(), NIKE[1], photos=[stored.sha256, stored.sha256, "f" * 64])
    assert outcome.status == "opened" and outcome.state == "submitted" and outcome.photo_count == 1
    assert outcome.case_number.startswith("IPP-") and len(outcome.case_number) == 15
    with transaction() as session:
        case = session.execute(select(IppCase)).scalar_one()
        assert (case.source, case.infringement_type, case.trademark_number) == \
            ("rights_holder", "counterfeit", "40-2020-1234567")
        assert case.rights_holder.name == "나이키코리아 지식재산팀"
        assert session.execute(select(func.count()).select_from(CasePhoto)).scalar_one() == 1
    view = ipp.visible_case(_nike().brand_ids, outcome.case_number)
    assert view.holder_name == "나이키코리아 지식재산팀" and view.photo_count == 1


def test_a_second_notice_on_the_same_listing_is_refused_with_the_case_number(db_url):
    first = _file(_nike(), NIKE[1])
    again = _file(_nike(), NIKE[1], kind="trademark")
    assert again.status == "duplicate" and again.case_number == first.case_number
    assert ipp.check_listing(_nike().holder_brands, NIKE[1]).problem == "duplicate"
    with transaction() as session:
        assert session.execute(select(func.count(IppCase.id))).scalar_one() == 1


def test_a_notice_joins_the_open_shopper_report_case(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] == 5)
    with transaction() as session:
        listing_id = session.get(Order, order["number"]).listing_id
    report = reports.file_report("shopper-1", order["number"], "가짜")
    check = ipp.check_listing(_nike().holder_brands, listing_id)
    assert check.problem is None and check.joins and check.case_number == report.case_number
    joined = _file(_nike(), listing_id, kind="trademark", trademark="40-7654321")
    assert joined.status == "joined" and joined.case_number == report.case_number
    with transaction() as session:
        case = session.execute(select(IppCase)).scalar_one()
        assert case.source == "shopper_report" and case.rights_holder_id is not None
        assert (case.infringement_type, case.trademark_number) == ("trademark", "40-7654321")
        events = session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).scalars().all()
        assert [(e.from_state, e.to_state) for e in events] == [(None, "submitted"), ("submitted", "submitted")]
        assert "더해졌어요" in events[-1].note
    # ... and after that the holder's next notice on it is a duplicate.
    assert _file(_nike(), listing_id).status == "duplicate"
    # The review decides the joined case once.
    ipp.set_status(report.case_number, "under_review", None, "cli:team")
    ipp.set_status(report.case_number, "action_taken", None, "cli:team")
    assert reports.get_report(report.report_number).verdict == "confirmed_fake"


def test_another_holder_of_the_brand_cannot_open_a_second_case(db_url):
    invite = holders.issue_invite("Nike", "나이키 법률대리인")
    assert holders.verify("web", "holder-new-9", invite.code).status == "verified"
    first = _file(_nike(), NIKE[1])
    other = _file(resolve("rest", "holder-new-9"), NIKE[1])
    assert other.status == "taken" and other.case_number == first.case_number


def test_refusals(db_url):
    nike = _nike()
    assert _file(nike, "1005000000000000").status == "not_found"
    assert _file(nike, "").status == "not_found"  # no listing id: no listing, like an unknown one
    other = _file(nike, CHANEL[0])
    assert other.status == "other_brand" and other.check.brand == "Chanel" and other.check.holder_brands == ("Nike",)
    assert _file(nike, NIKE[1], kind="piracy").status == "invalid"
    assert _file(nike, NIKE[1], trademark="12-345").status == "invalid"
    assert _file(nike, NIKE[1], description="   ").status == "invalid"
    with transaction() as session:
        session.get(Listing, NIKE[0]).status = "removed"
    assert _file(nike, NIKE[0]).status == "removed"
    assert ipp.file_case((), "web", "nobody", NIKE[1], "counterfeit", "40-1234567", "x").status == "other_brand"
    with transaction() as session:
        assert session.execute(select(func.count(IppCase.id))).scalar_one() == 0


def test_concurrent_notices_open_one_case(db_url):
    nike = _nike()
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda _: _file(nike, NIKE[1]), range(4)))
    assert sorted(o.status for o in outcomes) == ["duplicate"] * 3 + ["opened"]
    assert len({o.case_number for o in outcomes}) == 1


def test_another_brands_case_is_exactly_like_a_missing_one(db_url):
    number = _file(_nike(), NIKE[1]).case_number
    chanel = resolve("rest", "brand-chanel")
    assert ipp.visible_case(chanel.brand_ids, number) is None
    assert ipp.visible_case(chanel.brand_ids, "IPP-2026-999999") is None
    assert ipp.visible_timeline(chanel.brand_ids, number) is None
    assert ipp.latest_visible_case(chanel.brand_ids) is None
    assert ipp.list_visible_cases(chanel.brand_ids).total == 0
    assert ipp.visible_case(_nike().brand_ids, number.lower()).number == number
    assert ipp.visible_case(set(), number) is None


def test_lists_put_open_cases_first_and_are_paged(db_url):
    nike = _nike()
    numbers = [_file(nike, NIKE[0]).case_number, _file(nike, NIKE[1]).case_number]
    ipp.set_status(numbers[0], "under_review", None, "cli:team")
    ipp.set_status(numbers[0], "rejected", None, "cli:team")
    # More cases on the same listings once the earlier ones are decided.
    for _ in range(3):
        ipp.set_status(numbers[-1], "withdrawn", None, "cli:team")
        numbers.append(_file(nike, NIKE[1]).case_number)
    page1 = ipp.list_visible_cases(nike.brand_ids, 1, page_size=2)
    page2 = ipp.list_visible_cases(nike.brand_ids, 2, page_size=2)
    page9 = ipp.list_visible_cases(nike.brand_ids, 9, page_size=2)
    assert (page1.total, page1.open_total, page1.pages) == (5, 1, 3)
    assert page1.items[0].number == numbers[-1] and page1.items[0].is_open
    assert all(not c.is_open for c in page1.items[1:] + page2.items)
    assert page9.page == 3 and len(page9.items) == 1  # past the end: the last page
    seen = [c.number for p in (page1, page2, page9) for c in p.items]
    assert sorted(seen) == sorted(numbers)
    assert ipp.latest_visible_case(nike.brand_ids).number == numbers[-1]
    assert ipp.latest_visible_case(nike.brand_ids, NIKE[0]).number == numbers[0]
    summary, events = ipp.visible_timeline(nike.brand_ids, numbers[0])
    assert [e.to_state for e in events] == ["submitted", "under_review", "rejected"]
    assert summary.last_event.to_state == "rejected" and summary.decided_at is not None


def test_shopper_report_cases_are_visible_to_the_brands_holders(db_url, orders_by_customer):
    order = next(o for o in orders_by_customer["shopper-1"] if o["delivered_days_ago"] == 5)
    outcome = reports.file_report("shopper-1", order["number"], "가짜")
    view = ipp.visible_case(_nike().brand_ids, outcome.case_number)
    assert view.source == "shopper_report" and view.report_count == 1 and view.holder_name is None
    with transaction() as session:
        assert cases.get_case_by_number(session, outcome.case_number).brand.name == "Nike"


@pytest.mark.parametrize("text, expected", [
    ("IPP 2026 1 어떻게 됐어요", "IPP-2026-000001"),
    ("ipp-2026-123", "IPP-2026-000123"),
    ("ipp2026 0042 상태", "IPP-2026-000042"),
    ("IPP 케이스 어떻게 됐어요", None),
    ("IPP 2026 0", None),
    ("IPP 2026 1234567", None),
])
def test_a_loosely_written_case_number_is_guessed(text, expected):
    assert ipp.guess_case_number(text) == expected
