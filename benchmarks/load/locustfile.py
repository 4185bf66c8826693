"""Closed-loop conversations for `cleanbot bench load` and `cleanbot bench soak` (issue #17), headless with
CSV output.

Each simulated user holds one conversation at a time and waits for every reply before it sends the next
message (no think time): N users = N concurrent conversations. Every conversation is a new shopper from the
pool file the harness wrote (bot/bench.py: generated customers, each with a refundable order and a second
delivered order), so trackers stay the size of one real conversation.

    CleanbotUser  클린봇 over REST: report flows cancelled at the confirmation (orders are not used up),
                  report flows confirmed with "네" (a real report and refund, one pool order each, then the
                  report's status by its number), FAQ questions, order lists and status checks, hand-over
                  requests.
    StockUser     stock Rasa's starter bot (`rasa init`): its own greet / mood / bot-challenge phrases.

Every message counts once in locust's statistics (ChatUser.say fires the request event itself), its time
from the first attempt to the final answer. In the soak a crash error is retried (BENCH_RETRY_SECONDS) and
counts as a failure only if it stays broken. A retried message may have been handled by the killed replica
before it died, so its retry meets a conversation that moved on: an answer out of step then is no failure
but counted apart ("out_of_step"), and the user starts a new conversation, as a person would; the "네" that
files a report instead asks for the shopper's reports to learn the number. (geventhttpclient itself resends a request once per pooled connection when the
connection closes before any answer; through nginx a dead replica is a 502 instead, which only we retry.)

Environment (set by the harness):
    BENCH_POOL        JSON file: {"entries": [[sender, refund_order, cancel_order, token_or_null], ...]}
    BENCH_START       first pool index this run may use for senders (and its refund counter)
    BENCH_STATE       where to write how many senders/refund orders this run used (read back by the harness)
    BENCH_SEED        random seed of the phrasing choices
    BENCH_RETRY_SECONDS  `cleanbot bench soak`: a message that failed with a connection error, 502, 503 or 504
                      (a replica killed under it) is sent again after a short pause, for up to this many
                      seconds after its first failure (default 0: no retries, every failure counts)
    BENCH_CLIENTS     where to write what the clients saw: every report number the bot replied with (and for
                      which order), retries, conversations that met a crash and whether they went on

Run by hand (the harness does exactly this):
    .venv-locust/bin/locust -f benchmarks/load/locustfile.py CleanbotUser --headless -u 8 -r 8 -t 30s \
        --host http://127.0.0.1:5005 --csv benchmarks/load/results/manual --reset-stats --only-summary
"""
from __future__ import annotations

import json
import os
import random
import re
import time
import uuid

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import CatchResponseError

WEBHOOK = "/webhooks/rest/webhook"
_rng = random.Random(int(os.environ.get("BENCH_SEED", "17")))
REPORT_NUMBER = re.compile(r"RPT-\d{4}-\d{6,}")
# What a crash looks like from the client: the connection failed or dropped (status 0), or nginx had no
# replica to answer (502 upstream gone mid-request, 503, 504). Anything else is the bot's real answer.
TRANSIENT = (0, 502, 503, 504)
RETRY_SECONDS = float(os.environ.get("BENCH_RETRY_SECONDS", "0"))
RETRY_PAUSES = (1.0, 2.0, 4.0, 8.0)  # then 8 s each, while within RETRY_SECONDS of the first failure


class StopConversation(Exception):
    """The reply was an error or not the expected step: the conversation ends here (already counted)."""


