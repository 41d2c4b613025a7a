"""``fustor ls``: a directory's children, page by page (``tree?depth=1`` and its cursor)."""

from __future__ import annotations

import argparse
from typing import Any

from fustor_client.config import resolve
from fustor_client.http import FusionClient
from fustor_client.output import Out, human, marks, mtime_text

PAGE = 5000


def line(node: dict[str, Any], long: bool, as_human: bool, name: str) -> str:
    if not long:
        return name + "\n"
    size = human(node["size"]) if as_human else str(node["size"])
    return f"{marks(node)} {size:>{6 if as_human else 12}} {mtime_text(node['mtime'])} {name}\n"


def run(args: argparse.Namespace) -> int:
    path = args.path if args.path.startswith("/") else "/" + args.path
    out = Out()
    with FusionClient(resolve(args)) as client:
        params: dict[str, Any] = {"path": path, "depth": 1, "limit": PAGE, "max_nodes": PAGE + 1}
        for answer in client.pages("/tree", params):
            node = answer.json()
            if not node["is_dir"]:
                out.write(line(node, args.long, args.human, node["path"]))
                break
            for child in node.get("children") or []:
                name = child["name"] + ("/" if child["is_dir"] and args.long else "")
                out.write(line(child, args.long, args.human, name))
            out.flush()
    out.flush()
    return 0
