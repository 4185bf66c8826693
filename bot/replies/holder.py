"""Korean sentences for rights holders: verification, IPP filing, case status, lists, timelines, reports.

Shared by the actions (actions/rights_holder.py) and the command line (bot/cli/holders.py)."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

from bot.business_hours import business_days_after
from bot.clock import to_local, utcnow
from bot.replies.korean import day_ko, josa, korean_datetime, won
from bot.services.brand_stats import BrandStats
from bot.services.cases import STATE_KO, next_step_ko
from bot.services.holders import Verification
from bot.services.ipp import INFRINGEMENT_KO, SOURCE_KO, CasePage, CaseSummary, EventView, FilingOutcome, ListingCheck
from bot.settings import get_settings

CODE_EXAMPLE = "AB3CD4EF"

NOT_A_HOLDER = (
    "이 기능은 인증된 브랜드 권리자만 이용할 수 있어요. 브랜드 보호팀에서 받은 8자리 인증 코드가 있으면 "
    "'권리자 인증'이라고 말씀하신 뒤 코드를 입력해 주세요. 아직 코드가 없으시면 브랜드 보호팀에 권리자 등록을 "
    "요청해 주세요. 확인 후 인증 코드를 보내 드려요."
)
NOT_A_HOLDER_BUTTONS = [{"title": "권리자 인증하기", "payload": "/register_brand_owner"}]
HOLDER_MENU = [
    {"title": "케이스 접수", "payload": "/open_ipp_case"},
    {"title": "케이스 목록", "payload": "/list_cases"},
    {"title": "브랜드 현황", "payload": "/brand_stats"},
]
ASK_CODE = f"브랜드 보호팀에서 받은 8자리 인증 코드를 입력해 주세요(예: {CODE_EXAMPLE})."
ASK_CODE_AGAIN = "받으신 8자리 인증 코드를 입력해 주세요. 인증을 그만두시려면 '그만'이라고 해 주세요."
BAD_CODE_FORMAT = (
    f"인증 코드는 영문 대문자와 숫자(2~9)로 된 8자리예요(예: {CODE_EXAMPLE}). 받은 코드를 다시 확인해서 입력해 주세요."
)
VERIFY_CANCELLED = "권리자 인증을 그만두었어요. 코드가 준비되면 언제든 '권리자 인증'이라고 말씀해 주세요."
IPP_CANCELLED = "케이스 접수를 취소했어요. 아무것도 접수되지 않았어요. 다시 신고하시려면 언제든 '케이스 접수'라고 말씀해 주세요."
ASK_LISTING = "어떤 상품을 신고하시겠어요? 상품 번호(1005로 시작하는 16자리)나 상품 링크를 보내 주세요."
ASK_TYPE = "어떤 권리 침해인가요? 아래에서 골라 주세요."
TYPE_BUTTONS = [
    {"title": "위조품(가품)", "payload": "위조품"},
    {"title": "상표권 침해", "payload": "상표권 침해"},
    {"title": "저작권 침해", "payload": "저작권 침해"},
    {"title": "디자인권 침해", "payload": "디자인권 침해"},
]
TYPE_HINT = "침해 유형을 알아듣지 못했어요. 위조품, 상표권 침해, 저작권 침해, 디자인권 침해 중에서 골라 주세요."
ASK_TRADEMARK = "상표 등록번호를 알려 주세요(예: 40-1234567).\n상표 등록증이나 키프리스(KIPRIS)에서 확인하실 수 있어요."
TRADEMARK_HINT = (
    "상표 등록번호 형식이 아니에요. 한국 상표 등록번호는 40-1234567처럼 40 뒤에 7자리예요. "
    "상표 등록증이나 특허청 키프리스(KIPRIS)에서 확인해 주세요."
)
LISTING_HINT = (
    "상품 번호를 찾지 못했어요. 상품 번호는 1005로 시작하는 16자리 숫자예요(예: 1005006000123456). "
    "상품 링크를 그대로 붙여 넣으셔도 돼요."
)
DESCRIPTION_HINT = "조금 더 자세히 적어 주세요. 예: '정품 로고를 그대로 찍은 위조 운동화를 팔고 있어요.'"
NO_CASES = (
    "아직 볼 수 있는 케이스가 없어요. 권리 침해 상품을 발견하시면 '케이스 접수'라고 말씀해 주세요. "
    "구매자 신고로 열린 케이스도 여기에 함께 보여 드려요."
)


def case_not_found(number: str) -> str:
    """The answer for a case that does not exist AND for another brand's case: word for word the same."""
    return (
        f"{number} 케이스를 찾을 수 없어요. 케이스 번호를 다시 확인해 주세요. "
        "'케이스 목록'이라고 하시면 볼 수 있는 케이스를 모두 보여 드려요."
    )


