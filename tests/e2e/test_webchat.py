"""The web chat page (/chat) in a real, headless Chromium against real Rasa and action servers.

Playwright drives the system Chromium (/usr/bin/chromium; Debian packages `chromium` and
`chromium-driver`, installed by .ci/run when missing): browsers are never downloaded. The servers
here are this module's own, with their own database, so the demo shoppers' conversations and
orders do not mix with the other end-to-end tests. Screenshots of the key steps are saved in
test-artifacts/webchat/."""
from __future__ import annotations

import io
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from bot.settings import PROJECT_ROOT
from tests.conftest import _prepare, environment

pytestmark = pytest.mark.e2e

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "webchat"
PHONE = {"width": 390, "height": 844}
ANSWER_TIMEOUT = 90_000  # ms; the first message also warms the model up
# URLs that appear as text inside the vendored socket.io client (an error message's link and the
# scheme check of its URL parser); it loads nothing from them.
VENDORED_TEXT_URLS = {"https://socket.io/docs/v3/migrating-from-2-x-to-3-0/", "https://"}

# Counts how often the typing indicator was shown (an init script is not subject to the page's CSP).
TYPING_PROBE = """
window.__typingShown = 0;
document.addEventListener("DOMContentLoaded", () => {
  const typing = document.getElementById("typing");
  new MutationObserver(() => { if (!typing.hidden) window.__typingShown += 1; })
    .observe(typing, { attributes: true, attributeFilter: ["hidden"] });
});
"""


# ---------------------------------------------------------------- servers, browser, helpers


@pytest.fixture(scope="module")
def webchat_server(tmp_path_factory):
    """Rasa and action servers of this module, with a database and photo directory of their own."""
    from bot.db import dispose_engines
    from bot.server.runner import BotServers, free_port
    from bot.nlu.training import train_if_changed

    model = train_if_changed()
    home = tmp_path_factory.mktemp("webchat")
    url = f"sqlite:///{home / 'cleanbot.db'}"
    _prepare(url)
    env = {"CLEANBOT_DATABASE_URL": url, "CLEANBOT_PHOTO_DIR": str(home / "photos")}
    servers = BotServers(model, free_port(), free_port(), env=env, log_dir=ARTIFACTS / "logs")
    with environment(env):
        try:
            servers.start()
            yield servers
        finally:
            servers.stop()
            dispose_engines()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = "Chromium is missing: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


class Page:
    """One browser tab on the chat page, phone-sized, recording every request it makes."""

    def __init__(self, browser, base_url: str):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url
        self.context = browser.new_context(viewport=PHONE, locale="ko-KR")
        self.context.add_init_script(TYPING_PROBE)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.websockets: list = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("websocket", lambda websocket: self.websockets.append(websocket))
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))

    def open(self, query: str = "") -> "Page":
        self.page.goto(f"{self.base_url}/chat{query}")
        return self

    def choose(self, identity: str) -> None:
        self.page.select_option("#identity", identity)
        self.wait_connected()

    def wait_connected(self) -> None:
        expect(self.page.locator("#status")).to_have_text("연결됐어요", timeout=30_000)
        expect(self.page.locator("#message")).to_be_enabled()

    def say(self, text: str) -> None:
        self.page.fill("#message", text)
        self.page.press("#message", "Enter")
        self.wait_answered()

    def wait_answered(self) -> None:
        expect(self.page.locator("#typing")).to_be_hidden(timeout=ANSWER_TIMEOUT)

    def bot(self, text: str):
        return self.page.locator(".msg.bot", has_text=text).last

    def expect_bot(self, text: str):
        message = self.bot(text)
        expect(message).to_be_visible(timeout=ANSWER_TIMEOUT)
        return message

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def external_requests(self) -> list[str]:
        origin = urllib.parse.urlsplit(self.base_url)
        return [
            url for url in self.requests
            if not url.startswith(("data:", "blob:"))
            and (urllib.parse.urlsplit(url).scheme, urllib.parse.urlsplit(url).netloc) not in {
                ("http", origin.netloc), ("ws", origin.netloc)}
        ]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def chat_page(browser, webchat_server):
    pages: list[Page] = []

    def make() -> Page:
        pages.append(Page(browser, webchat_server.rasa_url))
        return pages[-1]

    yield make
    for page in pages:
        assert page.problems == [], f"JavaScript errors on the page: {page.problems}"
        page.close()


