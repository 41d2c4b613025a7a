"""``fustor watch [PATH]``: the change feed, long-polled (``GET changes?since=...&wait=...``).

The first request (no cursor) only learns the feed's current position; every change after it
is printed, page by page, until Ctrl-C. A ``reset`` answer (the cursor can no longer be
continued: Fusion restarted without its journal, or the feed was trimmed past it) is said on
stderr, and watching continues from the position the answer gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from fustor_client.config import resolve
from fustor_client.http import FusionClient
from fustor_client.output import Out, marks, mtime_text

WAIT_S = 25
PAGE = 1000


def render(change: dict[str, Any]) -> str:
    if change["op"] == "delete":
        return f"delete {'':4} {'':>12} {'':16} {change['path']}\n"
    size = change.get("size")
    shown = "-" if size is None else str(size)
    return f"upsert {marks(change)} {shown:>12} {mtime_text(change.get('mtime'))} {change['path']}\n"


def run(args: argparse.Namespace) -> int:
    path = args.path if args.path.startswith("/") else "/" + args.path
    out = Out()
    with FusionClient(resolve(args)) as client:
        since = args.since
        if since is None:
            since = client.json("/changes", {"path": path, "limit": 1})["next"]
        while True:
            page = client.json(
                "/changes",
                {"since": since, "wait": WAIT_S, "path": path, "limit": PAGE},
                timeout_s=WAIT_S + 30,
            )
            if page.get("reset"):
                print("fustor: the change feed could not continue (reset): re-read the tree", file=sys.stderr)
            for change in page["changes"]:
                out.write(json.dumps(change, ensure_ascii=False) + "\n" if args.json else render(change))
            out.flush()
            since = page["next"]
