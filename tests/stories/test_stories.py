"""The Rasa test stories of tests/stories/ against the trained model: `rasa test core --e2e` reads each user
message with the model's NLU and predicts each action with its policies; any intent, entity or action that
differs from the story fails the test, with the failed stories in the message."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

STORIES = Path(__file__).parent


@pytest.fixture(scope="module")
def model() -> Path:
    from bot.nlu.training import train_if_changed

    return train_if_changed()


def test_every_story_is_predicted_as_written(model, tmp_path):
    stories = sorted(STORIES.glob("test_*.yml"))
    assert stories, "no test stories"
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "test", "core", "--model", str(model), "--stories", str(STORIES),
         "--out", str(tmp_path), "--e2e", "--no-plot", "--no-warnings"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    failed = tmp_path / "failed_test_stories.yml"
    text = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert "story:" not in text, text[:6000]
    report = json.loads((tmp_path / "story_report.json").read_text(encoding="utf-8"))
    written = sum(path.read_text(encoding="utf-8").count("- story:") for path in stories)
    assert written >= 14
    # Every story was evaluated, and every one came out as written.
    accuracy = report["conversation_accuracy"]
    assert (accuracy["total"], accuracy["correct"]) == (written, written), accuracy