def jpeg(seed: int) -> bytes:
    """A small JPEG of its own (the abuse check refuses a photo seen on another order)."""
    image = Image.new("RGB", (96, 72), (30 + seed * 37 % 200, 90, 160))
    draw = ImageDraw.Draw(image)
    for n in range(6):
        draw.ellipse((n * 14 + seed % 7, 10 + n * 8, n * 14 + 20, 30 + n * 8), fill=(240, 200 - n * 20, 40 + seed))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


# ---------------------------------------------------------------- the page and its assets


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.links.append(value)


def _get(url: str) -> tuple[int, object, str]:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return reply.status, reply.headers, reply.read().decode("utf-8")


def test_the_page_and_every_asset_come_from_the_bot_server(webchat_server):
    base = webchat_server.rasa_url
    status, headers, html = _get(f"{base}/chat")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert '<html lang="ko">' in html and 'name="viewport"' in html
    parser = _Links()
    parser.feed(html)
    assets = [link for link in parser.links if not link.startswith("data:")]
    assert set(assets) == {"/chat/static/webchat.css", "/chat/static/socket.io.min.js", "/chat/static/webchat.js"}
    urls_found = {}
    for path in ["/chat", "/chat/config.json", *assets]:
        status, _, body = _get(base + path)
        assert status == 200, path
        urls_found[path] = set(re.findall(r"(?:https?|wss?)://[^\s\"'`)<>]*", body))
        assert "@import" not in body and "fonts.googleapis" not in body, path
    vendored = urls_found.pop("/chat/static/socket.io.min.js")
    assert vendored <= VENDORED_TEXT_URLS, f"the vendored socket.io client names other hosts: {vendored}"
    assert all(not found for found in urls_found.values()), urls_found
    # Only the listed files are served from the static folder.
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{base}/chat/static/webchat.py", timeout=10)
    assert missing.value.code == 404


# ---------------------------------------------------------------- shoppers


def test_a_shopper_reports_a_fake_with_a_photo_and_is_refunded(chat_page):
    from bot.services import reports

    chat = chat_page().open()
    page = chat.page
    expect(page.locator("label[for=identity]")).to_have_text("데모 사용자")
    expect(page.locator("#message")).to_be_disabled()  # no identity yet
    chat.choose("shopper-2")
    expect(page.locator("#log")).to_contain_text("이서준 (shopper-2)")
    chat.shot("01-shopper-chosen")

    chat.say("가품 신고할게요")
    asked = chat.expect_bot("어떤 주문을 신고하시겠어요?")
    chips = asked.locator(".chip")
    expect(chips.first).to_be_visible()
    assert page.evaluate("window.__typingShown") >= 1, "the typing indicator was never shown"
    chat.shot("02-order-buttons")

    chips.filter(has_text="샤넬 카드 지갑").click()
    expect(page.locator(".msg.user").last).to_have_text(re.compile("샤넬 카드 지갑"))
    chat.wait_answered()
    chat.expect_bot("주문을 확인했어요")
    chat.expect_bot("의심되나요")
    expect(chips.first).to_be_disabled()  # an older message's buttons no longer send

    chat.say("로고 각인이 흐릿하고 지퍼 마감이 정품이랑 달라요")
    chat.expect_bot("상품 사진이 있으면 보내 주세요")

    page.set_input_files("#photo", files=[{"name": "지갑-로고.jpg", "mimeType": "image/jpeg", "buffer": jpeg(41)}])
    expect(page.locator("#attachments .attachment")).to_have_count(1)
    expect(page.locator("#attachments")).to_contain_text("지갑-로고.jpg")
    chat.shot("03-photo-attached")
    chat.say("로고 사진이에요")
    expect(page.locator(".msg.user").last.locator(".thumbs img")).to_have_count(1)
    expect(page.locator("#attachments .attachment")).to_have_count(0)
    chat.expect_bot("사진 1장을 받았어요")
    summary = chat.expect_bot("이대로 신고할까요?")
    expect(summary).to_contain_text("사진: 1장")
    expect(summary).to_contain_text("459,000원")
    chat.shot("04-confirm-summary")

    chat.say("네")
    done = chat.expect_bot("환불해 드렸어요")
    expect(done).to_contain_text("RPT-")
    expect(done).to_contain_text("459,000원을 환불해 드렸어요")
    chat.shot("05-refunded")

    number = re.search(r"RPT-\d{4}-\d{6}", done.inner_text()).group(0)
    report = reports.get_report(number, customer_id="shopper-2")
    assert report is not None and report.refund_status == "granted" and report.photo_count == 1
    assert chat.external_requests() == [], "the page loaded something from another host"


