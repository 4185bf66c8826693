"""The channel runtime against the fake Bot API, with a stand-in for Rasa: what reaches the dialogue,
what the user is told, limits and retries as Telegram measures them."""
from __future__ import annotations

import asyncio
import time

from bot.services import telegram as tg
from tests.connectors.conftest import jpeg

USER = 7001


def test_text_reaches_the_dialogue_as_the_telegram_user(channel, fake_api):
    ch = channel()
    assert ch.accept(fake_api.text_update(USER, "가품 받은 것 같아요"))
    message = ch.wait_received(1)[0]
    assert message.text == "가품 받은 것 같아요" and message.sender_id == str(USER)
    assert message.input_channel == "telegram"
    fake_api.wait_text(USER, "받았어요: 가품 받은 것 같아요")
    assert fake_api.calls_of("sendChatAction", chat_id=USER)  # typing while the answer was prepared


def test_the_same_update_twice_is_handled_once(channel, fake_api):
    ch = channel()
    update = fake_api.text_update(USER, "안녕하세요")
    assert ch.accept(update) is True
    assert ch.accept(update) is False
    ch.wait_received(1)
    assert [m.text for m in ch.settle(USER)] == ["안녕하세요"]


def test_a_photo_with_its_caption_is_one_message(channel, fake_api):
    ch = channel()
    file_id = fake_api.add_file(jpeg(1, (320, 240)))
    ch.accept(fake_api.photo_update(USER, file_id, caption="로고가 삐뚤어요"))
    message = ch.wait_received(1)[0]
    assert message.text == "로고가 삐뚤어요"
    assert len(message.metadata["photo_ids"]) == 1 and message.metadata["photo_errors"] == []
    # The largest size was downloaded, not the thumbnail.
    assert [c.params["file_id"] for c in fake_api.calls_of("getFile")] == [file_id]


def test_a_photo_alone_and_an_album(channel, fake_api):
    ch = channel()
    ch.accept(fake_api.photo_update(USER, fake_api.add_file(jpeg(2))))
    assert ch.wait_received(1)[0].text == "/send_photo"
    ids = [fake_api.add_file(jpeg(n)) for n in (3, 4, 5)]
    for n, file_id in enumerate(ids):
        ch.accept(fake_api.photo_update(USER, file_id, caption="박스 사진이에요" if n == 0 else None,
                                        media_group_id="album-1"))
    album = ch.wait_received(2)[1]
    assert album.text == "박스 사진이에요" and len(album.metadata["photo_ids"]) == 3
    assert [m.text for m in ch.settle(USER)] == ["/send_photo", "박스 사진이에요"]  # the album stayed one


def test_an_image_sent_as_a_file_counts_and_other_files_do_not(channel, fake_api):
    ch = channel()
    file_id = fake_api.add_file(jpeg(6), ext="png")
    ch.accept(fake_api.message_update(USER, document={"file_id": file_id, "file_unique_id": "u1",
                                                     "mime_type": "image/jpeg", "file_size": 2000}))
    assert len(ch.wait_received(1)[0].metadata["photo_ids"]) == 1
    since = time.monotonic()
    ch.accept(fake_api.message_update(USER, document={"file_id": "F-PDF", "file_unique_id": "u2",
                                                     "mime_type": "application/pdf", "file_size": 2000}))
    sent = fake_api.wait_text(USER, "파일은 아직 받을 수 없어요", since=since)
    assert "글이나 사진(JPG·PNG·WebP)으로 보내 주세요" in sent[-1].text
    assert len(ch.received) == 1


