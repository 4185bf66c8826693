"""The Telegram channel end to end: real Rasa and action servers, the fake Bot API in between.

A shopper links their account with a deep link, reports a fake with a photo and its caption, taps
inline buttons and gets the refund; duplicate and forged webhook deliveries; a photo too large for
Telegram; status updates pushed to rights holders — within Telegram's limits, with `retry_after`
honoured, and marked delivered only once Telegram accepted them."""
from __future__ import annotations

import json
import time
import urllib.request

import pytest
from sqlalchemy import func, select

from bot.clock import utcnow
from bot.db import transaction
from bot.models import Brand, ChatIdentity, HolderIdentity, Listing, Notification, RightsHolder, TelegramUpdate
from bot.services import cases, reports
from tests.connectors.conftest import TelegramUser, cleanbot, jpeg, link, telegram_stack, wait_handled  # noqa: F401  (fixture)

pytestmark = pytest.mark.e2e


def _order(orders_by_customer, customer, delivered_days_ago):
    return next(o for o in orders_by_customer[customer] if o["delivered_days_ago"] == delivered_days_ago)


@pytest.fixture
def tg_user(telegram_stack):
    def make(user_id: int) -> TelegramUser:
        return TelegramUser(telegram_stack, user_id)

    return make


# ---------------------------------------------------------------- the shopper


def test_a_shopper_links_reports_a_fake_with_a_photo_and_gets_the_refund(telegram_stack, tg_user,
                                                                          orders_by_customer):
    stack = telegram_stack
    order = _order(orders_by_customer, "shopper-3", 5)
    user = tg_user(7_100_001)
    link(stack, user, "shopper-3")
    menu = user.wait("클린봇이에요", 0)
    assert any(b["callback_data"] == "/report_counterfeit" for m in menu for b in m.buttons)

    since = user.tap(menu, "가품 신고하기")
    asked = user.wait("어떤 주문을 신고하시겠어요", since)
    since = user.tap(asked, order["product_name"])
    confirmed = user.text(since, "의심되나요")
    assert "주문을 확인했어요" in confirmed and f"{order['amount_krw']:,}원" in confirmed

    # One Telegram photo with its caption: the caption answers the question, the photo is attached.
    since = user.photo(jpeg(11, (640, 480)), caption="로고 위치가 정품이랑 다르고 박음질이 엉망이에요")
    after = user.wait("사진이 있으면", since)
    assert any("사진 1장을 받았어요" in c.text for c in after)
    since = user.tap(after, "사진 없이 진행")
    summary = user.text(since, "이대로 신고할까요")
    assert "사진: 1장" in summary and "로고 위치가 정품이랑 다르고" in summary
    since = user.tap(user.wait("이대로 신고할까요", since), "네, 신고할게요")
    done = user.text(since, "환불해 드렸어요")
    assert f"{order['amount_krw']:,}원을 환불해 드렸어요" in done

    number = done.split("신고번호는 ")[1][:15]
    report = reports.get_report(number, customer_id="shopper-3")
    assert report.refund_status == "granted" and report.photo_count == 1
    # Typing was shown while answers were prepared, and every tap was answered.
    assert stack.fake.calls_of("sendChatAction", chat_id=user.user_id)
    assert all(c.status == 200 for c in stack.fake.calls_of("answerCallbackQuery"))


def test_an_update_delivered_twice_is_handled_once(telegram_stack, tg_user):
    stack = telegram_stack
    user = tg_user(7_100_002)
    update = stack.fake.text_update(user.user_id, "안녕하세요")
    since = user.webhook(update)
    user.webhook(update)  # Telegram retried the webhook
    stack.fake.queue_update(update)  # …and the same update turns up by polling too
    answers = stack.fake.wait_quiet(user.user_id, since, quiet=3)
    assert sum("클린봇이에요" in c.text for c in answers) == 1
    with transaction() as session:
        assert session.get(TelegramUpdate, update["update_id"]) is not None


