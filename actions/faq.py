"""Policy questions, answered by semantic search over bot/knowledge/faq.yml."""
from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import faq


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        text = (tracker.latest_message or {}).get("text") or ""
        match = faq.answer(text)
        if match.confident:
            dispatcher.utter_message(text=match.entry.answer)
        else:
            dispatcher.utter_message(
                text="그 질문에는 정확한 답을 드리기 어려워요. 상담원에게 물어보시겠어요?",
                buttons=[{"title": "상담원 연결", "payload": "/request_human"}],
            )
        return []
