"""``fustor find``: the starting point tested here, everything below it by Fusion's search."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from fustor_client.config import resolve
from fustor_client.find_expression import local_mtime, parse_find, parse_time
from fustor_client.http import FusionClient, FusionError
from fustor_client.output import Out
from fustor_core.errors import InvalidInput

PAGE = 5000


def run(args: argparse.Namespace) -> int:
    if any(word in ("-h", "--help", "-help") for word in args.expression):
        print(args.help_text, end="")
        return 0
    query = parse_find(list(args.expression), time.time())
    for name, value in query.connection.items():
        setattr(args, name, value)
    out = Out()
    end = {"-print": "\n", "-print0": "\0"}.get(query.output)
    with FusionClient(resolve(args)) as client:
        for ref in query.newer_refs:
            query.narrow_mtime(_newer_than(client, ref), None)
        for start in query.paths:
            root = client.json("/tree", {"path": start, "depth": 0})
            if query.matches(root):
                out.write(_render(root, end))
            if not root["is_dir"]:
                continue
            params = {"path": start, "limit": PAGE, **query.search_params()}
            for answer in client.pages("/search", params):
                out.write("".join(_render(node, end) for node in answer.json()))
                out.flush()
    out.flush()
    return 0


def _render(node: dict[str, Any], end: str | None) -> str:
    if end is None:
        return json.dumps(node, ensure_ascii=False) + "\n"
    return node["path"] + end


def _newer_than(client: FusionClient, ref: str) -> float:
    """The time ``-newer REF`` compares with; a match must be strictly newer."""
    import math

    if ref.startswith("/"):
        try:
            return math.nextafter(float(client.json("/tree", {"path": ref, "depth": 0})["mtime"]), math.inf)
        except FusionError as exc:
            if exc.http_status != 404:
                raise
    mtime = local_mtime(ref)
    if mtime is None:
        mtime = parse_time(ref)
    if mtime is None:
        raise InvalidInput(
            f"find: -newer {ref!r}: neither a path in the datastore, a local file,"
            " nor a time (@EPOCH, ISO 8601)"
        )
    return math.nextafter(mtime, math.inf)
