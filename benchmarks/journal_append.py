"""The PostgreSQL journal beside the embedded (sqlite) one, measured in the same run: raw append
rate, and how fast a follower on another connection is woken by an append.

HTTP ingest through Fusion's owner node must reach 100,000 rows/s with the PostgreSQL journal;
Fusion appends one record per 1,000-row batch (~5–20 KB once compressed), so the journal must
take a few hundred one-record appends per second with room to spare. Measured here, each journal
on its own, in this process:

1. **one record of 10 KB per append** (one sender waiting for each append, as a view's writer
   does): appends/s, and the rows/s that means at 1,000 rows per record. Budget (PostgreSQL):
   ≥ 400 appends/s, four times what 100,000 rows/s needs.
2. **100 records of 10 KB per append** (Fusion's group commit when many senders wait at once):
   records/s.
3. **follower wake-up** (PostgreSQL only): a second journal object over the same view blocks in
   ``wait_for_records``; the time from the start of each append to the follower's return, p50
   and p99. Budgets: p50 ≤ 30 ms, p99 ≤ 100 ms (the replica-lag budget; the replay itself
   comes on top and is Fusion's). Baseline: the append's own duration, measured in the same loop.

PostgreSQL comes from ``FUSTOR_TEST_POSTGRES_URL`` (``.ci/start-postgres.sh``), in a schema of
this run's own, dropped at the end. Usage: ``python benchmarks/journal_append.py [--seconds 5]
[--budget-scale F] [--smoke]``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments

from fustor_core.journal import Journal, NewRecord
from fustor_journal_postgres import PostgresJournal, connection_url
from fustor_journal_sqlite import SqliteJournal

BUDGETS = {"append_1x10k_per_s": 400, "wake_p50_ms": 30, "wake_p99_ms": 100}
PAYLOAD = 10_000
ROWS_PER_RECORD = 1000


def batch(n: int) -> list[NewRecord]:
    payload = os.urandom(PAYLOAD)  # compressed data does not compress again
    return [NewRecord(time=time.time(), kind="event", payload=payload) for _ in range(n)]


def append_rate(journal: Journal, per_append: int, seconds: float) -> float:
    """Appends per second, one after the other, for about ``seconds``."""
    records = batch(per_append)
    journal.append(records)  # warm up (connections, caches)
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or count < 5:
        journal.append(records)
        count += 1
    return count / elapsed


def wake_latencies(
    owner: PostgresJournal, follower: PostgresJournal, rounds: int
) -> tuple[list[float], list[float]]:
    """(follower wake-up after each append's start, the append's own duration), in seconds."""
    woke: list[float] = []
    ready = threading.Event()
    stop = threading.Event()

    def follow() -> None:
        seen = follower.wait_for_records(0, 0.0)
        ready.set()
        while not stop.is_set():
            newest = follower.wait_for_records(seen, 1.0)
            if newest > seen:
                woke.append(time.perf_counter())
                seen = newest

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    ready.wait(30)
    records = batch(1)
    wakes: list[float] = []
    durations: list[float] = []
    for _ in range(rounds):
        before = len(woke)
        started = time.perf_counter()
        owner.append(records)
        durations.append(time.perf_counter() - started)
        deadline = time.monotonic() + 10
        while len(woke) == before and time.monotonic() < deadline:
            time.sleep(0.0005)
        if len(woke) > before:
            wakes.append(woke[-1] - started)
        time.sleep(0.005)  # the follower is back in wait_for_records before the next append
    stop.set()
    thread.join(5)
    return wakes, durations


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each rate is measured")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    seconds = 0.3 if args.smoke else args.seconds
    rounds = 20 if args.smoke else 300
    raw_url = os.environ.get("FUSTOR_TEST_POSTGRES_URL")
    if not raw_url:
        print("FUSTOR_TEST_POSTGRES_URL is not set (start PostgreSQL with .ci/start-postgres.sh)")
        return 1
    url = connection_url(raw_url)
    schema = "fj_bench_" + secrets.token_hex(4)
    with tempfile.TemporaryDirectory(prefix="fustor-bench-journal-") as scratch:
        sqlite = SqliteJournal(Path(scratch) / "bench")
        owner = PostgresJournal(url, "bench", schema=schema)
        follower = PostgresJournal(url, "bench", schema=schema)
        try:
            sqlite.open()
            owner.open()
            follower.open()
            rate_sqlite_1 = append_rate(sqlite, 1, seconds)
            rate_pg_1 = append_rate(owner, 1, seconds)
            rate_sqlite_100 = append_rate(sqlite, 100, seconds) * 100
            rate_pg_100 = append_rate(owner, 100, seconds) * 100
            wakes, durations = wake_latencies(owner, follower, rounds)
        finally:
            for journal in (sqlite, owner, follower):
                journal.close()
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    print(f"append, 1 record of {PAYLOAD // 1000} KB, one after the other:")
    print(
        f"  postgres {rate_pg_1:,.0f} appends/s (= {rate_pg_1 * ROWS_PER_RECORD:,.0f} rows/s at"
        f" {ROWS_PER_RECORD} rows a record)   sqlite (baseline) {rate_sqlite_1:,.0f} appends/s"
    )
    print(f"append, 100 records of {PAYLOAD // 1000} KB:")
    print(f"  postgres {rate_pg_100:,.0f} records/s   sqlite (baseline) {rate_sqlite_100:,.0f} records/s")
    wake_p50, wake_p99 = percentile(wakes, 0.5) * 1000, percentile(wakes, 0.99) * 1000
    append_p50 = statistics.median(durations) * 1000
    print(
        f"follower woken after an append's start: p50 {wake_p50:.2f} ms, p99 {wake_p99:.2f} ms"
        f" ({len(wakes)} of {rounds} woke)   the append itself (baseline): p50 {append_p50:.2f} ms"
    )
    baseline = f"sqlite {rate_sqlite_1:,.0f} appends/s"
    budgets.at_least(
        "postgres appends/s (1 × 10 KB)", rate_pg_1, BUDGETS["append_1x10k_per_s"], "appends/s", baseline
    )
    woke_all = f"append p50 {append_p50:.2f} ms; {len(wakes)}/{rounds} woke"
    budgets.at_most("follower wake p50", wake_p50, BUDGETS["wake_p50_ms"], "ms", woke_all)
    budgets.at_most(
        "follower wake p99",
        wake_p99 if len(wakes) == rounds else float("inf"),
        BUDGETS["wake_p99_ms"],
        "ms",
        woke_all,
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())