def test_messages_the_server_starts_reach_telegram(telegram_stack, tg_user):
    """Rasa's trigger_intent with output_channel=latest: the built-in channel could not do this."""
    stack = telegram_stack
    user = tg_user(7_100_005)
    user.wait("클린봇이에요", user.say("안녕하세요"))
    since = time.monotonic()
    request = urllib.request.Request(
        f"{stack.servers.rasa_url}/conversations/{user.user_id}/trigger_intent?output_channel=latest"
        f"&token={stack.env['CLEANBOT_API_TOKEN']}",
        data=json.dumps({"name": "greet"}).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        assert reply.status == 200
    assert user.wait("클린봇이에요", since)[-1].buttons


def test_a_webhook_without_the_right_secret_is_refused(telegram_stack, tg_user):
    stack = telegram_stack
    user = tg_user(7_100_003)
    forged = stack.fake.text_update(user.user_id, "환불해 주세요")
    assert stack.fake.deliver(forged, url=stack.webhook_url, secret="wrong") == 403
    assert stack.fake.deliver(forged, url=stack.webhook_url, secret=None) == 403
    with transaction() as session:
        assert session.get(TelegramUpdate, forged["update_id"]) is None  # not even recorded
    # The genuine delivery of that update still goes through (it would be a duplicate had a forged one been
    # taken); once it is handled, everything the user was sent answers it.
    genuine = time.monotonic()
    assert stack.fake.deliver(forged, url=stack.webhook_url, secret=stack.secret) == 200
    wait_handled(stack.fake, forged["update_id"])
    assert stack.fake.sent(user.user_id) and all(c.at >= genuine for c in stack.fake.sent(user.user_id))


def test_a_25_mb_photo_is_refused_in_korean_and_the_report_goes_on(telegram_stack, tg_user, orders_by_customer):
    stack = telegram_stack
    order = _order(orders_by_customer, "shopper-4", 5)
    user = tg_user(7_100_004)
    link(stack, user, "shopper-4")
    since = user.say(f"{order['number']} 가품 신고할게요", via="webhook")
    user.wait("의심되나요", since)
    since = user.say("시리얼 넘버가 없어요", via="webhook")
    user.wait("사진이 있으면", since)

    since = user.photo(size=25 * 1024 * 1024)
    refused = user.text(since, "사진이 너무 커요")
    assert "25MB" in refused and "20MB까지만" in refused
    wait_handled(stack.fake, user.last_update_id)
    assert "이대로 신고할까요" not in "\n".join(c.text for c in stack.fake.sent(user.user_id, since))

    since = user.photo(jpeg(12))
    summary = user.text(since, "이대로 신고할까요")
    assert "사진 1장을 받았어요" in summary and "사진: 1장" in summary
    # "아니요" at the summary asks what to change; [신고 취소] is one of the answers.
    since = user.tap(user.wait("이대로 신고할까요", since), "아니요")
    since = user.tap(user.wait("무엇을 바꿀까요", since), "신고 취소")
    assert "신고를 취소했어요" in user.text(since, "취소")


# ---------------------------------------------------------------- rights holders: pushed status updates


def _holders(brand_name: str, user_ids: list[int]) -> None:
    with transaction() as session:
        brand = session.execute(select(Brand).where(Brand.name == brand_name)).scalar_one()
        for uid in user_ids:
            holder = RightsHolder(name=f"{brand_name} 권리자 {uid}", brand_id=brand.id, verified_at=utcnow())
            identity = ChatIdentity(channel="telegram", external_id=str(uid), created_at=utcnow())
            session.add_all([holder, identity])
            session.flush()
            session.add(HolderIdentity(rights_holder_id=holder.id, identity_id=identity.id, created_at=utcnow()))


def _open_case(listing_id: str) -> str:
    with transaction() as session:
        listing = session.get(Listing, listing_id)
        case = cases.open_case(session, listing=listing, source="rights_holder", actor="test",
                               note="권리자 신고로 접수되었어요.", infringement_type="counterfeit")
        return case.number


def _move(number: str, state: str, note: str = "") -> None:
    with transaction() as session:
        cases.transition(session, cases.get_case_by_number(session, number), state, "test", note or None)


def _undelivered(user_ids: list[int]) -> int:
    with transaction() as session:
        return session.execute(
            select(func.count(Notification.id)).join(ChatIdentity, ChatIdentity.id == Notification.identity_id)
            .where(ChatIdentity.channel == "telegram", ChatIdentity.external_id.in_([str(u) for u in user_ids]),
                   Notification.delivered_at.is_(None))
        ).scalar_one()


def test_a_rights_holder_gets_the_status_update_after_cleanbot_cases_set_status(telegram_stack):
    stack = telegram_stack
    holder = 7_200_001
    _holders("Samsung", [holder])
    number = _open_case("1005006000242241")
    stack.fake.wait_text(holder, "새로 접수되었어요")
    since = time.monotonic()
    cleanbot(stack, "cases", "set-status", number, "under_review", "--note", "판매자 자료를 확인하고 있어요")
    update = stack.fake.wait_text(holder, "검토 중", since=since)[-1].text
    assert number in update and "메모: 판매자 자료를 확인하고 있어요" in update
    stack.fake.wait_for(lambda: _undelivered([holder]) == 0, 15)


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_a_burst_of_100_pushed_updates_stays_within_telegrams_limits(telegram_stack):
    stack = telegram_stack
    chats = list(range(7_300_001, 7_300_021))
    _holders("Moncler", chats)
    since = time.monotonic()
    number = _open_case("1005006000265998")  # 20 accounts × 5 changes = 100 messages
    for state in ("under_review", "info_requested", "under_review", "action_taken"):
        _move(number, state, "일괄 알림 시험")
    stack.fake.wait_for(lambda: len([c for c in stack.fake.sent(since=since) if c.chat_id in chats]) >= 100, 60)
    sent = [c for c in stack.fake.sent(since=since) if c.chat_id in chats]
    assert len(sent) == 100
    assert _max_in_window([c.at for c in stack.fake.calls_of(since=since) if c.method != "getUpdates"]) <= 30
    for chat in chats:
        times = sorted(c.at for c in sent if c.chat_id == chat)
        assert len(times) == 5 and min(b - a for a, b in zip(times, times[1:])) >= 1.0
    stack.fake.wait_for(lambda: _undelivered(chats) == 0, 15)


def test_retry_after_is_honoured_and_delivery_is_marked_only_when_accepted(telegram_stack):
    stack = telegram_stack
    holder = 7_400_001
    _holders("Dyson", [holder])
    stack.fake.fail("sendMessage", 429, retry_after=3, chat_id=holder)
    since = time.monotonic()
    _open_case("1005006000250160")
    stack.fake.wait_text(holder, "새로 접수되었어요", since=since)
    calls = stack.fake.calls_of("sendMessage", chat_id=holder, since=since)
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 3.0 and calls[0].text == calls[1].text
    stack.fake.wait_for(lambda: _undelivered([holder]) == 0, 15)

    # Telegram down for longer than the retries: the row stays undelivered and is tried again later.
    stack.fake.fail("sendMessage", 500, times=3, chat_id=holder)
    since = time.monotonic()
    number = _open_case("1005006000258079")
    stack.fake.wait_for(lambda: len(stack.fake.calls_of("sendMessage", chat_id=holder, since=since)) >= 3, 30)

    def failed_row():
        return select(Notification).join(ChatIdentity, ChatIdentity.id == Notification.identity_id).where(
            ChatIdentity.external_id == str(holder), Notification.delivered_at.is_(None), Notification.attempts > 0)

    def failure_recorded() -> bool:
        with transaction() as session:
            return session.execute(failed_row()).first() is not None

    stack.fake.wait_for(failure_recorded, 15)  # the failed attempt is written down: the round is over
    assert _undelivered([holder]) == 1
    with transaction() as session:
        row = session.execute(failed_row()).scalar_one()
        assert row.attempts == 1 and "Internal Server Error" in (row.last_error or "")
        row.next_attempt_at = utcnow()  # skip the backoff
    stack.fake.wait_text(holder, number, since=since)
    stack.fake.wait_for(lambda: _undelivered([holder]) == 0, 15)
