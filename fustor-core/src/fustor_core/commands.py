"""What every Fustor command line shares: one error contract, and the ``plugins`` subcommand.

A :class:`~fustor_core.errors.FustorError` becomes one line on stderr and exit code 2 (no
traceback for a bad config or an unreachable service); Ctrl-C exits with 130, as shells expect.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from fustor_core.errors import FustorError
from fustor_core.plugins import describe_plugins, get_plugin_manager


def run_subcommand(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the chosen subcommand's ``func`` under the shared error contract."""
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FustorError as exc:
        print(f"{parser.prog}: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins with distribution, version and the hooks each implements."""
    infos = describe_plugins(get_plugin_manager())
    if getattr(args, "json", False):
        print(json.dumps([info.__dict__ | {"hooks": list(info.hooks)} for info in infos], indent=2))
        return 0
    if not infos:
        print("no Fustor plugins installed (entry-point group 'fustor')")
        return 0
    for info in infos:
        print(f"{info.name:<18} {info.distribution} {info.version}")
        print(f"{'':<18} hooks: {', '.join(info.hooks) or '-'}")
    return 0


def add_plugins_command(subparsers: Any) -> None:
    """Add ``plugins [--json]``: the first thing to run when a behaviour seems missing."""
    plugins = subparsers.add_parser("plugins", help="list installed plugins and the hooks they implement")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=cmd_plugins)
