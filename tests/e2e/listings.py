"""Fusion's whole view against the export: the end-to-end measure of "the view is the truth"."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from stack import DATASTORE, LabStack

Listing = dict[str, tuple[bool, int, float]]
"""``path -> (is_dir, size, mtime)``; directories have size 0 and their mtime is not compared."""


def export_listing(root: Path) -> Listing:
    """Everything below ``root`` as an agent sends it (names that are not UTF-8 left out)."""
    listing: Listing = {}
    stack = [(os.fsencode(root), "")]
    while stack:
        absolute, relative = stack.pop()
        with os.scandir(absolute) as entries:
            for entry in entries:
                try:
                    name = entry.name.decode("utf-8")
                except UnicodeDecodeError:
                    continue
                path = f"{relative}/{name}"
                st = entry.stat(follow_symlinks=False)
                is_dir = entry.is_dir(follow_symlinks=False)
                listing[path] = (is_dir, 0 if is_dir else st.st_size, st.st_mtime)
                if is_dir:
                    stack.append((entry.path, path))
    return listing


def view_listing(stack: LabStack, max_nodes: int = 100_000) -> Listing:
    """Fusion's whole tree (the root excluded)."""
    answer = stack.http.get(
        f"{stack.fusion_url}/api/v1/views/{DATASTORE}/tree",
        params={"path": "/", "depth": -1, "max_nodes": max_nodes},
        headers={"X-API-Key": stack.registry.query_key},
    )
    answer.raise_for_status()
    listing: Listing = {}
    pending: list[dict[str, Any]] = list(answer.json().get("children") or [])
    while pending:
        node = pending.pop()
        listing[node["path"]] = (node["is_dir"], 0 if node["is_dir"] else node["size"], node["mtime"])
        pending.extend(node.get("children") or [])
    return listing


def differences(view: Listing, export: Listing) -> dict[str, list[str]]:
    """What differs: paths ``missing`` from the view, ``extra`` in it, files whose ``size`` or
    ``mtime`` differ, entries whose kind (file/directory) differs."""
    common = set(view) & set(export)
    return {
        "missing": sorted(set(export) - set(view)),
        "extra": sorted(set(view) - set(export)),
        "kind": sorted(p for p in common if view[p][0] != export[p][0]),
        "size": sorted(p for p in common if not export[p][0] and view[p][1] != export[p][1]),
        "mtime": sorted(p for p in common if not export[p][0] and abs(view[p][2] - export[p][2]) > 1e-6),
    }


def summary(diff: dict[str, list[str]]) -> str:
    parts = [f"{key} {len(paths)} (e.g. {paths[:3]})" for key, paths in diff.items() if paths]
    return "; ".join(parts) or "none"


def view_matches_export(stack: LabStack, root: Path) -> bool:
    return not any(differences(view_listing(stack), export_listing(root)).values())
