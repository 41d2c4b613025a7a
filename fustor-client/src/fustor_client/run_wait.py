"""``fustor wait PATH --complete``: exit status 0 once PATH is marked complete, 1 at the timeout.

Asks ``GET tree?path=PATH&depth=0&wait=complete&timeout=S``: Fusion answers as soon as the node
is complete, or when S seconds have passed with the node as it then is. Long waits are asked for
in slices of :data:`SLICE_S` (so no proxy or server limit cuts a request). A Fusion that does
not know ``wait`` (it refuses the parameter with 422) is polled instead, and a path that does
not exist yet is waited for like an incomplete one.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from fustor_client.config import resolve
from fustor_client.http import FusionClient, FusionError
from fustor_core.errors import FustorError

SLICE_S = 30.0
POLL_S = 0.5


def run(args: argparse.Namespace) -> int:
    path = args.path if args.path.startswith("/") else "/" + args.path
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    server_waits = True
    with FusionClient(resolve(args)) as client:
        while True:
            remaining = SLICE_S if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                print(f"fustor: {path} is not complete after {args.timeout:g}s", file=sys.stderr)
                return 1
            asked = time.monotonic()
            node = _ask(client, path, min(remaining, SLICE_S), server_waits)
            if node is _NO_WAIT:
                server_waits = False
                continue
            if node is not None:
                if "complete" not in node:
                    raise FustorError(
                        "this Fusion marks no node complete (no completion rule installed):"
                        " nothing to wait for"
                    )
                if node["complete"]:
                    return 0
            if not server_waits or node is None or time.monotonic() - asked < POLL_S:
                pause = POLL_S if deadline is None else min(POLL_S, max(deadline - time.monotonic(), 0))
                time.sleep(pause)


_NO_WAIT: dict[str, Any] = {}


def _ask(client: FusionClient, path: str, wait_s: float, server_waits: bool) -> dict[str, Any] | None:
    """The node (None while it does not exist); ``_NO_WAIT`` when Fusion refuses ``wait``."""
    params: dict[str, Any] = {"path": path, "depth": 0}
    if server_waits:
        params.update(wait="complete", timeout=f"{wait_s:.3f}")
    try:
        node: dict[str, Any] = client.json("/tree", params, timeout_s=wait_s + 30)
        return node
    except FusionError as exc:
        if exc.http_status == 404 and exc.code == "path_not_found":
            return None
        if server_waits and exc.http_status == 422 and "unknown query parameter" in exc.message:
            return _NO_WAIT
        raise