class Pool:
    """Pool entries handed out in order: every conversation gets a sender of its own from the first half
    (wrapping around only after the whole half was used); refunds take the refundable order of entries counted
    from the end of the pool, each at most once, so a refund's sender is never in another conversation."""

    def __init__(self) -> None:
        self.entries: list = []
        self.start = int(os.environ.get("BENCH_START", "0"))
        self.senders_used = 0
        self.refunds_used = 0
        self.refund_start = int(os.environ.get("BENCH_REFUND_START", "0"))
        path = os.environ.get("BENCH_POOL")
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                self.entries = json.load(handle)["entries"]

    def sender(self):
        """(sender, refund_order, cancel_order, token) for a new conversation (wraps around at the end)."""
        if not self.entries:
            return (f"bench-{uuid.uuid4().hex[:12]}", None, None, None)
        half = max(1, len(self.entries) // 2)  # senders come from the first half, refunds from the second
        entry = self.entries[(self.start + self.senders_used) % half]
        self.senders_used += 1
        return tuple(entry)

    def refund(self):
        """A pool entry whose refundable order was never used, or None when the pool has none left."""
        index = self.refund_start + self.refunds_used
        if index >= len(self.entries) // 2:  # the other half is for senders, so the two never meet
            return None
        self.refunds_used += 1
        return tuple(self.entries[len(self.entries) - 1 - index])


POOL = Pool()


class Clients:
    """What the clients saw, for the soak's checks against the database (bot.bench.check_invariants)."""

    def __init__(self) -> None:
        self.reports: list = []  # {"number", "sender", "order", "step"}: every report number a reply carried
        self.retries = 0  # messages sent again after a crash error
        self.retried_messages = 0  # messages that needed at least one retry
        self.crashed = 0  # conversations that met a crash error
        self.recovered = 0  # ... and got a good reply (HTTP 200, non-empty) afterwards
        self.interrupted = 0  # ... that the end of the run stopped before they could
        self.out_of_step: list = []  # retried messages answered as if their first attempt had gone through
        self.unrecovered: list = []  # ... that stayed broken: sender, the step and its last error

    def as_dict(self) -> dict:
        return {"reports": self.reports, "retries": self.retries, "retried_messages": self.retried_messages,
                "crashed_conversations": self.crashed, "recovered_conversations": self.recovered,
                "interrupted_conversations": self.interrupted, "unrecovered": self.unrecovered,
                "out_of_step": self.out_of_step}


CLIENTS = Clients()


@events.quitting.add_listener
def _save_state(environment, **_kwargs):
    path = os.environ.get("BENCH_STATE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"senders_used": POOL.senders_used, "refunds_used": POOL.refunds_used,
                       "pool_size": len(POOL.entries)}, handle)
    path = os.environ.get("BENCH_CLIENTS")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(CLIENTS.as_dict(), handle, ensure_ascii=False)


class ChatUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)  # closed loop: the next message goes as soon as the reply is in
    connection_timeout = 10.0
    network_timeout = 120.0

    def on_start(self) -> None:
        self.sender, self.token = f"bench-{uuid.uuid4().hex[:12]}", None
        self.crashed = self.recovered = self.last_retried = False
        self.order = self.unrecovered_error = None

    def begin(self, entry=None) -> tuple:
        entry = entry or POOL.sender()
        self.sender, self.token = entry[0], entry[3]
        self.crashed = self.recovered = False  # a new conversation
        self.last_retried, self.order = False, None
        return entry

    def _post(self, name: str, body: dict, headers: dict):
        """One attempt; not reported to locust's statistics (say() reports the message once)."""
        reply = self.client.post(WEBHOOK, json=body, headers=headers, name=name, catch_response=True)
        status = reply.status_code or 0
        error = None
        if status != 200:
            error = f"HTTP {status}: {(reply.text or '')[:120]}" if status else f"connection: {reply.error!r}"[:160]
        return reply, status, error

    def say(self, name: str, text: str, expect: tuple = (), any_after_retry: bool = False) -> str:
        """Sends one message and waits for the reply; a refusal, an empty reply or (when `expect` is given)
        a reply with none of the expected words counts as a failure and ends the conversation.

        With BENCH_RETRY_SECONDS, a crash error (TRANSIENT) is retried with the same message after a pause,
        as a real client would; the message counts once in the statistics, its time including the pauses,
        and as a failure only if it is still broken at the end of the retries. A retried message may have
        been handled by the killed replica already, so the conversation moved on: an unexpected answer then
        is recorded as out of step and ends the conversation without a failure, or with `any_after_retry`
        is returned to the caller, which checks the outcome another way."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"sender": self.sender, "message": text}
        started, start_time = time.perf_counter(), time.time()
        first_failure, retries = None, 0
        self.last_retried = False
        while True:
            reply, status, error = self._post(name, body, headers)
            if status not in TRANSIENT or not RETRY_SECONDS:
                break
            self.crashed, self.recovered = True, False  # recovered: a good reply after the latest crash
            now = time.monotonic()
            first_failure = first_failure or now
            pause = RETRY_PAUSES[min(retries, len(RETRY_PAUSES) - 1)]
            if now + pause - first_failure > RETRY_SECONDS:
                break
            retries += 1
            CLIENTS.retries += 1
            gevent.sleep(pause)
        if retries:
            CLIENTS.retried_messages += 1
            self.last_retried = True
        if status in TRANSIENT and RETRY_SECONDS:
            self.unrecovered_error = f"{name}: {error}"
        answer, failure, out_of_step = "", error, False
        if not failure:
            try:
                messages = reply.json()
            except Exception:  # noqa: BLE001 - anything but JSON is a failure
                messages, failure = None, "reply is not JSON"
            if not failure and (not isinstance(messages, list) or not messages):
                failure = "empty reply"
            if not failure:
                if self.crashed:
                    self.recovered = True  # the server answered after the crash: the conversation goes on
                answer = "\n".join(str(m.get("text") or "") for m in messages if isinstance(m, dict))
                self.note_reports(answer, name)
                out_of_step = bool(expect) and not any(word in answer for word in expect)
                if out_of_step and not self.last_retried:
                    failure = f"{name}: unexpected reply {answer[:100]!r}"
        self.environment.events.request.fire(
            request_type="POST", name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=reply.request_meta.get("response_length", 0), response=reply, context={},
            exception=CatchResponseError(failure) if failure else None, start_time=start_time, url=WEBHOOK)
        if failure:
            raise StopConversation
        if out_of_step:
            CLIENTS.out_of_step.append({"sender": self.sender, "step": name, "reply": answer[:100]})
            if not any_after_retry:
                raise StopConversation
        return answer

    def note_reports(self, answer: str, step: str) -> None:
        """Every report number in a reply, with the order this conversation is about (if any)."""
        for number in dict.fromkeys(REPORT_NUMBER.findall(answer)):
            CLIENTS.reports.append({"number": number, "sender": self.sender, "order": getattr(self, "order", None),
                                    "step": step})

    def converse(self, steps) -> None:
        self.unrecovered_error = None
        try:
            steps()
        except StopConversation:
            pass
        except BaseException:  # the run's end stopping this user mid-conversation (GreenletExit)
            if self.crashed and not self.recovered:
                CLIENTS.crashed += 1
                CLIENTS.interrupted += 1
                self.crashed = False
            raise
        finally:
            if self.crashed:
                CLIENTS.crashed += 1
                if self.recovered:
                    CLIENTS.recovered += 1
                else:
                    CLIENTS.unrecovered.append({"sender": self.sender, "error": self.unrecovered_error})
            self.crashed = self.recovered = False


# ------------------------------------------------------------------ 클린봇

REPORT_STARTS = ("가품 신고할게요", "가품 받은 것 같아요", "짝퉁 받았어요", "가짜 상품 신고하려고요", "환불 신청하고 싶어요")
DESCRIPTIONS = ("로고 위치가 정품이랑 다르고 박음질이 엉망이에요", "정품이랑 냄새가 달라요", "시리얼 넘버가 없어요",
                "가죽 냄새가 이상해요", "로고가 이상해요")
NO_PHOTOS = ("없어요", "사진 없어요")
# At the summary "아니요" asks what to change (issue #15): cancelling is "그만할래요" or the [신고 취소] button.
CANCELS = ("그만할래요", "/stop")
FAQS = ("환불은 언제 되나요?", "증빙 서류 없어도 환불되나요?", "환불은 언제 되나요?")
GREETINGS = ("안녕하세요", "안녕하세요!")
THANKS = ("고마워요", "감사합니다")


class CleanbotUser(ChatUser):
    """클린봇's shoppers. Weights: how often each conversation starts (about 3.5 messages each on average)."""

    def report_steps(self, order: str) -> None:
        if _rng.random() < 0.3:  # the order number in the first message
            self.say("report: start with order", f"{order} 주문한 물건이 짝퉁 같아요", ("주문을 확인했어요",))
        else:
            self.say("report: start", _rng.choice(REPORT_STARTS), ("주문번호", "주문을"))
            self.say("report: order number", order, ("주문을 확인했어요",))
        self.say("report: description", _rng.choice(DESCRIPTIONS), ("사진",))
        self.say("report: no photos", _rng.choice(NO_PHOTOS), ("이대로 신고할까요",))

    @task(3)
    def report_cancelled(self) -> None:
        entry = self.begin()

        def steps():
            self.report_steps(entry[2])
            self.say("report: cancel", _rng.choice(CANCELS), ("취소",))

        self.converse(steps)

    @task(1)
    def report_refunded(self) -> None:
        entry = POOL.refund()
        if entry is None:  # the pool's refundable orders are used up: a cancelled flow instead
            return self.report_cancelled()
        self.begin(entry)
        self.order = entry[1]

        def steps():
            self.report_steps(entry[1])
            answer = self.say("report: confirm (refund)", "네", ("RPT-",), any_after_retry=True)
            if "RPT-" not in answer:
                # The "네" went through on the replica that was killed before it replied, and the retry found
                # the form done: ask for the shopper's reports, as a person would, to learn the number.
                answer = self.say("status: list after retry", "신고 상태 알려 주세요", ("RPT-",))
            number = REPORT_NUMBER.search(answer).group(0)
            self.say("status: by report number", f"{number} 상태 알려 주세요", ("RPT-",))

        self.converse(steps)

    @task(2)
    def faq(self) -> None:
        self.begin()

        def steps():
            self.say("faq: greet", _rng.choice(GREETINGS), ("클린봇",))
            self.say("faq: question", _rng.choice(FAQS), ("환불", "서류", "증빙"))
            self.say("faq: thanks", _rng.choice(THANKS))

        self.converse(steps)

    @task(2)
    def orders_and_status(self) -> None:
        self.begin()

        def steps():
            self.say("orders: list", "최근 주문 보여주세요", ("최근 주문",))
            self.say("status: list", "신고 상태 알려 주세요", ("신고",))

        self.converse(steps)

    @task(1)
    def handover(self) -> None:
        self.begin()

        def steps():
            self.say("handover: ask", "상담원 연결해 주세요", ("상담원",))

        self.converse(steps)


