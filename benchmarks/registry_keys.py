"""Registry key-check budgets (issue 5): what checking keys through the Registry costs Fusion.

Starts a real ``fustor-registry serve`` on 127.0.0.1 (SQLite in a temp dir, or ``--database-url``),
creates keys, and measures Fusion's :class:`RegistryKeyChecker`:

* warm: ``check(key)`` answered from the cache, per call, against the static-key checker
  (``StaticKeyChecker``, what Fusion uses without a Registry) and a bare ``dict`` lookup, all
  measured in this run. Budget: ≤ 0.2 ms added per check over the static checker.
* cold: the first ``check`` of each of N distinct keys (one HTTP round trip to the Registry over
  a kept-alive connection, key lookup in the database). Budget: median ≤ 5 ms (p95 printed).

Usage: ``python benchmarks/registry_keys.py [--warm 200000] [--cold 300] [--database-url URL]
[--budget-scale F] [--smoke]``. Exit status 1 when a budget is missed (see ``budgets.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import yaml
from cryptography.fernet import Fernet

from fustor_core.testing import free_port
from fustor_fusion.auth import KeyGrant, StaticKeyChecker
from fustor_fusion.registry_keys import RegistryKeyChecker
from fustor_registry.access import CLI_ADMIN
from fustor_registry.config import read_config
from fustor_registry.registry import Registry
from fustor_registry.schemas import DatastoreCreate, KeyCreate
from fustor_registry.services import datastores, keys

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments

WARM_BUDGET_MS = 0.2
COLD_BUDGET_MS = 5.0
SERVICE_TOKEN = "bench-service-token-0123456789abcdef"


def create_keys(config_path: Path, count: int) -> tuple[str, list[str]]:
    registry = Registry.open(read_config(config_path))
    try:
        name = f"bench-{uuid.uuid4().hex[:8]}"  # a given database may hold earlier runs
        registry.run(lambda s: datastores.create_datastore(s, CLI_ADMIN, DatastoreCreate(name=name)))
        body = KeyCreate(scopes=["ingest", "query"])
        created = [
            registry.run(lambda s: keys.create_key(s, CLI_ADMIN, name, body))["key"] for _ in range(count)
        ]
        return name, created
    finally:
        registry.close()


def start_registry(config_path: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fustor_registry.cli",
            "serve",
            "--config",
            str(config_path),
            "--port",
            url.rsplit(":", 1)[1],
        ],
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"registry exited with {process.returncode}")
        try:
            if httpx.get(url + "/api/v1/health", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("registry did not start within 60 s")


async def per_call_us(check: Callable[[str], Awaitable[KeyGrant]], key: str, n: int) -> float:
    """Best of 5 rounds, microseconds per awaited call."""
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(n // 5):
            await check(key)
        rounds.append((time.perf_counter() - started) / (n // 5) * 1e6)
    return min(rounds)


async def measure(url: str, datastore: str, key_list: list[str], warm_n: int) -> dict[str, float]:
    warm_key, cold_keys = key_list[0], key_list[1:]
    grant = KeyGrant(datastore, frozenset({"ingest", "query"}))
    static = StaticKeyChecker({warm_key: grant})
    table = {warm_key: grant}

    async def dict_lookup(key: str) -> KeyGrant:
        return table[key]

    checker = RegistryKeyChecker(url, SERVICE_TOKEN, ttl_s=3600)
    first_started = time.perf_counter()
    assert await checker.check(warm_key) == grant
    first_ms = (time.perf_counter() - first_started) * 1e3  # includes opening the connection

    results = {
        "dict_us": await per_call_us(dict_lookup, warm_key, warm_n),
        "static_us": await per_call_us(static.check, warm_key, warm_n),
        "warm_us": await per_call_us(checker.check, warm_key, warm_n),
        "first_ms": first_ms,
    }
    cold_ms = []
    for key in cold_keys:
        started = time.perf_counter()
        await checker.check(key)
        cold_ms.append((time.perf_counter() - started) * 1e3)
    cold_ms.sort()
    results["cold_median_ms"] = statistics.median(cold_ms)
    results["cold_p95_ms"] = cold_ms[int(len(cold_ms) * 0.95) - 1]
    results["cold_max_ms"] = cold_ms[-1]
    await checker.aclose()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warm", type=int, default=200_000, help="warm checks per checker")
    parser.add_argument("--cold", type=int, default=300, help="distinct keys checked cold")
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.warm, args.cold = 1_000, 5

    with tempfile.TemporaryDirectory(prefix="fustor-bench-registry-") as tmp:
        env = dict(os.environ, FUSTOR_HOME=str(Path(tmp) / "home"))
        os.environ["FUSTOR_HOME"] = env["FUSTOR_HOME"]
        config_path = Path(tmp) / "registry.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "database_url": args.database_url or f"sqlite:///{Path(tmp) / 'registry.db'}",
                    "secret_key": Fernet.generate_key().decode(),
                    "service_tokens": [SERVICE_TOKEN],
                    "log_level": "WARNING",
                }
            )
        )
        datastore, key_list = create_keys(config_path, args.cold + 1)
        process, url = start_registry(config_path, env)
        try:
            r = asyncio.run(measure(url, datastore, key_list, args.warm))
        finally:
            process.terminate()
            process.wait(timeout=30)

    added_ms = (r["warm_us"] - r["static_us"]) / 1e3
    print(
        f"database:           {'given URL' if args.database_url else 'SQLite (temp file)'}; registry at {url}"
    )
    print(f"baseline dict:      {r['dict_us']:.2f} us per lookup (awaited coroutine)")
    print(f"baseline static:    {r['static_us']:.2f} us per check (StaticKeyChecker)")
    print(
        f"registry warm:      {r['warm_us']:.2f} us per check (cached)  -> "
        f"{r['warm_us'] / r['static_us']:.2f}x static, +{added_ms * 1e3:.2f} us "
        f"(budget +{WARM_BUDGET_MS * 1e3:.0f} us)"
    )
    print(f"registry first:     {r['first_ms']:.2f} ms (includes opening the connection)")
    print(
        f"registry cold:      median {r['cold_median_ms']:.2f} ms, p95 {r['cold_p95_ms']:.2f} ms, "
        f"max {r['cold_max_ms']:.2f} ms over {args.cold} keys (budget median {COLD_BUDGET_MS} ms); "
        f"{r['cold_median_ms'] * 1e3 / r['static_us']:.0f}x a static check"
    )
    budgets.at_most(
        "warm check, added over static keys",
        added_ms,
        WARM_BUDGET_MS,
        "ms",
        f"static keys {r['static_us']:.2f} us, plain dict {r['dict_us']:.2f} us per check",
    )
    budgets.at_most(
        "cold check median",
        r["cold_median_ms"],
        COLD_BUDGET_MS,
        "ms",
        f"p95 {r['cold_p95_ms']:.2f} ms; first check with connect {r['first_ms']:.2f} ms",
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())
