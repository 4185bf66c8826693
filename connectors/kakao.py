"""The KakaoTalk channel: a Kakao i Open Builder skill server at `POST /webhooks/kakao/skill`.

Open Builder posts one skill request per user message (the format we rely on, with sources: docs/kakao.md)
and waits at most 5 seconds for the answer. Here:

* the door: the body at most MAX_BODY bytes; the secret (CLEANBOT_KAKAO_SKILL_SECRET) from the
  X-Cleanbot-Kakao-Secret header or `?secret=` compared in constant time (403 otherwise; without a secret
  only demo mode accepts requests, and production refuses to start the channel); the per-sender message
  rate of every channel (connectors.doors), answered in Korean;
* the sender is `userRequest.user.id` (the botUserKey, per channel); "연동 123456" links it to a customer
  with a code from `cleanbot shopper link-code` (bot.services.telegram's one-time link tokens);
* photos: image URLs in `action.params` / `detailParams` (the `sys.plugin.secureimage` plugin) or in the
  utterance are downloaded (bounded size and time, no redirects) only from CLEANBOT_KAKAO_IMAGE_HOSTS and go
  through bot.services.photos like every channel's; other hosts are refused in Korean;
* the answer: Rasa's messages, what agents wrote during a hand-over (before) and waiting case status updates
  (after, bot.services.notifier) become one skill response (build_response): simpleText split at 1,000
  characters, at most 3 outputs (adjacent texts merged; the rest behind a [더 보기] quick reply), short
  buttons as quickReplies, long ones (orders, cases) as a listCard or a carousel of basicCards, images as
  simpleImage; button payloads travel as short keys (bot.services.telegram.callback_data_for);
* the 5-second limit: an answer ready within CLEANBOT_KAKAO_ANSWER_SECONDS is returned inline; otherwise,
  when the block has a callback URL, `useCallback` now and the answer POSTed to it once within
  CLEANBOT_KAKAO_CALLBACK_SECONDS; without one, an apology now and the answer with the next message;
* hand-over: messages go through the gate (connectors/handoff.py) like every channel's; the agents' replies
  come with the user's next message, or — with a callback URL — as soon as an agent writes.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Optional
from urllib.parse import urlsplit

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.replies import kakao as words
from connectors.doors import MAX_TEXT, DoorError, check_rate, clean_text

logger = logging.getLogger(__name__)

CHANNEL = "kakao"
SECRET_HEADER = "X-Cleanbot-Kakao-Secret"
MAX_BODY = 256 * 1024  # a skill request is a few KB; a bigger body is not from Open Builder
# Kakao's limits on a skill response (docs/kakao.md).
TEXT_LIMIT = 1000
MAX_OUTPUTS = 3
MAX_QUICK_REPLIES = 10
LABEL_LIMIT = 14
LIST_ITEMS = 5
CAROUSEL_ITEMS = 10
LIST_TITLE_LIMIT = 50
CARD_TITLE_LIMIT = 50
CARD_DESCRIPTION_LIMIT = 230
HEADER_LIMIT = 15
# What Kakao waits for a skill answer, less the time the answer needs to travel.
HARD_SECONDS = 4.5
EXTRA_KEY = "cleanbot"  # our key in a quick reply's `extra` (arrives as action.clientExtra)
MORE_KEY = "more"
LINK_RE = re.compile(r"^\s*연동\s*([0-9]{6})\s*$")
URL_RE = re.compile(r"https?://[^\s,()\"'<>\[\]]+")
IMAGE_PATH_RE = re.compile(r"\.(jpe?g|png|webp)$", re.IGNORECASE)
PHOTO_ONLY_TEXT = "/send_photo"


# ---------------------------------------------------------------- the response builder


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Text in parts of at most `limit` characters, cut at a line break or a space where there is one."""
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def label(title: str, limit: int = LABEL_LIMIT) -> str:
    title = " ".join(str(title).split())
    return title if len(title) <= limit else title[: limit - 1] + "…"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _action(title: str, payload_key: str, block_id: str) -> dict:
    """How a tap comes back: with a block id, to that block with our key in `extra`; otherwise as the
    title said in chat (matched back to its payload by Recall)."""
    if block_id:
        return {"action": "block", "blockId": block_id, "messageText": title, "extra": {EXTRA_KEY: payload_key}}
    return {"action": "message", "messageText": title}


