"""bot.nlu.benchmark_3i4k without training: reading, the refusal of the held-back test file, balanced disjoint
samples, and the training file Rasa gets (a synthetic corpus written here; the real one stays outside the repo)."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from bot.nlu import benchmark_3i4k as b
from bot.settings import PROJECT_ROOT


def _corpus(tmp_path, per_class=12, name="fci_train_val.txt"):
    lines = [f"{label}\t문장 {label}-{i} 입니다" for label in range(7) for i in range(per_class)]
    lines += ["1\t같은 문장", "2\t같은 문장", "3\t중복", "3\t중복", "0\t[괄호] 문장", "9\t없는 라벨", "x\t잘못된 줄"]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_keeps_valid_lines_and_names_labels(tmp_path):
    rows = b.read_corpus(_corpus(tmp_path))
    assert rows[0] == ("fragment", "문장 0-0 입니다")
    assert len(rows) == 7 * 12 + 4          # bracketed, unknown-label and malformed lines left out
    assert ("intonation_dependent", "문장 6-11 입니다") in rows


def test_the_held_back_test_file_is_refused_unread(tmp_path):
    path = tmp_path / "fci_test.txt"   # does not even exist: refused by name before any read
    with pytest.raises(b.ForbiddenFile):
        b.read_corpus(path)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "eval", "3i4k", "--data", str(path)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "fci_test.txt" in done.stderr


def test_split_is_balanced_disjoint_deduplicated_and_seeded(tmp_path):
    rows = b.read_corpus(_corpus(tmp_path))
    train, test = b.split(rows, seed=1, train_per_class=8, test_per_class=4)
    assert len(train) == 56 and len(test) == 28
    for label in b.LABELS:
        assert sum(1 for lab, _ in train if lab == label) == 8
        assert sum(1 for lab, _ in test if lab == label) == 4
    assert not {t for _, t in train} & {t for _, t in test}
    assert "같은 문장" not in {t for _, t in train + test}   # under two labels: dropped
    assert b.split(rows, seed=1, train_per_class=8, test_per_class=4) == (train, test)
    assert b.split(rows, seed=2, train_per_class=8, test_per_class=4) != (train, test)
    with pytest.raises(ValueError):
        b.split(rows, train_per_class=10, test_per_class=4)


def test_training_file_is_rasa_nlu_yaml(tmp_path):
    rows = [("question", "밥 먹었어?"), ("command", "문 좀 닫아 줘"), ("question", "어디 가")]
    data = yaml.safe_load(b.nlu_yaml(rows))
    assert data["nlu"] == [{"intent": "question", "examples": "- 밥 먹었어?\n- 어디 가\n"},
                           {"intent": "command", "examples": "- 문 좀 닫아 줘\n"}]