def test_a_25_mb_photo_is_refused_in_korean_and_nothing_is_lost(channel, fake_api):
    ch = channel()
    big = fake_api.add_file(size=25 * 1024 * 1024)
    ch.accept(fake_api.photo_update(USER, big))
    sent = fake_api.wait_text(USER, "사진이 너무 커요(25MB)")
    assert "20MB까지만" in sent[-1].text
    assert not fake_api.calls_of("getFile")  # refused from the declared size, before any download
    # With a caption the words still count. Handled in order, it comes first: the refused photo alone did
    # not move the conversation (the question still stands).
    ch.accept(fake_api.photo_update(USER, big, caption="로고가 이상해요"))
    message = ch.wait_received(1)[0]
    assert message.text == "로고가 이상해요" and "photo_ids" not in message.metadata
    assert len(ch.received) == 1
    # If Telegram did not say the size, getFile's refusal is taken the same way.
    hidden = fake_api.add_file(size=21 * 1024 * 1024)
    update = fake_api.photo_update(USER, hidden)
    del update["message"]["photo"][-1]["file_size"]
    since = time.monotonic()
    ch.accept(update)
    fake_api.wait_text(USER, "사진이 너무 커요", since=since)


def test_button_taps_are_answered_and_handled_as_the_payload(channel, fake_api):
    ch = channel()
    ch.accept(fake_api.callback_update(USER, "/affirm"))
    message = ch.wait_received(1)[0]
    assert message.text == "/affirm" and message.sender_id == str(USER)
    assert len(fake_api.calls_of("answerCallbackQuery")) == 1
    fake_api.wait_for(lambda: fake_api.calls_of("editMessageReplyMarkup"))  # the keyboard goes away
    long_payload = '/report_counterfeit{"order_number":"8181526018159083","note":"한 번에 신고"}'
    key = tg.callback_data_for(long_payload)
    ch.accept(fake_api.callback_update(USER, key))
    assert ch.wait_received(2)[1].text == long_payload
    # A key nobody knows: answered with a notice, nothing handled.
    ch.accept(fake_api.callback_update(USER, "k:unknownkey"))
    fake_api.wait_for(lambda: len(fake_api.calls_of("answerCallbackQuery")) == 3)
    assert "더 이상 쓸 수 없어요" in fake_api.calls_of("answerCallbackQuery")[-1].params["text"]
    assert [m.text for m in ch.settle(USER)] == ["/affirm", long_payload]


def test_buttons_go_out_as_an_inline_keyboard(channel, fake_api):
    ch = channel()

    async def reply(message):
        await message.output_channel.send_text_with_buttons(message.sender_id, "어떤 주문을 신고하시겠어요?", [
            {"title": "나이키 에어포스 1 '07 화이트 · 129,000원", "payload": '/inform{"order_number":"8181526018159083"}'},
            {"title": "아주 긴 버튼", "payload": "/inform" + "{\"note\":\"" + "가" * 40 + "\"}"},
        ])
        await message.output_channel.send_image_url(message.sender_id, "https://example.com/a.jpg")

    ch.reply = reply
    ch.accept(fake_api.text_update(USER, "신고할게요"))
    sent = fake_api.wait_for(lambda: fake_api.sent(USER) if len(fake_api.sent(USER)) >= 2 else None)
    buttons = sent[0].buttons
    assert [b["text"] for b in buttons][0].startswith("나이키") and len(buttons) == 2
    assert buttons[0]["callback_data"] == '/inform{"order_number":"8181526018159083"}'
    assert buttons[1]["callback_data"].startswith("k:")
    assert sent[1].method == "sendPhoto" and sent[1].params["photo"] == "https://example.com/a.jpg"


def test_other_kinds_get_a_short_korean_answer(channel, fake_api):
    ch = channel()
    ch.accept(fake_api.message_update(USER, sticker={"file_id": "S", "file_unique_id": "s", "type": "regular",
                                                    "width": 1, "height": 1, "is_animated": False,
                                                    "is_video": False}))
    fake_api.wait_text(USER, "스티커는 아직 받을 수 없어요")
    ch.accept(fake_api.message_update(USER, voice={"file_id": "V", "file_unique_id": "v", "duration": 3}))
    fake_api.wait_text(USER, "음성 메시지는 아직 받을 수 없어요")
    ch.accept(fake_api.message_update(USER, field_name="edited_message", text="수정했어요"))
    fake_api.wait_text(USER, "메시지를 수정하셔도")
    assert ch.received == []