def _button_outputs(buttons: list[dict], key_for: Callable[[str], str], block_id: str,
                    said: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """(outputs, quick replies) for a message's buttons: short titles as quick replies; long titles (an
    order's product and price) as a listCard, more than LIST_ITEMS of them as a carousel of basicCards."""
    buttons = [b for b in buttons if b.get("title") and b.get("payload")]
    if not buttons:
        return [], []
    for b in buttons:
        said[" ".join(str(b["title"]).split())] = str(b["payload"])
    if all(len(" ".join(str(b["title"]).split())) <= LABEL_LIMIT for b in buttons):
        replies = []
        for b in buttons[:MAX_QUICK_REPLIES]:
            title = " ".join(str(b["title"]).split())
            replies.append({"label": title, **_action(title, key_for(str(b["payload"])), block_id)})
        return [], replies
    entries = []
    for b in buttons:
        title = " ".join(str(b["title"]).split())
        head, _, rest = title.partition(" · ")
        entries.append((title, head, rest, key_for(str(b["payload"]))))
    if len(entries) <= LIST_ITEMS:
        items = [{"title": _clip(head, LIST_TITLE_LIMIT), "description": _clip(rest, LIST_TITLE_LIMIT),
                  **_action(title, key, block_id)} for title, head, rest, key in entries]
        return [{"listCard": {"header": {"title": words.CHOOSE_KO[:HEADER_LIMIT]}, "items": items}}], []
    cards = [{"title": _clip(head, CARD_TITLE_LIMIT), "description": _clip(rest, CARD_DESCRIPTION_LIMIT),
              "buttons": [{"label": "선택", **_action(title, key, block_id)}]}
             for title, head, rest, key in entries[:CAROUSEL_ITEMS]]
    return [{"carousel": {"type": "basicCard", "items": cards}}], []


@dataclass
class Built:
    """A skill response, what did not fit in it (shown by [더 보기]), and the titles of its buttons."""

    body: dict
    rest: Optional[dict] = None  # {"outputs": [...], "quickReplies": [...]} left for [더 보기]
    said: dict[str, str] = field(default_factory=dict)  # button title → payload


def _merge_texts(outputs: list[dict]) -> list[dict]:
    merged: list[dict] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (previous is not None and "simpleText" in output and "simpleText" in previous
                and len(previous["simpleText"]["text"]) + 2 + len(output["simpleText"]["text"]) <= TEXT_LIMIT):
            previous["simpleText"] = {"text": previous["simpleText"]["text"] + "\n\n" + output["simpleText"]["text"]}
        else:
            merged.append(dict(output))
    return merged


def skill_body(outputs: list[dict], quick_replies: Optional[list[dict]] = None) -> dict:
    template: dict[str, Any] = {"outputs": outputs}
    if quick_replies:
        template["quickReplies"] = quick_replies
    return {"version": "2.0", "template": template}


def page(outputs: list[dict], quick_replies: list[dict], block_id: str = "") -> tuple[dict, Optional[dict]]:
    """At most MAX_OUTPUTS outputs in this response; the rest, with the quick replies, behind [더 보기]."""
    if len(outputs) <= MAX_OUTPUTS:
        return skill_body(outputs, quick_replies), None
    shown = outputs[:MAX_OUTPUTS]
    more = {"label": words.MORE_LABEL, **_action(words.MORE_LABEL, MORE_KEY, block_id)}
    return skill_body(shown, [more]), {"outputs": outputs[MAX_OUTPUTS:], "quickReplies": quick_replies}


def build_response(messages: list[dict], key_for: Callable[[str], str] = lambda p: p,
                   block_id: str = "") -> Built:
    """One skill response for Rasa's (and the channel's) messages, within Kakao's limits."""
    outputs: list[dict] = []
    replies: list[dict] = []
    said: dict[str, str] = {}
    for message in messages:
        for part in split_text(str(message.get("text") or "")):
            outputs.append({"simpleText": {"text": part}})
        if message.get("image"):
            outputs.append({"simpleImage": {"imageUrl": str(message["image"]), "altText": "이미지"}})
        more_outputs, more_replies = _button_outputs(list(message.get("buttons") or []), key_for, block_id, said)
        outputs.extend(more_outputs)
        # One row of quick replies per response: every message's, in order (a hand-back's rating and then the
        # greeting's menu), without repeats, at most MAX_QUICK_REPLIES.
        for reply in more_replies:
            if len(replies) < MAX_QUICK_REPLIES and all(r["label"] != reply["label"] for r in replies):
                replies.append(reply)
    outputs = _merge_texts(outputs)
    if not outputs:
        return Built(skill_body([{"simpleText": {"text": words.SORRY_KO}}]), None, said)
    body, rest = page(outputs, replies, block_id)
    return Built(body, rest, said)


def callback_waiting_body() -> dict:
    return {"version": "2.0", "useCallback": True, "data": {"text": words.WAITING_KO}}


# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class SkillRequest:
    user_key: str
    utterance: str
    callback_url: Optional[str]
    params: dict
    client_extra: dict
    properties: dict
    block: dict

    @classmethod
    def parse(cls, body: Any) -> "SkillRequest":
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        user_request = body.get("userRequest")
        if not isinstance(user_request, dict):
            raise ValueError("no userRequest")
        user = user_request.get("user") if isinstance(user_request.get("user"), dict) else {}
        user_key = user.get("id")
        if not isinstance(user_key, str) or not user_key.strip() or len(user_key) > 128:
            raise ValueError("no userRequest.user.id")
        action = body.get("action") if isinstance(body.get("action"), dict) else {}
        params: dict = {}
        for name in ("params", "detailParams"):
            if isinstance(action.get(name), dict):
                params[name] = action[name]
        extra = action.get("clientExtra")
        utterance = user_request.get("utterance")
        callback = user_request.get("callbackUrl")
        return cls(
            user_key=user_key,
            utterance=utterance if isinstance(utterance, str) else "",
            callback_url=callback if isinstance(callback, str) and callback_allowed(callback) else None,
            params=params,
            client_extra=extra if isinstance(extra, dict) else {},
            properties=user.get("properties") if isinstance(user.get("properties"), dict) else {},
            block=user_request.get("block") if isinstance(user_request.get("block"), dict) else {},
        )


def _strings(value: Any) -> list[str]:
    """Every string inside params (secureimage passes a JSON string whose secureUrls reads "List(url, url)")."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                return _strings(json.loads(text))
        return [text]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def host_allowed(url: str, hosts: list[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return bool(host) and any(host == h or host.endswith("." + h) for h in hosts)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def callback_allowed(url: str) -> bool:
    """Whether the server may POST an answer to this callbackUrl: https on CLEANBOT_KAKAO_CALLBACK_HOSTS, or
    the loopback in demo mode. Anything else is ignored (the answer then comes inline or with the next one)."""
    from bot.settings import get_settings

    settings = get_settings()
    parts = urlsplit(url)
    if not settings.is_production and (parts.hostname or "") in LOOPBACK_HOSTS:
        return parts.scheme in ("http", "https")
    return parts.scheme == "https" and host_allowed(url, settings.kakao_callback_host_list)


def photo_urls(request: SkillRequest, hosts: list[str]) -> tuple[list[str], str]:
    """(the photo URLs of a request, the utterance without them). URLs in params are always photos; in the
    utterance, those of an allowed host, those that look like an image, or an utterance of URLs only."""
    urls: list[str] = []
    for text in _strings(request.params):
        urls.extend(URL_RE.findall(text))
    utterance = request.utterance
    found = URL_RE.findall(utterance)
    only_urls = bool(found) and not URL_RE.sub("", utterance).strip()
    for url in found:
        if only_urls or host_allowed(url, hosts) or IMAGE_PATH_RE.search(urlsplit(url).path):
            urls.append(url)
            utterance = utterance.replace(url, " ")
    return list(dict.fromkeys(urls)), " ".join(utterance.split())


class PhotoRefused(Exception):
    def __init__(self, message_ko: str):
        super().__init__(message_ko)
        self.message_ko = message_ko


async def download(url: str, hosts: list[str], max_bytes: int, timeout: float,
                   position: Optional[int] = None) -> bytes:
    """The image at `url`, from an allowed host only, at most max_bytes, within timeout seconds; redirects are
    not followed (they could lead anywhere)."""
    import httpx

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not host_allowed(url, hosts):
        raise PhotoRefused(words.photo_host_refused_ko(parts.hostname or url[:40]))
    limit_mb = max(1, max_bytes // (1024 * 1024))

    async def fetch() -> bytes:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            async with client.stream("GET", url) as reply:
                if reply.status_code != 200:
                    raise PhotoRefused(words.photo_failed_ko(position))
                declared = reply.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise PhotoRefused(words.photo_too_big_ko(limit_mb, position))
                data = bytearray()
                async for chunk in reply.aiter_bytes():
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        raise PhotoRefused(words.photo_too_big_ko(limit_mb, position))
                return bytes(data)

    try:
        return await asyncio.wait_for(fetch(), timeout)  # the whole download, however slowly it trickles
    except PhotoRefused:
        raise
    except (httpx.HTTPError, asyncio.TimeoutError, OSError) as error:
        logger.info("Kakao: photo from %s not downloaded: %r", parts.hostname, error)
        raise PhotoRefused(words.photo_failed_ko(position)) from error


# ---------------------------------------------------------------- what a process remembers per user


class Recall:
    """Per Kakao user, in this process: the button titles of the last answer (a tapped quick reply without a
    block id arrives as its title), what did not fit in it ([더 보기]), and answers that missed their response
    (too late, or their callback failed: they come first in the next one). Bounded; lost on restart."""

    def __init__(self, max_users: int = 10_000):
        self.max_users = max_users
        self._said: "OrderedDict[str, dict[str, str]]" = OrderedDict()
        self._rest: "OrderedDict[str, list[dict]]" = OrderedDict()
        self._late: "OrderedDict[str, list[dict]]" = OrderedDict()
        self._lock = threading.Lock()

    def _put(self, table: OrderedDict, user: str, value: Any) -> None:
        table[user] = value
        table.move_to_end(user)
        while len(table) > self.max_users:
            table.popitem(last=False)

    def remember(self, user: str, built: Built) -> None:
        with self._lock:
            if built.said:
                self._put(self._said, user, built.said)
            if built.rest:
                self._put(self._rest, user, [built.rest])

    def carry(self, user: str, rest: dict) -> None:
        """More pages for [더 보기]."""
        with self._lock:
            self._put(self._rest, user, self._rest.get(user, []) + [rest])

    def late(self, user: str, messages: list[dict]) -> None:
        """An answer that missed its response: shown before the next one."""
        with self._lock:
            self._put(self._late, user, self._late.get(user, []) + list(messages))

    def take_late(self, user: str) -> list[dict]:
        with self._lock:
            return self._late.pop(user, [])

    def payload_for(self, user: str, text: str) -> Optional[str]:
        with self._lock:
            return self._said.get(user, {}).get(" ".join(text.split()))

    def take_rest(self, user: str) -> list[dict]:
        with self._lock:
            return self._rest.pop(user, [])


# ---------------------------------------------------------------- the skill


@dataclass
class Reply:
    status: int
    body: dict


class KakaoSkill:
    """The skill server's logic, apart from Sanic (driven directly in tests)."""

    def __init__(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], input_channel: str = CHANNEL):
        self.on_new_message = on_new_message
        self.input_channel = input_channel
        self.recall = Recall()
        self._background: set[asyncio.Task] = set()

    # -------------------------------------------------------------- the door

    @staticmethod
    def secret_ok(given: Optional[str]) -> bool:
        from bot.settings import get_settings

        settings = get_settings()
        expected = settings.kakao_skill_secret
        if not expected:
            return not settings.is_production  # demo only (production refuses to start without one)
        if not given:
            return False
        return hmac.compare_digest(expected.encode(), given.encode())

    async def handle(self, raw: bytes, headers: Any, query_secret: Optional[str] = None) -> Reply:
        from bot.settings import get_settings

        started = time.monotonic()
        settings = get_settings()
        if not settings.kakao_on:
            return Reply(404, {"error": "카카오톡 채널이 꺼져 있어요(CLEANBOT_KAKAO_ENABLED).", "code": "kakao_off"})
        if len(raw or b"") > MAX_BODY:
            return Reply(413, {"error": "요청이 너무 커요.", "code": "too_large"})
        if not self.secret_ok(headers.get(SECRET_HEADER) or query_secret):
            return Reply(403, {"error": "forbidden", "code": "forbidden"})
        try:
            request = SkillRequest.parse(json.loads(raw or b"null"))
        except ValueError:
            return Reply(400, {"error": "Open Builder 스킬 요청 형식이 아니에요.", "code": "bad_request"})
        user = request.user_key
        try:
            await check_rate(f"{CHANNEL}:{user}")
        except DoorError as refused:
            return Reply(200, skill_body([{"simpleText": {"text": refused.message_ko}}]))
        return await self._answer(request, started)

    # -------------------------------------------------------------- answering

    def _key_for(self, payload: str) -> str:
        from bot.services import telegram as keys

        return keys.callback_data_for(payload)

    async def _built(self, user: str, messages: list[dict]) -> Built:
        from bot.settings import get_settings

        built = await asyncio.to_thread(build_response, messages, self._key_for, get_settings().kakao_block_id)
        self.recall.remember(user, built)
        return built

    async def _answer(self, request: SkillRequest, started: float) -> Reply:
        from bot.settings import get_settings

        settings = get_settings()
        user = request.user_key
        extra = request.client_extra.get(EXTRA_KEY)
        utterance = clean_text(request.utterance)
        late = self.recall.take_late(user)
        if extra == MORE_KEY or (not extra and utterance == words.MORE_LABEL):
            if late:
                return Reply(200, (await self._built(user, late)).body)
            return Reply(200, self._more(user))

        link = LINK_RE.match(utterance)
        if link:
            from bot.services import telegram as links

            result = await asyncio.to_thread(links.redeem_link_token, link.group(1), user, links.KAKAO)
            text = words.LINK_KO[result.status].format(name=result.customer_name or "")
            return Reply(200, (await self._built(user, late + [{"text": text}])).body)

        if isinstance(extra, str) and extra:
            from bot.services import telegram as keys

            payload = await asyncio.to_thread(keys.payload_for, extra)
            if not payload:
                return Reply(200, skill_body([{"simpleText": {"text": words.STALE_BUTTON_KO}}]))
            text, notices, metadata = clean_text(payload), [], {}
        else:
            text, notices, metadata = await self._content(request, utterance, settings)
            recalled = self.recall.payload_for(user, text) if text else None
            if recalled:
                text = clean_text(recalled)
        metadata["kakao"] = {k: v for k, v in {
            "plusfriend_user_key": request.properties.get("plusfriendUserKey"),
            "app_user_id": request.properties.get("appUserId"),
            "block": request.block.get("name"),
        }.items() if isinstance(v, (str, int))}

        before = late + [{"text": n} for n in notices]
        if not text:
            return Reply(200, (await self._built(user, before)).body)

        task = asyncio.create_task(self._converse(request, text[:MAX_TEXT], metadata))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        budget = max(0.0, settings.kakao_answer_seconds - (time.monotonic() - started))
        done, _ = await asyncio.wait({task}, timeout=budget)
        if task in done:
            return Reply(200, (await self._built(user, before + self._result(task))).body)
        if request.callback_url:
            self._spawn(self._call_back(request, task, before, started))
            return Reply(200, callback_waiting_body())
        # No callback on this block: wait out what Kakao allows, then apologise and carry the answer over.
        done, _ = await asyncio.wait({task}, timeout=max(0.0, HARD_SECONDS - (time.monotonic() - started)))
        if task in done:
            return Reply(200, (await self._built(user, before + self._result(task))).body)
        self._spawn(self._carry_when_done(user, task))
        return Reply(200, (await self._built(user, before + [{"text": words.LATE_KO}])).body)

    def _spawn(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    def _result(task: asyncio.Task) -> list[dict]:
        if task.cancelled() or task.exception() is not None:
            if not task.cancelled():
                logger.error("Kakao: a message failed", exc_info=task.exception())
            return [{"text": words.SORRY_KO}]
        return task.result()

    def _more(self, user: str) -> dict:
        rests = self.recall.take_rest(user)
        if not rests:
            return skill_body([{"simpleText": {"text": words.NOTHING_MORE_KO}}])
        outputs = [o for r in rests for o in r["outputs"]]
        replies = next((r["quickReplies"] for r in reversed(rests) if r.get("quickReplies")), [])
        from bot.settings import get_settings

        body, rest = page(_merge_texts(outputs), replies, get_settings().kakao_block_id)
        if rest:
            self.recall.carry(user, rest)
        return body

    async def _content(self, request: SkillRequest, utterance: str, settings) -> tuple[str, list[str], dict]:
        """(text for Rasa, notices for the user, metadata): the photos downloaded and stored."""
        hosts = settings.kakao_image_host_list
        urls, text = photo_urls(request, hosts)
        text = clean_text(text)
        notices: list[str] = []
        blobs: list[bytes] = []
        urls = urls[: settings.photos_per_report]
        # All at once: their time counts against Kakao's five seconds.
        results = await asyncio.gather(*(
            download(url, hosts, settings.photo_max_bytes, settings.kakao_image_timeout_seconds,
                     position if len(urls) > 1 else None)
            for position, url in enumerate(urls, 1)), return_exceptions=True)
        for result in results:
            if isinstance(result, PhotoRefused):
                notices.append(result.message_ko)
            elif isinstance(result, BaseException):
                raise result
            else:
                blobs.append(result)
        metadata: dict[str, Any] = {}
        if blobs:
            from bot.services.photos import accept_bytes_async

            accepted = await accept_bytes_async(blobs)
            metadata["photo_ids"] = accepted.ids
            metadata["photo_errors"] = accepted.errors_ko
            if not text:
                text = PHOTO_ONLY_TEXT
        return text, list(dict.fromkeys(notices)), metadata

    async def _converse(self, request: SkillRequest, text: str, metadata: dict) -> list[dict]:
        """Rasa's answer to one message, with the agents' messages before and status updates after."""
        from connectors.handoff import hub
        from connectors.rest import pending_handoff_messages, pending_updates

        user = request.user_key
        collector = CollectingOutputChannel()
        await hub.handle(UserMessage(text, collector, user, input_channel=self.input_channel, metadata=metadata),
                         self.on_new_message)
        agents = await asyncio.to_thread(pending_handoff_messages, self.input_channel, user)
        updates = await asyncio.to_thread(pending_updates, self.input_channel, user)
        messages = agents + collector.messages + updates
        if not messages and await self._handed_over(user):
            if request.callback_url:
                # The callback stays open for a while: the agent's first reply goes through it.
                from bot.settings import get_settings

                deadline = time.monotonic() + get_settings().kakao_callback_seconds - 5
                while time.monotonic() < deadline:
                    await asyncio.sleep(1)
                    agents = await asyncio.to_thread(pending_handoff_messages, self.input_channel, user)
                    if agents:
                        return agents
            return [{"text": words.TO_AGENTS_KO}]
        return messages

    async def _handed_over(self, user: str) -> bool:
        from bot.services import handoff

        try:
            return await asyncio.to_thread(handoff.open_for, CHANNEL, user) is not None
        except Exception:  # noqa: BLE001 - the gate reports database trouble
            return False

    async def _call_back(self, request: SkillRequest, task: asyncio.Task, before: list[dict], started: float) -> None:
        """Posts the answer to the block's callback URL once, within the minute Kakao keeps it open."""
        from bot.settings import get_settings

        user = request.user_key
        limit = max(1.0, get_settings().kakao_callback_seconds - (time.monotonic() - started))
        done, _ = await asyncio.wait({task}, timeout=limit)
        messages = before + (self._result(task) if task in done else [{"text": words.LATE_KO}])
        if task not in done:
            self._spawn(self._carry_when_done(user, task))
        built = await self._built(user, messages)
        if not await post_callback(request.callback_url, built.body):
            self.recall.late(user, messages)

    async def _carry_when_done(self, user: str, task: asyncio.Task) -> None:
        with contextlib.suppress(Exception):
            await task
        self.recall.late(user, self._result(task))

    async def drain(self, timeout: float = 10) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)


