"""The two modes: production refuses to start without a signing key (every entry point, with a message
naming the setting and a non-zero exit) and never loads demo data; demo mode keeps everything on the
loopback and says plainly that it is a demo."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from bot.settings import PROJECT_ROOT

ENTRY_POINTS = {
    "cleanbot run": [sys.executable, "-m", "bot.cli", "run"],
    "rasa server": [sys.executable, "-m", "bot.server.rasa_server", "--model", "models/none.tar.gz"],
    "action server": [sys.executable, "-m", "bot.server.action_server"],
}


def _run(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLEANBOT_")}
    return subprocess.run(args, cwd=PROJECT_ROOT, env={**base, **env}, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_production_without_a_signing_key_refuses_to_start(entry, tmp_path):
    done = _run(ENTRY_POINTS[entry], {"CLEANBOT_MODE": "production",
                                      "CLEANBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "CLEANBOT_JWT_SECRET" in said and "CLEANBOT_JWT_PUBLIC_KEY" in said and "시작할 수 없어요" in said


@pytest.mark.parametrize("env, named", [
    ({"CLEANBOT_JWT_SECRET": "short"}, "CLEANBOT_JWT_SECRET"),
    ({"CLEANBOT_JWT_SECRET": "k" * 40, "CLEANBOT_CORS_ORIGINS": "*"}, "CLEANBOT_CORS_ORIGINS"),
    ({"CLEANBOT_JWT_SECRET": "k" * 40, "CLEANBOT_API_TOKEN": "1234"}, "CLEANBOT_API_TOKEN"),
    ({"CLEANBOT_JWT_PUBLIC_KEY": "/nonexistent/key.pem"}, "CLEANBOT_JWT_PUBLIC_KEY"),
])
def test_production_refuses_weak_settings(monkeypatch, env, named):
    from bot.server.security import start_problems

    monkeypatch.setenv("CLEANBOT_MODE", "production")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    problems = start_problems()
    assert problems and any(named in p for p in problems)


def test_an_unknown_mode_is_refused(monkeypatch):
    from bot.server.security import start_problems

    monkeypatch.setenv("CLEANBOT_MODE", "staging")
    assert "CLEANBOT_MODE" in start_problems()[0]


def test_production_with_a_key_has_no_problems(monkeypatch):
    from bot.server.security import start_problems

    monkeypatch.setenv("CLEANBOT_MODE", "production")
    monkeypatch.setenv("CLEANBOT_JWT_SECRET", "k" * 40)
    assert start_problems() == []


def test_setup_in_production_never_loads_demo_data_and_demo_load_refuses(tmp_path):
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    env = {"CLEANBOT_MODE": "production", "CLEANBOT_JWT_SECRET": "k" * 40, "CLEANBOT_DATABASE_URL": url}
    setup = _run([sys.executable, "-m", "bot.cli", "setup"], env)
    assert setup.returncode == 0 and "데모 데이터는 불러오지 않았어요" in setup.stdout
    load = _run([sys.executable, "-m", "bot.cli", "demo", "load"], env)
    assert load.returncode == 2 and "production 모드에서는 데모 데이터를 불러올 수 없어요" in load.stderr
    from sqlalchemy import create_engine

    from bot.models import Customer, RightsHolder

    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Customer)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(RightsHolder)).scalar_one() == 0
    engine.dispose()


def test_demo_load_itself_refuses_in_production(monkeypatch):
    from bot import demo

    monkeypatch.setenv("CLEANBOT_MODE", "production")
    with pytest.raises(PermissionError):
        demo.load()


def test_demo_mode_binds_the_loopback_whatever_the_host_setting(monkeypatch):
    from bot.server.runner import rasa_arguments
    from bot.settings import get_settings

    monkeypatch.setenv("CLEANBOT_MODE", "demo")
    monkeypatch.setenv("CLEANBOT_RASA_HOST", "0.0.0.0")
    args = rasa_arguments(get_settings(), PROJECT_ROOT / "m.tar.gz", 5005, PROJECT_ROOT / "credentials.yml")
    assert args[args.index("--interface") + 1] == "127.0.0.1"
    assert "--enable-api" not in args and "--cors" not in args


def test_the_api_and_cors_are_on_only_when_configured(monkeypatch):
    from bot.server.runner import rasa_arguments
    from bot.settings import get_settings

    monkeypatch.setenv("CLEANBOT_MODE", "production")
    monkeypatch.setenv("CLEANBOT_RASA_HOST", "0.0.0.0")
    monkeypatch.setenv("CLEANBOT_API_TOKEN", "t" * 40)
    monkeypatch.setenv("CLEANBOT_CORS_ORIGINS", "https://a.example, https://b.example")
    args = rasa_arguments(get_settings(), PROJECT_ROOT / "m.tar.gz", 5005, PROJECT_ROOT / "credentials.yml")
    assert args[args.index("--interface") + 1] == "0.0.0.0"
    assert args[args.index("--auth-token") + 1] == "t" * 40 and "--enable-api" in args
    assert args[args.index("--cors") + 1:args.index("--cors") + 3] == ["https://a.example", "https://b.example"]


def test_each_start_gets_its_own_action_secret_and_demo_signing_key():
    from bot.server.runner import server_secrets

    first, second = server_secrets({}), server_secrets({})
    assert first["CLEANBOT_ACTION_TOKEN"] != second["CLEANBOT_ACTION_TOKEN"]
    assert len(first["CLEANBOT_JWT_SECRET"]) >= 32
    assert server_secrets({"CLEANBOT_MODE": "production", "CLEANBOT_ACTION_TOKEN": "x" * 40}) == {}
