"""`cleanbot review queue|screen` and `cleanbot eval screening`, run as the team runs them."""
from __future__ import annotations

import json

from tests.test_cli import cleanbot


def test_screen_then_the_queue_by_risk(db_url):
    empty = cleanbot("review", "queue")
    assert empty.returncode == 0 and empty.stdout.strip() == "검토할 케이스가 없어요. 새 신고나 위험 탐지가 들어오면 여기에 보여요."
    run = cleanbot("review", "screen", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert (result["screened"], result["threshold"], result["above"], len(result["opened"])) == (71, 50, 11, 11)
    again = cleanbot("review", "screen")
    assert again.stdout.splitlines() == ["활성 상품 71개를 점검했어요. 위험 점수 50점 이상: 11개.",
                                         "새로 연 케이스: 없음 (상품은 사람이 검토하기 전에는 내리지 않아요.)"]
    queue = json.loads(cleanbot("review", "queue", "--json").stdout)
    assert [(i["listing_id"], i["score"]) for i in queue[:3]] == [
        ("1005007000000001", 85), ("1005007000000002", 85), ("1005007000000004", 85)]
    assert queue[0]["signals"] == [
        {"name": "price_30", "points": 35, "reason": "Nike 기준가의 23% 가격"},
        {"name": "seller_under_30_days", "points": 15, "reason": "개설 12일 된 판매자"},
        {"name": "title_terms", "points": 35, "reason": "제목에 '미러급'"}]
    text = cleanbot("review", "queue", "--limit", "1").stdout.splitlines()
    assert len(text) == 3 and text[0].startswith("1. [85점] IPP-") and text[0].endswith(" 접수 · 위험 탐지")
    shown = cleanbot("cases", "show", queue[0]["case_number"])
    assert shown.returncode == 0 and "출처 위험 탐지" in shown.stdout and "위험 점수 85점: Nike 기준가의 23%" in shown.stdout


def test_eval_screening_prints_its_figures(db_url):
    result = cleanbot("eval", "screening")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:4] == [
        "라벨이 있는 상품 71개 (가품 23개)", "precision@10: 1.000", "recall@20: 0.783",
        "임계값 50점 이상 11개: precision 1.000, recall 0.478"]
    figures = json.loads(cleanbot("eval", "screening", "--k", "30", "--json").stdout)
    assert (figures["precision_at_10"], figures["k"], figures["recall_at_k"]) == (1.0, 30, 0.826)
