"""`cleanbot programme report`, run as the team runs it."""
from __future__ import annotations

import json

from tests.test_cli import cleanbot


def test_report_with_its_chart(db_url, tmp_path):
    chart = tmp_path / "programme.png"
    result = cleanbot("programme", "report", "--days", "60", "--chart", str(chart))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("클린 프로젝트 전체 · 최근 60일 (")
    assert lines[1:9] == ["삭제된 상품: 0개", "보호한 브랜드: 0곳", "구매자 신고: 0건", "환불: 0건, 0원",
                          "신고→환불 중앙값: -", "케이스→결정 중앙값: -", "테스트 구매: 0건 (기록 없음)",
                          "제재: 경고 0회, 판매 정지 0회, 폐쇄 0회 · 폐쇄된 스토어 0곳"]
    assert lines[9] == f"차트: {chart}" and chart.read_bytes()[:4] == b"\x89PNG"


def test_json_for_a_brand_and_the_errors(db_url):
    result = cleanbot("programme", "report", "--brand", "나이키", "--no-chart", "--json")
    data = json.loads(result.stdout)
    assert (data["report"]["brand"], data["report"]["days"], data["report"]["listings_removed"], data["chart"]) == (
        "Nike", 30, 0, None)
    unknown = cleanbot("programme", "report", "--brand", "나이스")
    assert unknown.returncode == 1 and "'나이스' 브랜드를 찾을 수 없어요." in unknown.stderr
    zero = cleanbot("programme", "report", "--days", "0")
    assert zero.returncode == 1 and "--days는 1 이상이어야 해요" in zero.stderr
