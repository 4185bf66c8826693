"""What a rights holder reads about test buys (mystery shoppers, random inspections) of their brands."""
from __future__ import annotations

import re

from bot.clock import to_local
from bot.replies.korean import day_ko

RESULT_KO = {"fake": "가품", "genuine": "정품", "inconclusive": "판정 불가"}
# A rights holder's question about test buys rather than figures or one case (brand_stats and
# check_case_status both take them; the actions look for these words first).
ASKS_ABOUT_INSPECTIONS = re.compile(r"(미스터리\s*쇼퍼|미스테리\s*쇼퍼|미스터리\s*쇼핑|테스트\s*구매|테스트\s*바이|"
                                    r"시험\s*구매|무작위\s*검사|랜덤\s*검사|샘플\s*검사|검사\s*결과|"
                                    r"mystery\s*shop|test\s*buy|inspection)", re.I)

NO_INSPECTIONS = ("아직 기록된 테스트 구매(미스터리 쇼퍼) 결과가 없어요. 결과가 나오면 케이스 상태 알림으로도 알려 드릴게요.")


def asks_about_inspections(text: str) -> bool:
    return bool(ASKS_ABOUT_INSPECTIONS.search(text or ""))


def inspections_text(rows) -> str:
    """The latest test buys, newest first: date, product, result, agency, case."""
    if not rows:
        return NO_INSPECTIONS
    fakes = sum(1 for r in rows if r.result == "fake")
    lines = [f"최근 테스트 구매 결과 {len(rows)}건이에요(가품 {fakes}건)."]
    for r in rows:
        case = f" · {r.case_number}" if r.case_number else ""
        lines.append(f"· {day_ko(to_local(r.created_at))} {r.listing_title} ({r.listing_id}) — "
                     f"{RESULT_KO[r.result]} · {r.agency}{case}")
    return "\n".join(lines)
