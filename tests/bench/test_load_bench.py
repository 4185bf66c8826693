"""`cleanbot bench load` and `cleanbot bench soak` (bot/bench.py, benchmarks/load/): the harness against a
real server, for a few seconds at one and two conversations; the soak's pieces (the database checks, the
killer, the clients' retries against a fake server that drops requests) and one short soak with real kills.
Only that they produce the tables, the JSON and the CSV, with messages answered: no timing is asserted
(the machine may be shared)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from bot import bench
from bot.settings import PROJECT_ROOT


def test_the_pool_adds_shoppers_with_two_claimable_orders_each(db_url):
    from bot.db import transaction
    from bot.models import Customer, Order
    from bot.services import orders

    entries = bench.make_order_pool(5, db_url, jwt_secret="x" * 48)
    assert len({e.sender for e in entries}) == 5 and all(e.token for e in entries)
    for entry in entries:
        for number in (entry.refund_order, entry.cancel_order):
            assert orders.check_order(entry.sender, number).problem is None
    again = bench.make_order_pool(3, db_url)  # a second pool in the same database: new tag, no clash
    assert not {e.sender for e in again} & {e.sender for e in entries}
    with transaction() as session:
        bench_customers = session.execute(select(func.count(Customer.id)).where(Customer.id.like("bench-%"))).scalar_one()
        bench_orders = session.execute(select(func.count(Order.number)).where(Order.number.like("8189%"))).scalar_one()
    assert (bench_customers, bench_orders) == (8, 16)


def test_the_table_and_the_trace_summary():
    steps = [bench.Step("embedded", 32, 30, requests=900, msg_per_s=30.0, p50_ms=900, p95_ms=1500, p99_ms=2000),
             bench.Step("stock", 32, 30, requests=600, msg_per_s=20.0, p50_ms=1400, p95_ms=2100, p99_ms=2500)]
    table = bench.format_table(steps)
    assert "msg/s" in table and "embedded@32: 1.50× stock" in table
    rows = bench.summarize_trace([{"nlu": 10.0, "server_total": 40.0}, {"nlu": 20.0, "server_total": 60.0}])
    nlu = next(r for r in rows if r["phase"] == "nlu")
    assert nlu["mean_ms"] == 15.0 and nlu["share"] == 0.3


@pytest.mark.e2e
def test_bench_load_runs_against_a_real_server(tmp_path):
    try:
        bench.locust_venv()
    except subprocess.CalledProcessError as error:  # pragma: no cover - no package registry
        pytest.skip(f"could not install locust into .venv-locust: {error}")
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bot.bench", "load", "--users", "1,2", "--duration", "4", "--warmup", "0",
               "--trace", "--out", str(out), "--name", "smoke"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "msg/s" in done.stdout and "p95 ms" in done.stdout

    result = json.loads((out / "smoke.json").read_text(encoding="utf-8"))
    assert result["run"]["profiles"]["embedded"]["mode"] == "demo"
    steps = result["steps"]
    assert [s["users"] for s in steps] == [1, 2]
    for step in steps:
        assert step["requests"] > 0 and step["msg_per_s"] > 0, step
        assert step["failures"] == 0, step["failure_kinds"]
        assert step["p95_ms"] is not None and step["trace_messages"] > 0
    rows = list(csv.DictReader((out / "smoke.csv").open(encoding="utf-8")))
    assert [int(r["users"]) for r in rows] == [1, 2] and all(float(r["msg_per_s"]) > 0 for r in rows)
    assert (out / "smoke" / "embedded-u1_stats.csv").exists()


# ------------------------------------------------------------------ the harness-started profiles' settings


def test_replicas_share_the_production_settings_with_one_worker_each(tmp_path):
    production, secret = bench.server_env("production", {}, "redis://127.0.0.1:6379/13", tmp_path)
    replicas, replicas_secret = bench.server_env("replicas", {}, "redis://127.0.0.1:6379/13", tmp_path)
    for env, key in ((production, secret), (replicas, replicas_secret)):
        assert env["CLEANBOT_MODE"] == "production" and env["CLEANBOT_REDIS_URL"] == "redis://127.0.0.1:6379/13"
        assert key and env["CLEANBOT_JWT_SECRET"] == key and env["CLEANBOT_MESSAGES_PER_MINUTE"] == "0"
    assert (production["CLEANBOT_WORKERS"], replicas["CLEANBOT_WORKERS"]) == ("2", "1")
    more, _ = bench.server_env("replicas", {"CLEANBOT_WORKERS": "2", "CLEANBOT_JWT_SECRET": "k" * 48}, "redis://x", tmp_path)
    assert more["CLEANBOT_WORKERS"] == "2" and _ == "k" * 48  # --env wins, and the pool signs with its key
    embedded, none = bench.server_env("embedded", {}, "redis://x", tmp_path)
    assert embedded["CLEANBOT_MODE"] == "demo" and none is None and "CLEANBOT_REDIS_URL" not in embedded


# ------------------------------------------------------------------ the soak's database checks


def _refunded_pool(db_url, count=3):
    """A pool with a report and refund filed for the refund order of its first `count` shoppers; the second
    claim of each (a retried "네") must give back the same report."""
    from bot.services import reports

    entries = bench.make_order_pool(count + 2, db_url)
    told = []
    for entry in entries[:count]:
        first = reports.file_report(entry.sender, entry.refund_order, "로고가 이상해요")
        again = reports.file_report(entry.sender, entry.refund_order, "로고가 이상해요")
        assert first.status == "granted" and again.status == "already_refunded"
        assert again.report_number == first.report_number
        told.append({"number": first.report_number, "sender": entry.sender, "order": entry.refund_order,
                     "step": "report: confirm (refund)"})
    return entries, told


def test_a_clean_soak_passes_the_checks(db_url):
    _entries, told = _refunded_pool(db_url)
    clients = {"reports": told + told[:1], "crashed_conversations": 2, "recovered_conversations": 2,
               "unrecovered": []}
    check = bench.check_invariants(db_url, clients, [bench.Kill(1, 15.0, 40.0)])
    assert check.violations == []
    assert (check.reports_seen, check.reports_in_db, check.refunds_in_db, check.granted_reports) == (3, 3, 3, 3)
    assert check.duplicates == 0 and check.unseen_reports == 0 and check.recovered_conversations == 2


def test_the_checks_find_missing_wrong_and_duplicate_reports(db_url):
    from sqlalchemy import create_engine, inspect, text

    entries, told = _refunded_pool(db_url)
    clients = {"reports": told + [
        {"number": "RPT-2026-999999", "sender": "x", "order": "8189000000000000", "step": "s"},  # not in the DB
        {"number": told[0]["number"], "sender": entries[1].sender, "order": entries[1].refund_order, "step": "s"},
    ], "unrecovered": [{"sender": entries[2].sender, "error": "report: start: HTTP 502"}]}
    engine = create_engine(db_url, future=True)
    with engine.begin() as conn:  # a refund paid for a report whose refund is not granted
        conn.execute(text("UPDATE reports SET refund_status = 'held' WHERE number = :n"), {"n": told[2]["number"]})
    check = bench.check_invariants(db_url, clients, [bench.Kill(2, 30.0, error="RuntimeError: no answer")])
    text_of = "\n".join(check.violations)
    assert "RPT-2026-999999, told to a client, is in the database 0 times" in text_of
    assert f"but a client claiming {entries[1].refund_order} was told it" in text_of
    assert f"order {entries[1].refund_order}: clients were told 2 report numbers" in text_of
    assert "3 refunds paid but 2 reports with a granted refund" in text_of
    assert "has a refund but its refund is not granted" in text_of
    assert f"conversation {entries[2].sender} did not go on after a crash" in text_of
    assert "replica 2 did not come back" in text_of
    assert check.duplicates == 1

    if db_url.startswith("postgresql"):  # SQLite cannot drop a constraint: plant the double report on PostgreSQL
        unique = next(c["name"] for c in inspect(engine).get_unique_constraints("reports")
                      if c["column_names"] == ["order_number"])
        with engine.begin() as conn:
            conn.execute(text(f'ALTER TABLE reports DROP CONSTRAINT "{unique}"'))
            conn.execute(text("INSERT INTO reports (number, customer_id, order_number, case_id, description, "
                              "refund_status, verdict, created_at) SELECT 'RPT-2026-888888', customer_id, "
                              "order_number, case_id, description, 'held', verdict, created_at FROM reports "
                              "WHERE number = :n"), {"n": told[1]["number"]})
        again = bench.check_invariants(db_url, {"reports": told}, [])
        assert f"order {told[1]['order']} has 2 reports" in again.violations and again.duplicates == 1
        assert again.unseen_reports == 1
    engine.dispose()


# ------------------------------------------------------------------ the killer and the summary


class _FakeReplicas:
    def __init__(self, count, fail_on=None):
        self.servers = [object()] * count
        self.restarted, self.fail_on = [], fail_on

    def restart(self, index, hard=True):
        assert hard
        if len(self.restarted) == self.fail_on:
            raise RuntimeError("Rasa server did not answer")
        self.restarted.append(index)


def test_the_killer_kills_the_replicas_in_turn_and_stops_after_one_that_stays_down():
    replicas = _FakeReplicas(2)
    killer = bench.Killer(replicas, every=0.05, duration=1.0, log=lambda *a, **k: None, quiet_tail=0.4)
    killer.start()
    time.sleep(1.1)
    kills = killer.finish()
    assert 4 <= len(kills) <= 12 and replicas.restarted == [k.replica - 1 for k in kills]
    assert replicas.restarted[:4] == [0, 1, 0, 1] and all(k.at_s <= 0.6 for k in kills)  # none in the quiet end
    assert all(k.back_s is not None and k.error is None for k in kills)

    broken = _FakeReplicas(2, fail_on=1)
    killer = bench.Killer(broken, every=0.02, duration=5, log=lambda *a, **k: None, quiet_tail=0)
    killer.start()
    time.sleep(0.3)
    kills = killer.finish()
    assert len(kills) == 2 and kills[1].error.startswith("RuntimeError") and kills[1].back_s is None


def test_the_soak_summary():
    step = bench.Step("replicas", 4, 40, requests=700, failures=1, msg_per_s=17.5, p95_ms=450)
    run = {"soak": {"replicas": 2, "kill_every_s": 15, "elapsed_s": 80, "retries": 5, "retried_messages": 4,
                    "out_of_step": 1}}
    check = bench.SoakCheck(reports_seen=20, reports_in_db=20, refunds_in_db=20, granted_reports=20)
    table = bench.format_soak(run, step, check, [bench.Kill(1, 15.0, 42.5)])
    header, _, row = table.splitlines()[1:4]
    assert header.split() == ["duration", "s", "messages", "msg/s", "p95", "ms", "kills", "retries", "failures",
                              "reports", "seen", "reports", "in", "DB", "duplicates"]
    assert row.split() == ["40", "700", "17.5", "450", "1", "5", "1", "20", "20", "0"]
    assert "replica 1 killed, answered again 42.5 s later" in table and "invariants: OK" in table
    assert "messages retried: 4 (5 retries), answered out of step since their first attempt had gone through: 1" in table
    check.violations.append("order 1 has 2 reports")
    assert "INVARIANTS VIOLATED (1):" in bench.format_soak(run, step, check, [])


# ------------------------------------------------------------------ the clients across a crash


class _Flaky(BaseHTTPRequestHandler):
    """Answers every message with all the words the flows expect, but breaks some requests as a crash
    would: every 7th gets a 502 (nginx with the replica gone mid-request), and for 0.3 s of every 2 s every
    connection is closed without an answer (a server that is down: the HTTP client's own immediate resends
    find it down too, so the user sees a connection error)."""

    count = 0
    lock = threading.Lock()
    started = time.monotonic()

    def log_message(self, *_args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if (time.monotonic() - _Flaky.started) % 2.0 < 0.3:
            self.close_connection = True
            return
        with _Flaky.lock:
            _Flaky.count += 1
            n = _Flaky.count
        if n % 7 == 3:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        message = json.loads(body)["message"]
        text = ("클린봇 주문번호 주문을 확인했어요 사진 이대로 신고할까요 취소 환불 서류 최근 주문 신고 상담원 "
                f"RPT-2026-{len(message):06d}")
        data = json.dumps([{"text": text}], ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_the_clients_retry_what_a_crash_broke_and_go_on(tmp_path):
    try:
        bin_dir = bench.locust_venv()
    except subprocess.CalledProcessError as error:  # pragma: no cover - no package registry
        pytest.skip(f"could not install locust into .venv-locust: {error}")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pool = bench.write_pool(tmp_path / "pool.json", [bench.PoolEntry(f"s-{i}", f"{i:016d}", f"{i + 100:016d}")
                                                     for i in range(200)])
    target = bench.Target("url", f"http://127.0.0.1:{server.server_address[1]}", pool_file=pool)
    clients_file = tmp_path / "clients.json"
    try:
        for retry_seconds, prefix in (("30", "retry"), ("0", "plain")):
            clients_file.unlink(missing_ok=True)
            step = bench.run_step(bin_dir, target, 2, 8, tmp_path / prefix, {}, reset_stats=False, stop_timeout=20,
                                  locust_env={"BENCH_RETRY_SECONDS": retry_seconds, "BENCH_CLIENTS": str(clients_file)})
            clients = json.loads(clients_file.read_text(encoding="utf-8"))
            assert step.requests > 5  # traffic went through (how much depends on the machine)
            if retry_seconds == "30":
                # Every broken request was sent again and answered: no failure, every conversation went on.
                assert step.failures == 0, step.failure_kinds
                assert 0 < clients["retried_messages"] <= clients["retries"]
                # A conversation whose crash came late may still be retrying when the step stops (a busy
                # machine): it is not lost (unrecovered is empty and nothing failed), just not finished.
                assert clients["crashed_conversations"] >= clients["recovered_conversations"] > 0
                assert clients["unrecovered"] == [] and clients["out_of_step"] == [] and clients["reports"]
                assert {r["order"] for r in clients["reports"] if r["step"] == "report: confirm (refund)"} <= {
                    f"{i:016d}" for i in range(200)}
            else:  # without retries (bench load) each broken request is a failure, as before
                assert step.failures > 0 and clients["retries"] == 0 and clients["crashed_conversations"] == 0
            assert not (tmp_path / f"{prefix}_exceptions.csv").read_text().strip().count("\n")  # no user crashed
            if retry_seconds == "0":  # both kinds of crash error were met
                errors = [row["Error"] for row in csv.DictReader((tmp_path / f"{prefix}_failures.csv").open())]
                assert any("HTTP 502" in e for e in errors) and any("connection: " in e for e in errors), errors
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
def test_bench_soak_kills_replicas_and_nothing_is_done_twice(tmp_path):
    try:
        bench.locust_venv()
    except subprocess.CalledProcessError as error:  # pragma: no cover - no package registry
        pytest.skip(f"could not install locust into .venv-locust: {error}")
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bot.bench", "soak", "--users", "4", "--duration", "40", "--kill-every", "15",
               "--out", str(out), "--name", "soak"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "kills" in done.stdout and "invariants: OK" in done.stdout

    run = json.loads((out / "soak.json").read_text(encoding="utf-8"))["run"]
    soak, step = run["soak"], json.loads((out / "soak.json").read_text(encoding="utf-8"))["steps"][0]
    assert run["profiles"]["replicas"]["mode"] == "production" and run["profiles"]["replicas"]["replicas"] == 2
    assert len(soak["kills"]) >= 1 and all(k["back_s"] for k in soak["kills"])
    assert soak["ok"] and soak["check"]["violations"] == [] and soak["check"]["duplicates"] == 0
    assert step["requests"] - step["failures"] > 0
    assert soak["check"]["reports_seen"] == soak["check"]["reports_in_db"] == soak["check"]["refunds_in_db"] > 0