def case_guess(number: str) -> str:
    return f"{number} 케이스 말씀이신가요?"


def case_guess_buttons(number: str) -> list[dict]:
    return [{"title": "네, 맞아요", "payload": f'/check_case_status{{"case_number":"{number}"}}'},
            {"title": "아니요, 목록 볼게요", "payload": "/list_cases"}]


def _when(moment: datetime) -> str:
    return korean_datetime(to_local(moment))


# --------------------------------------------------------------------------- verification


def verification(result: Verification) -> str:
    settings = get_settings()
    if result.status == "verified":
        who = josa(f"{result.brand} 권리자({result.holder_name})", "으로/로")
        return (
            f"인증이 완료되었어요. 이 계정이 {who} 연결되었어요.\n"
            "이제 권리 침해 케이스 접수, 케이스 진행 상황 확인, 브랜드 현황 리포트를 이용하실 수 있어요. "
            "케이스 상태가 바뀌면 이 대화로 알려 드릴게요."
        )
    if result.status == "already_verified":
        return (
            f"이미 {josa(result.brand + ' 권리자', '으로/로')} 인증되어 있어요. "
            "바로 케이스를 접수하거나 진행 상황을 확인하실 수 있어요."
        )
    if result.status == "locked" and result.lock_scope == "everyone":
        return (
            "지금은 인증 코드 확인을 잠시 멈췄어요. 짧은 시간에 잘못된 코드가 너무 많이 들어와서, 안전을 위해 "
            f"모든 계정의 코드 확인을 막아 두었어요. {_when(result.locked_until)} 이후에 다시 입력해 주세요. "
            "급하시면 코드를 보내 준 브랜드 보호팀에 연락해 주세요."
        )
    if result.status == "locked":
        return (
            f"인증 코드를 여러 번 잘못 입력하셔서 인증이 잠시 잠겼어요. {_when(result.locked_until)} 이후에 "
            "다시 시도해 주세요. 코드가 맞는지 브랜드 보호팀에 확인해 보셔도 좋아요."
        )
    if result.status == "bad_format":
        return BAD_CODE_FORMAT
    if result.status == "wrong":
        text = "입력하신 인증 코드가 맞지 않아요. 브랜드 보호팀에서 받은 8자리 코드를 다시 확인해 주세요."
    elif result.status == "used":
        text = "이미 사용된 인증 코드예요. 코드는 한 번만 쓸 수 있어요. 브랜드 보호팀에 새 코드를 요청해 주세요."
    elif result.status == "expired":
        expired = f"({day_ko(to_local(result.expired_at))}에 만료)" if result.expired_at else ""
        text = (
            f"유효 기간이 지난 인증 코드예요{expired}. 코드는 발급 후 {settings.invite_expiry_days}일 동안만 쓸 수 있어요. "
            "브랜드 보호팀에 새 코드를 요청해 주세요."
        )
    else:
        raise ValueError(result.status)
    if result.locked_until is not None:
        text += (
            f"\n코드가 {settings.verify_max_failures}번 맞지 않아 인증이 잠겼어요. "
            f"{_when(result.locked_until)} 이후에 다시 시도해 주세요."
        )
    elif result.failures_left is not None and result.failures_left <= 2:
        text += f"\n앞으로 {result.failures_left}번 더 틀리면 인증이 잠시 잠겨요."
    return text


def already_holder(brands: Sequence[str]) -> str:
    return (
        f"지금 {josa(', '.join(brands) + ' 권리자', '으로/로')} 인증되어 있어요. "
        f"다른 브랜드를 추가하시려면 그 브랜드의 인증 코드를 입력해 주세요(예: {CODE_EXAMPLE})."
    )


# --------------------------------------------------------------------------- filing


def listing_found(check: ListingCheck) -> str:
    text = f"신고할 상품을 확인했어요.\n{check.title} ({check.brand}) · {won(check.price_krw)} · 판매자 {check.seller}"
    if check.joins:
        text += (
            f"\n이 상품에는 구매자 신고로 열린 케이스 {josa(check.case_number, '이/가')} 있어요. "
            "접수하시면 신고 내용이 그 케이스에 더해져 함께 처리돼요."
        )
    return text