def test_groups_are_not_served(channel, fake_api):
    ch = channel()
    ch.accept(fake_api.message_update(USER, chat_type="group", chat_id=-100123, text="안녕하세요"))
    ch.accept(fake_api.message_update(USER, chat_type="group", chat_id=-100123, text="/start"))
    fake_api.wait_text(-100123, "1:1 대화에서만")
    assert ch.received == [] and len(fake_api.sent(-100123)) == 1


def test_start_with_a_token_links_the_account(channel, fake_api):
    from bot.services import identity

    ch = channel()
    issued = tg.issue_link_token("shopper-6")
    ch.accept(fake_api.text_update(USER, f"/start {issued.token}"))
    fake_api.wait_text(USER, "강서연님, 마켓플레이스 계정이 텔레그램에 연결됐어요")
    assert ch.wait_received(1)[0].text == "/greet"
    assert identity.resolve("telegram", str(USER)).customer_id == "shopper-6"
    since = time.monotonic()
    ch.accept(fake_api.text_update(USER + 1, f"/start {issued.token}"))
    fake_api.wait_text(USER + 1, "이미 사용된 연결 링크예요", since=since)
    assert [m.text for m in ch.settle(USER + 1)] == ["/greet"]
    assert identity.resolve("telegram", str(USER + 1)).customer_id is None


def test_polling_takes_updates_and_confirms_them(channel, fake_api):
    ch = channel(webhook_url="")
    fake_api.wait_for(lambda: fake_api.calls_of("getUpdates"))
    assert fake_api.calls_of("deleteWebhook")
    fake_api.queue_update(fake_api.text_update(USER, "첫 번째"))
    fake_api.queue_update(fake_api.text_update(USER, "두 번째"))
    assert [m.text for m in ch.wait_received(2)] == ["첫 번째", "두 번째"]
    # The next getUpdates confirms them (offset past the last id).
    fake_api.wait_for(lambda: any(c.params.get("offset") for c in fake_api.calls_of("getUpdates")))
    # A third one, taken by a later poll: by then the first two were not handed over again.
    fake_api.queue_update(fake_api.text_update(USER, "세 번째"))
    fake_api.wait_for(lambda: len(ch.received) >= 3)
    assert [m.text for m in ch.received] == ["첫 번째", "두 번째", "세 번째"]


def test_a_webhook_channel_registers_itself_with_the_secret(channel, fake_api):
    channel(webhook_url="https://bot.example/webhooks/telegram/webhook")
    assert fake_api.webhook["url"] == "https://bot.example/webhooks/telegram/webhook"
    assert fake_api.webhook["secret_token"] == "s3cret-token"
    assert set(fake_api.webhook["allowed_updates"]) == {"message", "edited_message", "callback_query"}


# ---------------------------------------------------------------- limits, as measured by Telegram


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end in range(len(times)):
        while times[end] - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_a_burst_of_100_messages_stays_within_the_limits(channel, fake_api):
    ch = channel(max_per_second=30, chat_per_second=1)
    chats = [8000 + n for n in range(20)]

    async def burst():
        sends = [ch.runtime.output.deliver_text(chat, f"상태 알림 {n}번") for n in range(5) for chat in chats]
        await asyncio.gather(*sends)

    started = time.monotonic()
    ch.loop.run(burst())
    took = time.monotonic() - started
    sent = fake_api.sent()
    assert len(sent) == 100 and all(c.status == 200 for c in sent)
    assert _max_in_window([c.at for c in sent]) <= 30
    for chat in chats:
        times = sorted(c.at for c in sent if c.chat_id == chat)
        assert len(times) == 5
        assert min(b - a for a, b in zip(times, times[1:])) >= 1.0
        # and in order
        assert [c.text for c in sorted((c for c in sent if c.chat_id == chat), key=lambda c: c.at)] == \
               [f"상태 알림 {n}번" for n in range(5)]
    assert took >= 4.0  # five to a chat: four waits of a second


