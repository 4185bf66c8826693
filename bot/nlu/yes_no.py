"""Yes or no as people type it in chat (ㅇㅇ, ㅇㅋ, 넵, ㄱㄱ, 웅, ㄴㄴ, 노노, 아뇨), for questions that
expect one: the classifier's affirm/deny is trained on these too, and this check keeps a short answer
from being taken for anything else while the bot waits for a yes or a no."""
from __future__ import annotations

import re
from typing import Optional

_YES = re.compile(
    r"^(?:ㅇㅇ+|ㅇㅋ+|ㅇㅋㅇㅋ|오케이?|오키|ok(?:ay)?|yes|y|네+|넹+|넵+|내+|예+|응+|웅+|어+|엉+|그래|그래요|좋아|좋아요|"
    r"ㄱㄱ+|고고|ㄱ|콜|맞아|맞아요|맞습니다|맞음|그거요|그거|넵넵|확인|진행|진행해|진행해요|진행해\s*주세요|"
    r"신고|신고해|신고해요|신고할게|신고할게요|신고해\s*주세요|접수|접수해|접수해\s*주세요)$",
    re.I,
)
_NO = re.compile(
    r"^(?:ㄴㄴ+|ㄴ|노+|노노|no|n|nope|아니+|아니요|아뇨|아니오|아니에요|아닌데|아닌데요|아님|놉|싫어|싫어요|"
    r"틀려|틀려요|틀렸어요|그거\s*아니에요|그거\s*아니야|다른\s*거|다른\s*거요)$",
    re.I,
)
# A leading yes/no word followed by more words ("ㅇㅋ 신고", "네 맞아요", "아니요 다른 거요").
_YES_HEAD = re.compile(r"^(?:ㅇㅇ|ㅇㅋ|오케이|ok|네|넵|넹|예|응|웅|ㄱㄱ|좋아요|맞아요)(?=\s|[,.!~]|$)", re.I)
_NO_HEAD = re.compile(r"^(?:ㄴㄴ|노노|아니요|아뇨|아니오|아니)(?=\s|[,.!~]|$)", re.I)


def yes_no(text: Optional[str]) -> Optional[bool]:
    """True for a yes, False for a no, None when the message is neither (or says both)."""
    clean = re.sub(r"[\s.!~?,ㅎㅠㅜ^]+$", "", (text or "").strip()).strip()
    clean = re.sub(r"\s+", " ", clean)
    if not clean:
        return None
    if _YES.match(clean):
        return True
    if _NO.match(clean):
        return False
    yes, no = bool(_YES_HEAD.match(clean)), bool(_NO_HEAD.match(clean))
    if yes != no:
        rest = clean.split(" ", 1)[1] if " " in clean else ""
        # "네 그런데 주문이 틀렸어요" is not a plain yes: only a rest that adds no other meaning counts.
        if yes and (not rest or _YES.match(rest) or rest in ("좋아요", "부탁해요", "해 주세요", "해주세요")):
            return True
        if no and (not rest or _NO.match(rest) or rest in ("괜찮아요", "됐어요", "안 할래요")):
            return False
    return None