def listing_problem(check: ListingCheck) -> str:
    if check.problem == "not_found":
        return (
            f"상품 {josa(check.listing_id, '을/를')} 찾을 수 없어요. 상품 번호(1005로 시작하는 16자리)나 "
            "상품 링크를 다시 확인해서 보내 주세요."
        )
    if check.problem == "other_brand":
        brands = ", ".join(check.holder_brands)
        return (
            f"이 상품({check.title})은 {check.brand} 상품이라 신고하실 수 없어요. 인증된 브랜드({brands})의 "
            f"상품만 신고할 수 있어요. {check.brand} 권리자이시면 그 브랜드의 인증 코드로 먼저 인증해 주세요."
        )
    if check.problem == "removed":
        return (
            f"이 상품({check.title})은 이미 판매가 중지되어 내려간 상태예요. 따로 신고하지 않으셔도 돼요. "
            "다른 상품을 신고하시려면 '케이스 접수'라고 말씀해 주세요."
        )
    state = STATE_KO.get(check.case_state or "", check.case_state)
    if check.problem == "duplicate":
        return (
            f"이 상품은 이미 신고하신 케이스 {josa(check.case_number, '으로/로')} 진행 중이에요(현재 {state}). "
            f"같은 상품은 케이스 하나로 처리돼요. 진행 상황은 '{check.case_number} 상태 알려줘'라고 물어봐 주세요."
        )
    if check.problem == "taken":
        return (
            f"이 상품은 같은 브랜드의 다른 권리자가 접수한 케이스 {josa(check.case_number, '으로/로')} 이미 진행 중이에요"
            f"(현재 {state}). 진행 상황은 '{check.case_number} 상태 알려줘'라고 물어봐 주세요."
        )
    raise ValueError(check.problem)


def filing_summary(check: ListingCheck, infringement_type: str, trademark: str, description: str,
                   photos: int) -> str:
    if len(description) > 200:
        description = description[:200] + "…"
    lines = [
        "이대로 접수할까요?",
        f"· 상품: {check.title} ({check.listing_id})",
        f"· 침해 유형: {INFRINGEMENT_KO[infringement_type]}",
        f"· 상표 등록번호: {trademark}",
        f"· 내용: {description}",
        f"· 증거 사진: {f'{photos}장' if photos else '없음'}",
    ]
    if check.joins:
        lines.append(f"※ 구매자 신고로 열린 케이스 {check.case_number}에 더해져요.")
    return "\n".join(lines)


def expected_decision_date() -> str:
    days = get_settings().ipp_review_days
    return day_ko(business_days_after(to_local(utcnow()), days))


def filing_outcome(outcome: FilingOutcome) -> str:
    days = get_settings().ipp_review_days
    if outcome.status == "opened":
        return (
            f"권리 침해 신고가 접수되었어요. 케이스 번호는 {josa(outcome.case_number, '이에요/예요')}.\n"
            f"다음 단계: 브랜드 보호팀이 상품과 판매자를 검토해요. 보통 영업일 {days}일 안에 결과가 나와요"
            f"({expected_decision_date()}까지). 가품으로 확인되면 상품을 내리고 판매자에게 제재를 적용해요.\n"
            "상태가 바뀔 때마다 이 대화로 알려 드릴게요. 진행 상황은 언제든 '케이스 상태'라고 물어봐 주세요."
        )
    if outcome.status == "joined":
        return (
            f"이 상품은 구매자 신고로 열린 케이스가 있어서, 신고 내용을 그 케이스에 더했어요. "
            f"케이스 번호는 {josa(outcome.case_number, '이에요/예요')}(현재 {STATE_KO[outcome.state]}).\n"
            f"다음 단계: {next_step_ko(outcome.state)}\n"
            "상태가 바뀔 때마다 이 대화로 알려 드릴게요."
        )
    if outcome.status == "invalid":
        return "접수에 필요한 내용이 빠졌어요. 처음부터 다시 '케이스 접수'라고 말씀해 주세요."
    return listing_problem(outcome.check)


# --------------------------------------------------------------------------- cases


def actor_label(actor: str) -> str:
    if actor == "bot":
        return "클린봇"
    if actor.startswith(("web:", "telegram:", "kakao:")):
        return "권리자"
    if actor.startswith("customer:"):
        return "구매자"
    if actor.startswith("seller"):
        return "판매자"
    return "브랜드 보호팀"


def _change(event: EventView) -> str:
    if event.from_state is None:
        return STATE_KO[event.to_state]
    if event.from_state == event.to_state:
        return f"내용 추가({STATE_KO[event.to_state]})"
    return f"{STATE_KO[event.from_state]} → {STATE_KO[event.to_state]}"


