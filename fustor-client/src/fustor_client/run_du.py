"""``fustor du``: every directory's total from Fusion's per-directory aggregates.

``-s`` (or ``--max-depth 0``) is one ``tree?depth=0`` request however big the tree: each
directory node carries its recursive ``files``, ``dirs`` and ``bytes``. Without it the
directories below PATH come from ``search?type=d`` (path order, i.e. parents first) and are
printed children first, as du does, by holding the chain of open ancestors.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from fustor_client.config import resolve
from fustor_client.http import FusionClient
from fustor_client.output import Out, human

PAGE = 10_000


def measure(node: dict[str, Any], args: argparse.Namespace) -> str:
    if args.inodes:
        value = 1 + (node.get("files") or 0) + (node.get("dirs") or 0) if node["is_dir"] else 1
        return human(value) if args.human else str(value)
    size = node["bytes"] if node["is_dir"] else node["size"]
    if args.bytes and not args.human:
        return str(size)
    if args.human:
        return human(size)
    return str(math.ceil(size / 1024))


def _depth(path: str, start: str) -> int:
    below = path[len(start) :] if start != "/" else path
    return below.count("/")


def run(args: argparse.Namespace) -> int:
    out = Out()
    limit = 0 if args.summarize else args.max_depth
    with FusionClient(resolve(args)) as client:
        for raw in args.paths:
            start = raw if raw.startswith("/") else "/" + raw
            start = start.rstrip("/") or "/"
            root = client.json("/tree", {"path": start, "depth": 0})
            if not root["is_dir"] or limit == 0:
                out.write(f"{measure(root, args)}\t{start}\n")
                continue
            open_dirs: list[dict[str, Any]] = [root]
            for answer in client.pages("/search", {"path": start, "type": "d", "limit": PAGE}):
                for node in answer.json():
                    while not node["path"].startswith(_prefix(open_dirs[-1]["path"])):
                        out.write(_line(open_dirs.pop(), args))
                    if limit is None or _depth(node["path"], start) <= limit:
                        open_dirs.append(node)
                out.flush()
            while open_dirs:
                out.write(_line(open_dirs.pop(), args))
    out.flush()
    return 0


def _prefix(path: str) -> str:
    return "/" if path == "/" else path + "/"


def _line(node: dict[str, Any], args: argparse.Namespace) -> str:
    return f"{measure(node, args)}\t{node['path']}\n"
