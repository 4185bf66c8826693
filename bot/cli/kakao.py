"""`cleanbot shopper link-code …`: a one-time 6-digit code that links a KakaoTalk account to a customer.

    cleanbot shopper link-code shopper-1 [--json]     # the shopper then sends "연동 123456" on KakaoTalk
"""
from __future__ import annotations

from bot.cli.common import emit, fail, subcommands


def cmd_link_code(args) -> int:
    from bot.clock import to_local
    from bot.replies.korean import josa, korean_datetime
    from bot.services import telegram as links

    try:
        issued = links.issue_link_token(args.customer, actor=f"cli:{args.actor}", channel=links.KAKAO)
    except links.UnknownCustomer as error:
        return fail(error.message_ko)
    value = {"customer_id": issued.customer_id, "customer_name": issued.customer_name, "code": issued.token,
             "expires_at": issued.expires_at, "message": f"연동 {issued.token}"}

    def text(v) -> str:
        said = josa(f"'{v['message']}'", "이라/라")
        return (f"{v['customer_name']}({v['customer_id']}) 고객의 카카오톡 연동 번호예요. "
                f"한 번만 쓸 수 있고 {korean_datetime(to_local(issued.expires_at))}까지 유효해요.\n"
                f"카카오톡 채널 대화창에 {said}고 보내면 돼요.\n번호: {v['code']}")

    emit(args, value, text)
    return 0


def register(sub, add) -> None:
    """Adds `shopper link-code` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    shopper = subcommands(sub, "shopper", "구매자", "shopper_command")
    p = add(shopper, "link-code", cmd_link_code,
            "카카오톡 계정 연동용 일회용 6자리 번호 발급 (유효 기간: CLEANBOT_KAKAO_LINK_CODE_TTL_MINUTES)")
    p.add_argument("customer", help="마켓플레이스 고객 ID (예: shopper-1)")
    p.add_argument("--actor", default="operator")
