"""`cleanbot inspections add|list|plan` as the team runs them."""
from __future__ import annotations

import io
import json

from PIL import Image

from tests.test_cli import cleanbot

AF1 = "1005006000123456"
DUNK = "1005006000131375"


def test_a_fake_with_a_photo_decides_the_case(db_url, tmp_path):
    photo = tmp_path / "buy.png"
    buffer = io.BytesIO()
    Image.new("RGB", (48, 48), (10, 120, 200)).save(buffer, "PNG")
    photo.write_bytes(buffer.getvalue())
    result = cleanbot("inspections", "add", AF1, "--result", "fake", "--by", "한국소비자검사원", "--order", "TB-1",
                      "--note", "로고 불일치", "--photo", str(photo))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "검사 #1 · 상품 1005006000123456 · 가품 · 한국소비자검사원 · 사진 1장"
    assert lines[1].startswith("IPP-") and lines[1].endswith(
        " 케이스를 조치 완료로 결정했어요 (검사로 새로 접수). 상품 삭제, 판매자 제재 1회, 리콜 안내 2건.")
    listed = json.loads(cleanbot("inspections", "list", "--brand", "nike", "--json").stdout)
    assert [(r["listing_id"], r["result"], r["order_ref"], r["photo_count"]) for r in listed] == [(AF1, "fake", "TB-1", 1)]


def test_a_missing_photo_records_nothing(db_url, tmp_path):
    result = cleanbot("inspections", "add", AF1, "--result", "fake", "--by", "기관", "--photo", str(tmp_path / "no.jpg"))
    assert result.returncode == 1 and result.stderr.startswith("사진을 확인해 주세요. 검사는 기록하지 않았어요.\n")
    assert json.loads(cleanbot("inspections", "list", "--json").stdout) == []


def test_the_plan_is_reproducible_with_a_seed(db_url):
    first = cleanbot("inspections", "plan", "--count", "4", "--seed", "11", "--json")
    assert first.returncode == 0, first.stderr
    again = cleanbot("inspections", "plan", "--count", "4", "--seed", "11", "--json")
    assert json.loads(first.stdout) == json.loads(again.stdout) and len(json.loads(first.stdout)) == 4
    brand = json.loads(cleanbot("inspections", "plan", "--count", "5", "--brand", "Gentle Monster", "--seed", "2",
                                "--json").stdout)
    assert sorted(r["listing_id"] for r in brand) == ["1005006000202646", "1005006000210565"]
    refused = cleanbot("inspections", "plan", "--count", "0")
    assert (refused.returncode, refused.stderr.strip()) == (1, "몇 건을 고를지 1 이상으로 --count에 적어 주세요.")