def test_retry_after_is_honoured_not_dropped(channel, fake_api):
    ch = channel()
    fake_api.fail("sendMessage", 429, retry_after=2)
    ch.loop.run(ch.runtime.output.deliver_text(USER, "케이스 상태가 바뀌었어요"))
    calls = fake_api.calls_of("sendMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 2.0
    assert calls[1].text == "케이스 상태가 바뀌었어요"


def test_a_server_error_is_retried(channel, fake_api):
    ch = channel()
    fake_api.fail("sendMessage", 502)
    ch.loop.run(ch.runtime.output.deliver_text(USER, "다시 보내 볼게요"))
    assert [c.status for c in fake_api.calls_of("sendMessage")] == [502, 200]


def test_long_replies_are_split_and_buttons_go_on_the_last_part(channel, fake_api):
    ch = channel()
    text = "\n".join(f"{n}. 구찌 GG 마몽 숄더백 · 1,290,000원 · 신고됨(RPT-2026-{n:06d})" for n in range(200))
    buttons = [{"title": "상담원 연결", "payload": "/request_human"}]
    ch.loop.run(ch.runtime.output.send_text_with_buttons(str(USER), text, buttons))
    sent = fake_api.sent(USER)
    # As many whole lines as fit in 4096 UTF-16 units go in each part (77 of these lines do, 78 do not).
    assert [len(c.text.split("\n")) for c in sent] == [77, 76, 47] and "\n".join(c.text for c in sent) == text
    assert sent[-1].buttons and not any(c.buttons for c in sent[:-1])


def test_stopping_finishes_the_updates_already_accepted(channel, fake_api):
    ch = channel()

    async def slow(message):
        await asyncio.sleep(0.7)
        await message.output_channel.send_text_message(message.sender_id, f"답: {message.text}")

    ch.reply = slow
    ch.accept(fake_api.text_update(USER, "하나"))
    ch.accept(fake_api.text_update(USER, "둘"))
    ch.loop.run(ch.runtime.stop())
    assert [m.text for m in ch.received] == ["하나", "둘"]
    assert [c.text for c in fake_api.sent(USER)] == ["답: 하나", "답: 둘"]
    assert not ch.runtime.accepting


def test_a_recall_notice_is_pushed_with_its_refund_button(channel, fake_api, orders_by_customer):
    """The outbox push carries a row's buttons: the recall's "환불받기" arrives as an inline button whose tap
    comes back as the claim payload."""
    from bot.clock import utcnow
    from bot.db import transaction
    from bot.models import ChatIdentity
    from bot.services import inspections

    with transaction() as session:
        session.add(ChatIdentity(channel="telegram", external_id=str(USER), customer_id="shopper-5", created_at=utcnow()))
    order = next(o["number"] for o in orders_by_customer["shopper-5"] if o["listing"] == "1005006000123456")
    inspections.add("1005006000123456", "fake", "한국소비자검사원")
    ch = channel()
    assert ch.loop.run(ch.runtime.push_once()) == 1
    [sent] = fake_api.sent(USER)
    assert sent.text.startswith("[리콜 안내] 구매하신 상품의 판매 페이지가 가품으로 확인되어 삭제됐어요.")
    payload = f'/claim_recall{{"order_number":"{order}"}}'
    assert [(b["text"], b["callback_data"]) for b in sent.buttons] == [("환불받기", payload)]
    assert ch.loop.run(ch.runtime.push_once()) == 0  # sent once
    ch.accept(fake_api.callback_update(USER, payload))
    assert ch.wait_received(1)[0].text == payload