def test_a_photo_over_the_limit_is_refused_in_the_page(chat_page):
    from bot.settings import get_settings

    limit = get_settings().photo_max_bytes
    chat = chat_page().open("?as=shopper-1")
    chat.wait_connected()
    sent_before = chat.page.locator(".msg.user").count()
    too_big = jpeg(5) + b"\0" * (limit + 1)
    chat.page.set_input_files("#photo", files=[{"name": "큰사진.jpg", "mimeType": "image/jpeg", "buffer": too_big}])
    error = chat.page.locator(".msg.error").last
    expect(error).to_contain_text("'큰사진.jpg' 파일은")
    expect(error).to_contain_text("10MB 이하만 보낼 수 있어요")
    expect(chat.page.locator("#attachments .attachment")).to_have_count(0)
    assert chat.page.locator(".msg.user").count() == sent_before  # nothing was sent
    chat.shot("07-photo-too-large")


def _big_photos_stored() -> int:
    from sqlalchemy import func, select

    from bot.db import transaction
    from bot.models import Photo

    with transaction() as session:
        return session.execute(select(func.count()).select_from(Photo).where(Photo.size_bytes > 1_500_000)).scalar_one()


def test_a_photo_of_several_megabytes_travels_over_the_socket(chat_page):
    """engine.io and Sanic's websocket take 1 MB messages by default; the channel raises both."""
    side = 1600
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=95)
    assert 2_000_000 < len(buffer.getvalue()) < 10 * 1024 * 1024
    before = _big_photos_stored()
    chat = chat_page().open("?as=shopper-6")
    chat.wait_connected()
    chat.page.set_input_files("#photo", files=[{"name": "큰-상품사진.jpg", "mimeType": "image/jpeg",
                                                "buffer": buffer.getvalue()}])
    expect(chat.page.locator("#attachments .attachment")).to_have_count(1)
    chat.page.click("#send")  # a photo alone, without text
    chat.wait_answered()
    expect(chat.page.locator(".msg.error")).to_have_count(0)  # neither dropped nor timed out
    expect(chat.page.locator("#status")).to_have_text("연결됐어요")
    assert chat.websockets and not chat.websockets[-1].is_closed()  # upgraded, and still open after the photo
    assert _big_photos_stored() == before + 1


def test_keyboard_only_choose_send_and_tap_with_enter(chat_page):
    chat = chat_page().open()
    page = chat.page
    page.keyboard.press("Tab")  # the identity selector is the first control on the page
    assert page.evaluate("document.activeElement.id") == "identity"
    while page.evaluate("document.getElementById('identity').value") != "shopper-4":
        page.keyboard.press("ArrowDown")
    chat.wait_connected()
    for _ in range(10):  # on through the conversation log and the photo button to the input
        if page.evaluate("document.activeElement.id") == "message":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "message"
    page.keyboard.type("최근 주문 보여 주세요")
    page.keyboard.press("Enter")
    chat.wait_answered()
    listing = page.locator(".msg.bot", has=page.locator(".chip")).last
    expect(listing).to_be_visible()
    first_chip = listing.locator(".chip").first
    title = first_chip.inner_text()
    for _ in range(40):  # Tab from the input through the page to the first chip
        if page.evaluate("document.activeElement.classList.contains('chip')"):
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == title
    page.keyboard.press("Enter")
    expect(page.locator(".msg.user").last).to_have_text(title)
    chat.wait_answered()
    assert page.locator(".msg.bot").last.inner_text().strip() != ""
    chat.shot("08-keyboard-only")
    page.focus("#message")
    page.keyboard.type("그만할래요")
    page.keyboard.press("Enter")
    chat.wait_answered()


