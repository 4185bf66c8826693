"""Closed-loop conversations for `cleanbot bench load` (issue #17), headless with CSV output.

Each simulated user holds one conversation at a time and waits for every reply before it sends the next
message (no think time): N users = N concurrent conversations. Every conversation is a new shopper from the
pool file the harness wrote (bot/bench.py: generated customers, each with a refundable order and a second
delivered order), so trackers stay the size of one real conversation.

    CleanbotUser  클린봇 over REST: report flows cancelled at the confirmation (orders are not used up),
                  report flows confirmed with "네" (a real report and refund, one pool order each, then the
                  report's status by its number), FAQ questions, order lists and status checks, hand-over
                  requests.
    StockUser     stock Rasa's starter bot (`rasa init`): its own greet / mood / bot-challenge phrases.

Environment (set by the harness):
    BENCH_POOL        JSON file: {"entries": [[sender, refund_order, cancel_order, token_or_null], ...]}
    BENCH_START       first pool index this run may use for senders (and its refund counter)
    BENCH_STATE       where to write how many senders/refund orders this run used (read back by the harness)
    BENCH_SEED        random seed of the phrasing choices

Run by hand (the harness does exactly this):
    .venv-locust/bin/locust -f benchmarks/load/locustfile.py CleanbotUser --headless -u 8 -r 8 -t 30s \
        --host http://127.0.0.1:5005 --csv benchmarks/load/results/manual --reset-stats --only-summary
"""
from __future__ import annotations

import json
import os
import random
import uuid

from locust import FastHttpUser, constant, events, task

WEBHOOK = "/webhooks/rest/webhook"
_rng = random.Random(int(os.environ.get("BENCH_SEED", "17")))


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


@events.quitting.add_listener
def _save_state(environment, **_kwargs):
    path = os.environ.get("BENCH_STATE")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"senders_used": POOL.senders_used, "refunds_used": POOL.refunds_used,
                       "pool_size": len(POOL.entries)}, handle)


class ChatUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)  # closed loop: the next message goes as soon as the reply is in
    connection_timeout = 10.0
    network_timeout = 120.0

    def on_start(self) -> None:
        self.sender, self.token = f"bench-{uuid.uuid4().hex[:12]}", None

    def begin(self, entry=None) -> tuple:
        entry = entry or POOL.sender()
        self.sender, self.token = entry[0], entry[3]
        return entry

    def say(self, name: str, text: str, expect: tuple = ()) -> str:
        """Sends one message and waits for the reply; a refusal, an empty reply or (when `expect` is given)
        a reply with none of the expected words counts as a failure and ends the conversation."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"sender": self.sender, "message": text}
        with self.client.post(WEBHOOK, json=body, headers=headers, name=name, catch_response=True) as reply:
            if reply.status_code != 200:
                reply.failure(f"HTTP {reply.status_code}: {(reply.text or '')[:120]}")
                raise StopConversation
            try:
                messages = reply.json()
            except Exception:  # noqa: BLE001 - anything but JSON is a failure
                reply.failure("reply is not JSON")
                raise StopConversation
            if not isinstance(messages, list) or not messages:
                reply.failure("empty reply")
                raise StopConversation
            answer = "\n".join(str(m.get("text") or "") for m in messages if isinstance(m, dict))
            if expect and not any(word in answer for word in expect):
                reply.failure(f"{name}: unexpected reply {answer[:100]!r}")
                raise StopConversation
            reply.success()
            return answer

    def converse(self, steps) -> None:
        try:
            steps()
        except StopConversation:
            pass


# ------------------------------------------------------------------ 클린봇

REPORT_STARTS = ("가품 신고할게요", "가품 받은 것 같아요", "짝퉁 받았어요", "가짜 상품 신고하려고요", "환불 신청하고 싶어요")
DESCRIPTIONS = ("로고 위치가 정품이랑 다르고 박음질이 엉망이에요", "정품이랑 냄새가 달라요", "시리얼 넘버가 없어요",
                "가죽 냄새가 이상해요", "로고가 이상해요")
NO_PHOTOS = ("없어요", "사진 없어요")
CANCELS = ("아니요", "그만할래요")
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

        def steps():
            self.report_steps(entry[1])
            answer = self.say("report: confirm (refund)", "네", ("RPT-",))
            number = answer.split("RPT-", 1)[1][:11]
            self.say("status: by report number", f"RPT-{number} 상태 알려 주세요", ("RPT-",))

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