# ------------------------------------------------------------------ stock Rasa (rasa init)


class StockUser(ChatUser):
    """Stock Rasa's starter bot: the happy and sad paths of its stories and the bot challenge, in its own
    phrasings (about 3.4 messages per conversation)."""

    def on_start(self) -> None:
        super().on_start()
        self.begin()

    def fresh(self) -> None:
        self.sender, self.token = f"stock-{uuid.uuid4().hex[:12]}", None

    @task(3)
    def happy(self) -> None:
        self.fresh()
        self.converse(lambda: (self.say("stock: greet", _rng.choice(("hello", "hi", "hey there"))),
                               self.say("stock: mood great", _rng.choice(("I am feeling great", "perfect", "very good"))),
                               self.say("stock: goodbye", "bye")))

    @task(2)
    def sad_then_better(self) -> None:
        self.fresh()
        self.converse(lambda: (self.say("stock: greet", _rng.choice(("good morning", "hey", "hello"))),
                               self.say("stock: mood unhappy", _rng.choice(("I am sad", "not good", "very sad"))),
                               self.say("stock: affirm", _rng.choice(("yes", "indeed"))),
                               self.say("stock: goodbye", "goodbye")))

    @task(2)
    def sad_still(self) -> None:
        self.fresh()
        self.converse(lambda: (self.say("stock: greet", "hi"),
                               self.say("stock: mood unhappy", "I am disappointed"),
                               self.say("stock: deny", _rng.choice(("no", "not really"))),))

    @task(1)
    def bot_challenge(self) -> None:
        self.fresh()
        self.converse(lambda: (self.say("stock: bot challenge", "are you a bot?"),
                               self.say("stock: goodbye", "see you later")))