def case_status(case: CaseSummary) -> str:
    removed = " · 판매 중지됨" if case.listing_status == "removed" else ""
    lines = [
        f"{case.number} 케이스 현황이에요.",
        f"· 상품: {case.listing_title} ({case.listing_id}){removed}",
        f"· 상태: {STATE_KO[case.state]}",
    ]
    if case.last_event is not None:
        lines.append(f"· 마지막 변경: {_when(case.last_event.at)} ({_change(case.last_event)})")
        if case.last_event.note:
            lines.append(f"· 메모: {case.last_event.note}")
    if case.report_count:
        lines.append(f"· 연결된 구매자 신고: {case.report_count}건")
    lines.append(f"· 다음 단계: {next_step_ko(case.state)}")
    return "\n".join(lines)


def case_line(case: CaseSummary, n: int) -> str:
    changed = day_ko(to_local(case.updated_at))
    # The holder's own notices are unmarked; others say where they came from (a shopper, the screening).
    source = "" if case.holder_name else f" · {SOURCE_KO.get(case.source, '구매자 신고')}"
    return f"{n}. {case.number} · {STATE_KO[case.state]} · {case.listing_title}{source} · {changed} 변경"


def case_page(page: CasePage, brands: Sequence[str], page_size: int) -> str:
    if page.total == 0:
        return NO_CASES
    head = (
        f"{', '.join(brands)} 케이스가 모두 {page.total}건이고, 그중 진행 중인 케이스는 {page.open_total}건이에요."
    )
    if page.pages > 1:
        head += f" ({page.page}/{page.pages}쪽)"
    start = (page.page - 1) * page_size
    lines = [head] + [case_line(c, start + i + 1) for i, c in enumerate(page.items)]
    if page.page < page.pages:
        lines.append("더 보시려면 '다음'을 눌러 주세요.")
    lines.append("자세히 보시려면 케이스 번호로 물어봐 주세요(예: '" + page.items[0].number + " 상태 알려줘').")
    return "\n".join(lines)


def timeline(case: CaseSummary, events: Sequence[EventView]) -> str:
    lines = [f"{case.number} 처리 이력이에요({case.listing_title})."]
    for n, event in enumerate(events, 1):
        lines.append(f"{n}. {_when(event.at)} · {_change(event)} · {actor_label(event.actor)}")
        if event.note:
            lines.append(f"   {event.note}")
    lines.append(f"지금 상태: {STATE_KO[case.state]}. {next_step_ko(case.state)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- brand report


def stats_text(stats: BrandStats) -> str:
    brands = ", ".join(stats.brands)
    lines = [f"{brands} 브랜드 현황이에요 · {stats.period.describe()}"]
    if stats.new_cases:
        lines.append(f"· 새 케이스 {stats.new_cases}건 (권리자 신고 {stats.holder_cases}건, "
                     f"구매자 신고로 열린 케이스 {stats.new_cases - stats.holder_cases}건)")
        lines.append("  상태별: " + " · ".join(f"{STATE_KO[s]} {n}건" for s, n in stats.cases_by_state.items()))
    else:
        lines.append("· 이 기간에 새로 열린 케이스는 없어요.")
    removed = f"· 삭제된 상품 {stats.listings_removed}개"
    if stats.listings_reinstated:
        removed += f" (이의신청으로 복구된 상품 {stats.listings_reinstated}개)"
    lines.append(removed)
    if stats.avg_days_to_decision is not None:
        lines.append(f"· 접수부터 결정까지 평균 {stats.avg_days_to_decision:.1f}일 (결정 {stats.decisions}건)")
    else:
        lines.append("· 이 기간에 결정된 케이스가 없어서 평균 처리 기간은 아직 없어요.")
    lines.append(f"· 브랜드 상품에 들어온 구매자 가품 신고 {stats.shopper_reports}건")
    lines.append("다른 기간은 '지난달 현황', '최근 7일 통계', '올해 리포트'처럼 말씀해 주세요.")
    return "\n".join(lines)


def unknown_brand_for_holder(brand: str, held: Sequence[str]) -> str:
    return (
        f"{josa(brand, '은/는')} 인증된 브랜드가 아니에요. 지금 볼 수 있는 브랜드는 {josa(', '.join(held), '이에요/예요')}. "
        f"{brand} 권리자이시면 그 브랜드의 인증 코드로 먼저 인증해 주세요."
    )
