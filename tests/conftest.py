"""Shared fixtures: a fresh database per test (SQLite, and PostgreSQL when
CLEANBOT_TEST_POSTGRES_URL is set), and real bot servers for end-to-end tests. The header of every run says
which optional parts run and which are skipped; with env CI set, a skipped one fails the run instead."""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.settings import environment  # noqa: F401 - the server fixtures' helper, imported from here

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

PG_URL = os.environ.get("CLEANBOT_TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])




# --------------------------------------------------------------------------- what runs, and what CI needs


def _java_problem() -> str | None:
    """Without starting a JVM: None if KoNLPy can find one, else why not."""
    try:
        import jpype
        import konlpy  # noqa: F401
    except ImportError as error:
        return f"{error.name} is not installed"
    try:
        jpype.getDefaultJVMPath()
    except Exception:  # noqa: BLE001 - jpype raises its own kinds
        return "no Java runtime (apt-get install default-jre-headless, or set JAVA_HOME)"
    return None


def _webchat_problem() -> str | None:
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed"
    if not Path("/usr/bin/chromium").exists():
        return "no /usr/bin/chromium (apt-get install chromium)"
    return None


def _nginx_problem() -> str | None:
    return None if shutil.which("nginx") or Path("/usr/sbin/nginx").exists() else "no nginx (apt-get install nginx)"


def optional_parts() -> list[tuple[str, str | None]]:
    """(what, None if it runs else why it is skipped): the parts of the suite that need something beyond
    the venv. All of them must run in CI (env CI set)."""
    return [
        ("PostgreSQL variants", None if PG_URL else "CLEANBOT_TEST_POSTGRES_URL is unset: SQLite only"),
        ("Redis", None if os.environ.get("CLEANBOT_TEST_REDIS_URL") else
         "CLEANBOT_TEST_REDIS_URL is unset: the nginx replicas test skips, the lock store tests skip without a "
         "Redis at 127.0.0.1:6379"),
        ("KoNLPy Okt/Komoran", _java_problem()),
        ("web chat in Chromium", _webchat_problem()),
        ("nginx in front of replicas", _nginx_problem()),
    ]


def pytest_configure(config):
    parts = optional_parts()
    config._cleanbot_parts = parts
    missing = [f"{name}: {problem}" for name, problem in parts if problem]
    if os.environ.get("CI") and missing:
        raise pytest.UsageError("CI is set, and these parts of the suite could not run (they would be skipped):\n  "
                                + "\n  ".join(missing))


def _parts_report(config) -> list[str]:
    parts = getattr(config, "_cleanbot_parts", None) or optional_parts()
    runs = [name for name, problem in parts if not problem]
    lines = [f"cleanbot: runs {', '.join(runs) or 'no optional part'}"]
    lines += [f"cleanbot: SKIPS {name} ({problem})" for name, problem in parts if problem]
    return lines


def pytest_report_header(config):
    return _parts_report(config)


def pytest_terminal_summary(terminalreporter, config):
    if config.get_verbosity() < 0:  # -q (as make test runs) hides the header: say it at the end instead
        for line in _parts_report(config):
            terminalreporter.write_line(line, yellow="SKIPS" in line)


def _prepare(url: str) -> None:
    """Migrate and load the demo data, in a process-local settings context."""
    from bot import demo
    from bot.db import dispose_engines
    from bot.migrate import upgrade

    old = os.environ.get("CLEANBOT_DATABASE_URL")
    os.environ["CLEANBOT_DATABASE_URL"] = url
    try:
        upgrade(url)
        demo.load()
    finally:
        dispose_engines()
        if old is None:
            os.environ.pop("CLEANBOT_DATABASE_URL", None)
        else:
            os.environ["CLEANBOT_DATABASE_URL"] = old


def _pg_admin():
    return create_engine(PG_URL, future=True, isolation_level="AUTOCOMMIT")


def _pg_url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    """One migrated database with the demo data per backend, copied for each test."""
    made = {}
    sqlite_file = tmp_path_factory.mktemp("template") / "template.db"
    _prepare(f"sqlite:///{sqlite_file}")
    made["sqlite"] = sqlite_file
    pg_template = None
    if PG_URL:
        pg_template = f"cleanbot_tpl_{uuid.uuid4().hex[:8]}"
        with _pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{pg_template}"'))
        _prepare(_pg_url(pg_template))
        made["postgresql"] = pg_template
    yield made
    if pg_template:
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def db_url(request, templates, tmp_path, monkeypatch):
    """A fresh database with the demo data; CLEANBOT_DATABASE_URL points at it."""
    from bot.db import dispose_engines

    monkeypatch.setenv("CLEANBOT_PHOTO_DIR", str(tmp_path / "photos"))
    if request.param == "sqlite":
        target = tmp_path / "cleanbot.db"
        shutil.copy(templates["sqlite"], target)
        url = f"sqlite:///{target}"
        monkeypatch.setenv("CLEANBOT_DATABASE_URL", url)
        yield url
        dispose_engines()
    else:
        name = f"cleanbot_t_{uuid.uuid4().hex[:10]}"
        with _pg_admin().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{templates["postgresql"]}"'))
        url = _pg_url(name)
        monkeypatch.setenv("CLEANBOT_DATABASE_URL", url)
        yield url
        dispose_engines()
        with _pg_admin().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def demo_orders() -> dict:
    """The demo fixture's orders, by customer, in file order."""
    import yaml

    from bot.demo import DEMO_FILE

    data = yaml.safe_load(Path(DEMO_FILE).read_text(encoding="utf-8"))
    by_customer: dict[str, list[dict]] = {}
    for order in data["orders"]:
        by_customer.setdefault(order["customer"], []).append(order)
    return by_customer


@pytest.fixture(scope="session")
def orders_by_customer():
    return demo_orders()


TINY_NLU_CONFIG = """\
recipe: default.v1
language: ko
assistant_id: clean-bot-tiny-test
pipeline:
  - name: bot.nlu.KoreanTokenizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 3
  - name: DIETClassifier
    epochs: 20
    random_seed: 7
    number_of_transformer_layers: 0
    hidden_layers_sizes: {text: []}
    embedding_dimension: 8
    constrain_similarities: true
  - name: bot.nlu.IdentifierEntityExtractor
  - name: EntitySynonymMapper
"""

TINY_NLU_DATA = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - 안녕하세요
    - 안녕
    - 반가워요
    - 하이
- intent: request_refund
  examples: |
    - 환불해 주세요
    - 환불 신청할게요
    - 돈 돌려주세요
    - 환불 원해요
    - 주문번호 [8181234567890123](order_number) 환불해주세요
    - [8181-2345-6789-0123](order_number) 환불 받고 싶어요
- intent: report_fake
  examples: |
    - [나이키](brand) 가품 신고할래요
    - 이거 [루이비통](brand) 짝퉁 같아요
    - [구찌](brand) 가방이 가짜예요
    - [프라다](brand) 짝퉁 신고하고싶어요
    - 상품 [1005006123456789](listing_id) 가품이에요
- intent: check_status
  examples: |
    - 신고번호 [RPT-2026-000042](report_number) 어떻게 됐어요
    - [rpt 2026 000077](report_number) 진행상황 알려주세요
    - 인증코드 [K7QP3MXZ](verification_code) 입니다
"""


@pytest.fixture(scope="session")
def tiny_nlu_model(tmp_path_factory) -> Path:
    """One tiny NLU model (DIET with our tokenizer and identifier extractor, a few seconds of training)
    for every test that needs some trained model to load, parse with or evaluate."""
    from rasa.model_training import train_nlu

    root = tmp_path_factory.mktemp("tiny-nlu")
    (root / "config.yml").write_text(TINY_NLU_CONFIG, encoding="utf-8")
    (root / "nlu.yml").write_text(TINY_NLU_DATA, encoding="utf-8")
    old = os.environ.get("RASA_CACHE_DIRECTORY")
    os.environ["RASA_CACHE_DIRECTORY"] = str(root / "cache")
    try:
        model = train_nlu(str(root / "config.yml"), str(root / "nlu.yml"), str(root / "models"),
                          fixed_model_name="tiny")
    finally:
        if old is None:
            os.environ.pop("RASA_CACHE_DIRECTORY", None)
        else:
            os.environ["RASA_CACHE_DIRECTORY"] = old
    assert model and Path(model).exists()
    return Path(model)


@pytest.fixture(autouse=True)
def _fresh_message_rate():
    """The per-sender message rate is kept per process: each test starts with nobody over it."""
    from connectors import doors

    doors._limits.clear()
    yield
    doors._limits.clear()


@pytest.fixture
def move_clock(monkeypatch):
    """Moves bot.clock's "now" forward by a timedelta (adds up): time passes without sleeping."""
    from datetime import timedelta

    from bot import clock

    offset = [timedelta(0)]
    real = clock.source
    monkeypatch.setattr(clock, "source", lambda: real() + offset[0])

    def move(delta: timedelta) -> None:
        offset[0] += delta

    return move
