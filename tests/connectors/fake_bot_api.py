"""A fake Telegram Bot API server for tests: real HTTP on 127.0.0.1 (aiohttp, in a thread of its own).

python-telegram-bot talks to it through `base_url` / `base_file_url`:

    fake = FakeBotAPI().start()
    bot = telegram.Bot(fake.token, base_url=fake.base_url, base_file_url=fake.file_base_url)

It implements what the Clean Bot channel uses (getMe, sendMessage, sendPhoto, sendChatAction,
answerCallbackQuery, editMessageReplyMarkup, getFile and the file download path, setWebhook,
deleteWebhook, getWebhookInfo, getUpdates) and the forum-topic methods for the agents' group
(createForumTopic, editForumTopic, closeForumTopic, reopenForumTopic, getChatMember; sendMessage and
sendPhoto with message_thread_id). Topics are tracked (`topics`): `delete_topic` makes the next calls
on it fail the way Telegram does ("message thread not found" / TOPIC_ID_INVALID), and reopening an open
topic answers TOPIC_NOT_MODIFIED. `members` maps user ids to their getChatMember status (default
"left"). `topic_update` and `topic_closed_update` build messages in a forum topic. Every call is recorded with its arrival time (`calls`); `fail(...)` makes the next
matching calls answer 429 with retry_after, 5xx, or a 400 with a given description;
`deleteForumTopic` deletes a topic; `max_in_flight[method]` is the most calls of a method answered at
the same time (two long pollers of one bot would make it 2). Tests build updates with `text_update`,
`photo_update`, `callback_update`, … and either queue them for getUpdates (`queue_update`) or post them
to the registered webhook like Telegram does (`deliver`)."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from aiohttp import web

TEXT_KEYS = {"text", "caption", "secret_token", "url", "callback_query_id", "file_id", "data", "name", "photo",
             "action", "parse_mode", "icon_custom_emoji_id"}
FILE_LIMIT = 20 * 1024 * 1024


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival
    status: int = 200
    result: Any = None

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[dict]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass
class Failure:
    method: str
    status: int
    retry_after: Optional[int]
    description: str
    times: int
    chat_id: Any = None


@dataclass
class StoredFile:
    file_id: str
    data: Optional[bytes]
    size: int
    path: str


@dataclass
class FakeBotAPI:
    token: str = "123456789:TEST-token_for-the-fake-server"
    username: str = "cleanbot_test_bot"
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.bot_id = int(self.token.split(":")[0])
        self._lock = threading.Lock()
        self._failures: list[Failure] = []
        self._updates: list[dict] = []
        self._update_ids = itertools.count(500_000_001)
        self._message_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._files: dict[str, StoredFile] = {}
        self.webhook: dict[str, Any] = {}
        self.topics: dict[int, dict[str, Any]] = {}  # message_thread_id -> {"name", "closed", "deleted"}
        self.members: dict[int, str] = {}  # user id -> getChatMember status in any group
        self.in_flight: dict[str, int] = {}  # method -> calls being answered now
        self.max_in_flight: dict[str, int] = {}  # method -> the most at once
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._new_update: Optional[asyncio.Event] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self.port = 0

    # ------------------------------------------------------------ server

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def file_base_url(self) -> str:
        return f"{self.url}/file/bot"

    def start(self) -> "FakeBotAPI":
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._new_update = asyncio.Event()
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_route("*", "/bot{token}/{method}", self._api)
            app.router.add_get("/file/bot{token}/{path:.+}", self._download)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()
            pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:  # gather() of nothing asks for the thread's current loop, which uvloop refuses
                self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="fake-bot-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Bot API did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            if self._new_update is not None:  # wake any long poll so it can finish
                self._loop.call_soon_threadsafe(self._new_update.set)
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # ------------------------------------------------------------ test controls

    def fail(self, method: str, status: int = 429, retry_after: Optional[int] = None, times: int = 1,
             description: Optional[str] = None, chat_id: Any = None) -> None:
        """The next `times` calls of `method` (to `chat_id`, if given) fail with `status`."""
        if description is None:
            description = (f"Too Many Requests: retry after {retry_after}" if status == 429
                           else "Internal Server Error" if status >= 500 else "Bad Request")
        with self._lock:
            self._failures.append(Failure(method, status, retry_after, description, times, chat_id))

    def add_file(self, data: Optional[bytes] = None, size: Optional[int] = None, ext: str = "jpg") -> str:
        """A file the bot can getFile and download; `size` alone declares a file too big to have bytes."""
        file_id = f"FILE{next(self._ids):06d}"
        with self._lock:
            self._files[file_id] = StoredFile(file_id, data, size if size is not None else len(data or b""),
                                              f"photos/{file_id}.{ext}")
        return file_id

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def calls_of(self, *methods: str, chat_id: Any = None, since: float = 0.0) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if (not methods or c.method in methods) and c.at >= since
                    and (chat_id is None or c.chat_id == chat_id)]

    def sent(self, chat_id: Any = None, since: float = 0.0) -> list[Call]:
        """Messages the bot got accepted (sendMessage / sendPhoto answered 200)."""
        return [c for c in self.calls_of("sendMessage", "sendPhoto", chat_id=chat_id, since=since) if c.status == 200]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for the bot; calls: "
                             f"{[(c.method, c.text[:60]) for c in self.calls[-12:]]}")

    def wait_text(self, chat_id: Any, needle: str, since: float = 0.0, timeout: float = 90.0) -> list[Call]:
        """Waits until a message containing `needle` reached the chat; returns the messages since `since`."""
        self.wait_for(lambda: any(needle in c.text for c in self.sent(chat_id, since)), timeout)
        return self.sent(chat_id, since)

    def wait_quiet(self, chat_id: Any, since: float, quiet: float = 2.5, timeout: float = 90.0) -> list[Call]:
        """Waits until at least one message arrived and none for `quiet` seconds; returns them."""
        def settled():
            sent = self.sent(chat_id, since)
            return sent and time.monotonic() - sent[-1].at >= quiet and sent
        return self.wait_for(settled, timeout)

    # ------------------------------------------------------------ updates

    def _user(self, user_id: int, first_name: str = "테스트") -> dict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "ko"}

    def _chat(self, chat_id: int, kind: str = "private") -> dict:
        chat = {"id": chat_id, "type": kind}
        if kind == "private":
            chat["first_name"] = "테스트"
        else:
            chat["title"] = "상담원 그룹"
        return chat

    def message_update(self, user_id: int, chat_type: str = "private", chat_id: Optional[int] = None,
                       update_id: Optional[int] = None, field_name: str = "message", **content: Any) -> dict:
        message = {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(chat_id if chat_id is not None else user_id, chat_type),
                   "from": self._user(user_id), **content}
        if field_name == "edited_message":
            message["edit_date"] = int(time.time())
        return {"update_id": update_id if update_id is not None else next(self._update_ids), field_name: message}

    def text_update(self, user_id: int, text: str, **kwargs: Any) -> dict:
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
        return self.message_update(user_id, text=text, **({"entities": entities} if entities else {}), **kwargs)

    def photo_update(self, user_id: int, file_id: str, caption: Optional[str] = None,
                     media_group_id: Optional[str] = None, **kwargs: Any) -> dict:
        stored = self._files[file_id]
        small = self.add_file(b"thumbnail", ext="jpg")
        sizes = [
            {"file_id": small, "file_unique_id": f"u{small}", "width": 90, "height": 67, "file_size": 9},
            {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 1280, "height": 960,
             "file_size": stored.size},
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption:
            content["caption"] = caption
        if media_group_id:
            content["media_group_id"] = media_group_id
        return self.message_update(user_id, **content, **kwargs)

    def topic_update(self, user_id: int, chat_id: int, thread_id: Optional[int], text: Optional[str] = None,
                     file_id: Optional[str] = None, caption: Optional[str] = None, **content: Any) -> dict:
        """A message in a forum topic of a supergroup (thread_id None: the General topic)."""
        if file_id is not None:
            stored = self._files[file_id]
            content["photo"] = [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800, "height": 600,
                                 "file_size": stored.size}]
            if caption:
                content["caption"] = caption
        if text is not None:
            content["text"] = text
            if text.startswith("/"):
                content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
        if thread_id is not None:
            content.update(message_thread_id=thread_id, is_topic_message=True)
        update = self.message_update(user_id, chat_type="supergroup", chat_id=chat_id, **content)
        update["message"]["chat"]["is_forum"] = True
        return update

    def topic_closed_update(self, user_id: int, chat_id: int, thread_id: int) -> dict:
        with self._lock:
            if thread_id in self.topics:
                self.topics[thread_id]["closed"] = True
        return self.topic_update(user_id, chat_id, thread_id, forum_topic_closed={})

    def delete_topic(self, thread_id: int) -> None:
        """As if an admin deleted the topic in the app."""
        with self._lock:
            self.topics.setdefault(thread_id, {"name": "?", "closed": False})["deleted"] = True

    def topic_messages(self, thread_id: int, since: float = 0.0) -> list[Call]:
        """What the bot got accepted in one topic."""
        return [c for c in self.sent(since=since) if c.params.get("message_thread_id") == thread_id]

    def callback_update(self, user_id: int, data: str, message: Optional[Call] = None,
                        update_id: Optional[int] = None) -> dict:
        source = (message.result if message is not None and isinstance(message.result, dict) else
                  {"message_id": next(self._message_ids), "date": int(time.time()),
                   "chat": self._chat(user_id), "text": "…"})
        return {"update_id": update_id if update_id is not None else next(self._update_ids),
                "callback_query": {"id": f"CQ{next(self._ids)}", "from": self._user(user_id),
                                   "chat_instance": "ci-1", "data": data, "message": source}}

    def queue_update(self, update: dict) -> dict:
        """Hands an update to the next getUpdates (long polling)."""
        with self._lock:
            self._updates.append(update)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return update

    def deliver(self, update: dict, url: Optional[str] = None, secret: Any = ...) -> int:
        """Posts an update to the webhook like Telegram does (the registered URL and secret by default)."""
        url = url or self.webhook.get("url")
        secret = self.webhook.get("secret_token") if secret is ... else secret
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(url, data=json.dumps(update).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status
        except urllib.error.HTTPError as error:
            return error.code

    # ------------------------------------------------------------ the API

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw = await request.json()
            return dict(raw) if isinstance(raw, dict) else {}
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                params[key] = value.file.read() if hasattr(value, "file") else value
        decoded: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, str) and key not in TEXT_KEYS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            decoded[key] = value
        return decoded

    def _failure_for(self, method: str, params: dict) -> Optional[Failure]:
        with self._lock:
            for failure in self._failures:
                if failure.method == method and failure.times > 0 and (
                        failure.chat_id is None or failure.chat_id == params.get("chat_id")):
                    failure.times -= 1
                    if failure.times == 0:
                        self._failures.remove(failure)
                    return failure
        return None

    def _message(self, params: dict, **content: Any) -> dict:
        chat_id = params.get("chat_id")
        chat = self._chat(chat_id, "private" if isinstance(chat_id, int) and chat_id > 0 else "supergroup")
        message = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat,
                   "from": {"id": self.bot_id, "is_bot": True, "first_name": "클린봇", "username": self.username},
                   **content}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
            message["is_topic_message"] = True
        return message

    async def _api(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, arrived)
        with self._lock:
            self.calls.append(call)
        if request.match_info["token"] != self.token:
            call.status = 401
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        failure = self._failure_for(method, params)
        if failure is not None:
            call.status = failure.status
            body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return web.json_response(body, status=failure.status)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.status = 404
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        with self._lock:
            self.in_flight[method] = self.in_flight.get(method, 0) + 1
            self.max_in_flight[method] = max(self.max_in_flight.get(method, 0), self.in_flight[method])
        try:
            result = await handler(params)
        except _ApiError as error:
            call.status = error.status
            return web.json_response({"ok": False, "error_code": error.status, "description": error.description},
                                     status=error.status)
        finally:
            with self._lock:
                self.in_flight[method] -= 1
        call.result = result
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        with self._lock:
            self.calls.append(Call("download", {"path": path}, time.monotonic()))
            stored = next((f for f in self._files.values() if f.path == path), None)
        if request.match_info["token"] != self.token or stored is None or stored.data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _m_getMe(self, params: dict) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": "클린봇", "username": self.username,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _check_thread(self, params: dict, missing: str = "Bad Request: message thread not found") -> None:
        thread = params.get("message_thread_id")
        if thread is None:
            return
        with self._lock:
            topic = self.topics.get(int(thread))
        if topic is None or topic.get("deleted"):
            raise _ApiError(400, missing)

    async def _m_sendMessage(self, params: dict) -> dict:
        self._check_thread(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button and len(button["callback_data"].encode()) > 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return self._message(params, text=text)

    async def _m_sendPhoto(self, params: dict) -> dict:
        self._check_thread(params)
        file_id = self.add_file(params["photo"] if isinstance(params.get("photo"), bytes) else b"remote")
        content: dict[str, Any] = {"photo": [{"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 1,
                                              "height": 1}]}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._message(params, **content)

    async def _m_sendChatAction(self, params: dict) -> bool:
        return True

    async def _m_answerCallbackQuery(self, params: dict) -> bool:
        return True

    async def _m_editMessageReplyMarkup(self, params: dict) -> dict:
        return self._message(params, text="…", message_id=params.get("message_id"))

    async def _m_getFile(self, params: dict) -> dict:
        stored = self._files.get(params.get("file_id"))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        if stored.size > FILE_LIMIT:
            raise _ApiError(400, "Bad Request: file is too big")
        return {"file_id": stored.file_id, "file_unique_id": f"u{stored.file_id}", "file_size": stored.size,
                "file_path": stored.path}

    async def _m_setWebhook(self, params: dict) -> bool:
        self.webhook = {"url": params.get("url"), "secret_token": params.get("secret_token"),
                        "allowed_updates": params.get("allowed_updates")}
        return True

    async def _m_deleteWebhook(self, params: dict) -> bool:
        self.webhook = {}
        return True

    async def _m_getWebhookInfo(self, params: dict) -> dict:
        return {"url": self.webhook.get("url") or "", "has_custom_certificate": False, "pending_update_count": 0}

    async def _m_getUpdates(self, params: dict) -> list:
        if self.webhook.get("url"):
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        offset = params.get("offset")
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if offset is not None:  # confirmed updates are gone
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                pending = sorted(self._updates, key=lambda u: u["update_id"])[:limit]
                if pending:
                    return pending
                self._new_update.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._new_update.wait(), remaining)
            except asyncio.TimeoutError:
                return []

    async def _m_createForumTopic(self, params: dict) -> dict:
        thread = 1000 + next(self._ids)
        with self._lock:
            self.topics[thread] = {"name": params.get("name"), "closed": False, "deleted": False}
        return {"message_thread_id": thread, "name": params.get("name"), "icon_color": 7322096}

    def _topic(self, params: dict) -> dict:
        self._check_thread(params, "Bad Request: TOPIC_ID_INVALID")
        if params.get("message_thread_id") is None:
            raise _ApiError(400, "Bad Request: message thread not found")
        return self.topics[int(params["message_thread_id"])]

    async def _m_editForumTopic(self, params: dict) -> bool:
        topic = self._topic(params)
        if params.get("name") in (None, topic["name"]):
            raise _ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["name"] = params["name"]
        return True

    async def _m_closeForumTopic(self, params: dict) -> bool:
        topic = self._topic(params)
        if topic["closed"]:
            raise _ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = True
        return True

    async def _m_reopenForumTopic(self, params: dict) -> bool:
        topic = self._topic(params)
        if not topic["closed"]:
            raise _ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = False
        return True

    async def _m_deleteForumTopic(self, params: dict) -> bool:
        topic = self._topic(params)
        topic["deleted"] = True
        return True

    async def _m_getChatMember(self, params: dict) -> dict:
        user_id = int(params.get("user_id"))
        status = self.members.get(user_id, "left")
        member: dict[str, Any] = {"status": status, "user": self._user(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        return member


class _ApiError(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description
