"""`cleanbot shopper link-code`: a one-time 6-digit code that links a KakaoTalk account to a customer."""
from __future__ import annotations

import json

from bot.cli import main
from bot.services import telegram as links


def test_link_code_prints_a_six_digit_code_that_links_once(db_url, capsys):
    assert main(["shopper", "link-code", "shopper-1", "--json"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["customer_id"] == "shopper-1" and issued["customer_name"] == "김민지"
    assert len(issued["code"]) == 6 and issued["code"].isdigit() and issued["message"] == f"연동 {issued['code']}"
    assert links.redeem_link_token(issued["code"], "bu-cli", links.KAKAO).status == "linked"
    assert links.redeem_link_token(issued["code"], "bu-cli", links.KAKAO).status == "already_linked"
    assert main(["shopper", "link-code", "shopper-2"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("이서준(shopper-2) 고객의 카카오톡 연동 번호예요. 한 번만 쓸 수 있고 ")
    assert "카카오톡 채널 대화창에 '연동 " in text and "고 보내면 돼요." in text


def test_link_code_for_an_unknown_customer_says_so(db_url, capsys):
    assert main(["shopper", "link-code", "nobody"]) == 1
    assert "고객 nobody를 찾을 수 없어요" in capsys.readouterr().err