async def post_callback(url: str, body: dict, attempts: int = 2) -> bool:
    """One POST of the answer to a callback URL (Kakao accepts one use): retried only when it never got
    there (a connection error), never after Kakao answered."""
    import httpx

    for attempt in range(attempts):
        try:
            async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
                reply = await client.post(url, json=body)
            if reply.status_code >= 400:
                logger.warning("Kakao: the callback URL answered %s: %s", reply.status_code, reply.text[:300])
                return False
            return True
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            logger.warning("Kakao: callback attempt %s failed: %s", attempt + 1, error)
        except httpx.HTTPError as error:
            logger.warning("Kakao: callback failed: %s", error)
            return False
    return False


# ---------------------------------------------------------------- the Rasa input channel


class KakaoSkillInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return CHANNEL

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "KakaoSkillInput":
        return cls()

    def __init__(self) -> None:
        self.skill: Optional[KakaoSkill] = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("cleanbot_kakao_webhook", __name__)
        skill = self.skill = KakaoSkill(on_new_message, input_channel=self.name())

        @webhook.listener("after_server_start")
        async def attach(app, _loop) -> None:
            from connectors.handoff import hub

            hub.attach(app)

        @webhook.listener("before_server_stop")
        async def drain(_app, _loop) -> None:
            await skill.drain()

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            from bot.settings import get_settings

            return response.json({"status": "ok" if get_settings().kakao_on else "off"})

        @webhook.route("/skill", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            from connectors.handoff import hub

            hub.attach(request.app)
            reply = await skill.handle(request.body, request.headers, request.args.get("secret"))
            return response.json(reply.body, status=reply.status)

        return webhook


__all__ = ["KakaoSkillInput", "KakaoSkill", "build_response", "split_text", "SkillRequest", "photo_urls"]
