"""What the KakaoTalk channel (connectors/kakao.py) says on its own, in Korean."""
from __future__ import annotations

from bot.replies.korean import josa

# Open Builder shows this while the real answer travels through the callback URL.
WAITING_KO = "확인하고 있어요…"
# Kakao waits 5 s and this block has no callback: the answer comes with the user's next message.
LATE_KO = "답변을 준비하는 데 시간이 걸리고 있어요. 잠시 후 아무 말이나 보내 주시면 이어서 알려 드릴게요."
SORRY_KO = "죄송해요, 잠시 문제가 생겨서 답을 드리지 못했어요. 잠시 후 다시 말씀해 주세요."
MORE_LABEL = "더 보기"
MORE_KO = "이어지는 내용이 있어요. [더 보기]를 눌러 주세요."
NOTHING_MORE_KO = "더 보여 드릴 내용이 없어요. 궁금한 점을 말씀해 주세요."
STALE_BUTTON_KO = "이 버튼은 더 이상 쓸 수 없어요. 메시지로 다시 말씀해 주세요."
CHOOSE_KO = "아래에서 골라 주세요"
# The hand-over: the message went to the agents; their answer comes with the next message or the callback.
TO_AGENTS_KO = "상담원에게 전달했어요. 답변이 오면 바로 보여 드리거나, 다음에 메시지를 보내실 때 함께 알려 드릴게요."

LINK_KO = {
    "linked": "{name}님, 마켓플레이스 계정이 카카오톡에 연동됐어요. 이제 여기서 가품 신고와 환불 신청을 바로 하실 수 있어요.",
    "already_linked": "{name}님 계정은 이미 이 카카오톡에 연동되어 있어요.",
    "invalid": "연동 번호가 맞지 않아요. 마켓플레이스 앱의 [카카오톡 연동] 메뉴에서 받은 6자리 번호를 '연동 123456'처럼 보내 주세요.",
    "expired": "연동 번호의 유효 시간이 지났어요. 마켓플레이스 앱의 [카카오톡 연동] 메뉴에서 새 번호를 받아 주세요.",
    "used": "이미 사용된 연동 번호예요. 번호는 한 번만 쓸 수 있어요. 마켓플레이스 앱에서 새 번호를 받아 주세요.",
    "linked_elsewhere": (
        "이 카카오톡 계정은 이미 다른 마켓플레이스 계정에 연동되어 있어요. "
        "연동을 바꾸시려면 '상담원 연결'이라고 말씀해 주세요."
    ),
    "locked": "연동 번호가 여러 번 틀려서 잠시 연동을 막아 두었어요. 한 시간 뒤에 새 번호로 다시 시도해 주세요.",
}


def photo_host_refused_ko(host: str) -> str:
    return (f"{josa(host, '은/는')} 사진을 받아 올 수 없는 주소예요. 카카오톡 대화창의 사진 보내기로 "
            "사진을 직접 올려 주세요.")


def photo_failed_ko(position: int | None = None) -> str:
    which = f"{position}번째 사진을" if position else "사진을"
    return f"{which} 받아 오지 못했어요. 잠시 후 카카오톡에서 다시 보내 주세요."


def photo_too_big_ko(limit_mb: int, position: int | None = None) -> str:
    which = f"{position}번째 사진이" if position else "사진이"
    return f"{which} 너무 커요. {limit_mb}MB까지 받을 수 있어요. 크기를 줄이거나 다른 사진으로 다시 보내 주세요."
