"""What the cluster benchmarks share: a PostgreSQL to run on, and Fusion nodes sharing it.

PostgreSQL: ``--postgres-url``, else ``FUSTOR_TEST_POSTGRES_URL``, else a private server started
for the run (``tests/kit/pgserver.py``). Every run works in a schema of its own, dropped at the
end. The nodes are ``fusion_journal.FusionProcess`` (``fustor-fusion serve``, datastore ``demo``,
the bench keys) with ``journal: {driver: postgres}`` and a ``cluster:`` section, each on its own
loopback port; the first started owns the view.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from fustor_core.testing import free_port

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "kit"))
from fusion_http import Client
from fusion_journal import PLUGINS, FusionProcess

PG_PLUGINS = [name for name in PLUGINS if name != "journal-sqlite"] + ["journal-postgres"]
DATASTORE = "demo"


def add_postgres_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres-url",
        help="PostgreSQL to run on (default: $FUSTOR_TEST_POSTGRES_URL, else a private server)",
    )


@contextlib.contextmanager
def postgres(args: argparse.Namespace) -> Iterator[str]:
    """The PostgreSQL URL for this run (a private server lives as long as the context)."""
    url = args.postgres_url or os.environ.get("FUSTOR_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    from pgserver import PgServer

    print("no --postgres-url nor FUSTOR_TEST_POSTGRES_URL: starting a private PostgreSQL", flush=True)
    with PgServer() as server:
        yield server.url


class Nodes:
    """``count`` Fusion nodes on one new schema of ``url``; the first is started first (owner)."""

    def __init__(
        self,
        work: Path,
        url: str,
        count: int,
        *,
        lease_s: float = 10.0,
        renew_interval_s: float | None = None,
    ) -> None:
        self.url = url
        self.schema = f"bench_{uuid.uuid4().hex[:12]}"
        self.lease_s = lease_s
        self.renew_interval_s = renew_interval_s if renew_interval_s is not None else lease_s / 4
        self.nodes: list[FusionProcess] = []
        for i in range(count):
            node_id = f"fusion-{chr(ord('a') + i)}"
            port = free_port()
            workdir = work / node_id
            workdir.mkdir(parents=True)
            cluster = {
                "node_id": node_id,
                "advertise_url": f"http://127.0.0.1:{port}",
                "lease_s": lease_s,
                "renew_interval_s": self.renew_interval_s,
            }
            journal = {"driver": "postgres", "url": url, "schema": self.schema}
            self.nodes.append(
                FusionProcess(workdir, journal, port=port, settings={"cluster": cluster}, plugins=PG_PLUGINS)
            )

    def start(self, count: int | None = None) -> Nodes:
        """Start the first ``count`` nodes (default all), in order; wait until the first owns."""
        for node in self.nodes[:count]:
            node.start()
            node.wait_ready()
        wait_role(self.nodes[0], "owner", 30)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.stop()
        self.drop_schema()

    def drop_schema(self) -> None:
        import psycopg

        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(self.url.replace("+psycopg", ""), autocommit=True, connect_timeout=5) as conn,
        ):
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def view_state(node: FusionProcess) -> dict[str, Any]:
    """``/readyz`` ``views.demo`` of ``node`` ({} when it does not answer)."""
    try:
        status, data = Client(node.url, "").call("GET", "/readyz")
    except OSError:
        return {}
    state: dict[str, Any] = (orjson.loads(data).get("views") or {}).get(DATASTORE) or {}
    state["http_status"] = status
    return state


def wait_role(node: FusionProcess, role: str, timeout: float) -> float:
    """Until ``node`` says it has ``role`` for the view; the time (perf_counter) it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if view_state(node).get("role") == role:
            return time.perf_counter()
        time.sleep(0.01)
    raise SystemExit(f"{node.url} did not become {role} within {timeout} s: {view_state(node)}")


def wait_seq(node: FusionProcess, seq: int, timeout: float) -> float:
    """Until ``node`` has applied record ``seq``; the time (perf_counter) it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(view_state(node).get("seq") or 0) >= seq:
            return time.perf_counter()
        time.sleep(0.005)
    raise SystemExit(f"{node.url} did not apply record {seq} within {timeout} s: {view_state(node)}")


def request(
    client: Client, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One call on a keep-alive ``Client``, with the answer's headers (``X-Fustor-Seq``)."""
    client.conn.request(method, path, body=body, headers=client.headers)
    response = client.conn.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def realtime_body(seq: int, paths: list[str], size: int = 1) -> bytes:
    """A batch of realtime inserts (``seq`` is the session's batch number)."""
    return orjson.dumps(
        {
            "seq": seq,
            "events": [
                {
                    "message_source": "realtime",
                    "event_type": "insert",
                    "index": int(time.time() * 1000),
                    "rows": [
                        {"path": p, "is_dir": False, "size": size, "mtime": 1_700_000_000.0} for p in paths
                    ],
                }
            ],
        }
    )