def test_the_page_says_so_when_the_server_cannot_be_reached(chat_page):
    chat = chat_page()
    # The page speaks socket.io over a websocket only: refuse it (and any long-polling fallback).
    chat.page.route("**/socket.io/**", lambda route: route.abort())
    chat.page.route_web_socket("**/socket.io/**", lambda ws: ws.close(code=1011))
    chat.open("?as=shopper-3")
    expect(chat.page.locator(".msg.error").first).to_contain_text("클린봇 서버에 연결할 수 없어요", timeout=30_000)
    expect(chat.page.locator("#status")).to_have_text("연결할 수 없어요")
    expect(chat.page.locator("#message")).to_be_disabled()
    chat.shot("09-server-unreachable")


# ---------------------------------------------------------------- rights holders


def _open_case(listing_id: str, note: str) -> tuple[int, str]:
    from bot.db import transaction
    from bot.models import Listing
    from bot.services import cases

    with transaction() as session:
        listing = session.get(Listing, listing_id)
        case = cases.open_case(session, listing=listing, source="shopper_report", actor="test:webchat", note=note)
        return case.id, case.number


def _move_case(case_id: int, to_state: str, note: str) -> None:
    from bot.db import transaction
    from bot.models import IppCase
    from bot.services import cases

    with transaction() as session:
        cases.transition(session, session.get(IppCase, case_id), to_state, "agent:test-webchat", note)


def _rows_of(case_id: int) -> list:
    from sqlalchemy import select

    from bot.db import transaction
    from bot.models import CaseEvent, ChatIdentity, Notification

    with transaction() as session:
        return session.execute(
            select(ChatIdentity.external_id, Notification.attempts, Notification.delivered_at)
            .join(ChatIdentity, ChatIdentity.id == Notification.identity_id)
            .join(CaseEvent, CaseEvent.id == Notification.case_event_id)
            .where(CaseEvent.case_id == case_id)
        ).all()


def test_a_rights_holder_sees_case_status_updates_pushed_live(chat_page):
    from bot.services import notifier

    chat = chat_page().open()
    chat.choose("brand-nike")
    chat.shot("06a-rights-holder-chosen")

    nike_case, nike_number = _open_case("1005006000131375", "웹 채팅 테스트로 접수했어요.")  # 나이키 덩크 로우
    _move_case(nike_case, "under_review", "정품 대조를 시작했어요.")
    chanel_case, chanel_number = _open_case("1005006000155132", "웹 채팅 테스트로 접수했어요.")  # Chanel: nobody connected

    pushed = chat.page.locator(".msg.pushed", has_text=nike_number)
    expect(pushed).to_have_count(2, timeout=30_000)
    expect(pushed.last).to_contain_text("검토 중")
    expect(pushed.last).to_contain_text("정품 대조를 시작했어요.")
    expect(pushed.last.locator(".badge")).to_have_text("새 알림")
    chat.shot("06b-status-update-pushed")

    deadline = time.monotonic() + 10
    while any(delivered is None for who, _, delivered in _rows_of(nike_case) if who == "brand-nike"):
        assert time.monotonic() < deadline, "the pushed rows were not marked delivered"
        time.sleep(0.3)
    # A rights holder with no open page is left alone: no failed attempt, still due for the REST pull.
    # The positive sign of a push round that saw the Chanel row: a Nike update made after it, pushed.
    _move_case(nike_case, "info_requested", "판매자 소명을 기다리고 있어요.")
    expect(pushed).to_have_count(3, timeout=30_000)
    expect(pushed.last).to_contain_text("판매자 소명을 기다리고 있어요.")
    assert _rows_of(chanel_case) == [("brand-chanel", 0, None)]
    pulled = notifier.take_pending_for("web", "brand-chanel")
    assert chanel_number in {p.case_number for p in pulled}
