"""`cleanbot bench load` (bot/bench.py, benchmarks/load/): the harness against a real server, for a few
seconds at one and two conversations. Only that it produces the table, the JSON and the CSV, with messages
answered and no errors: no timing is asserted (the machine may be shared)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

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
