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

from fustor_core.errors import FustorError, PluginError
from fustor_core.plugins import PluginInfo, describe_plugins, get_plugin_manager, problems_message


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
    """List installed plugins: distribution, version, core range, hooks, and any problem.

    Unlike a service, the listing does not stop at the first broken plugin: it shows every one,
    then fails (exit 2, one line per problem) if any is unusable, so scripts notice too.
    """
    infos = describe_plugins(get_plugin_manager(strict=False))
    if getattr(args, "json", False):
        print(json.dumps([info.as_json_obj() for info in infos], indent=2))
    elif not infos:
        print("no Fustor plugins installed (entry-point group 'fustor')")
    else:
        for info in infos:
            _print_plugin(info)
    broken = [info for info in infos if info.error]
    if broken:
        raise PluginError(problems_message([f"plugin {info.origin}: {info.error}" for info in broken]))
    return 0


def _print_plugin(info: PluginInfo) -> None:
    core = f"  (fustor-core {info.core})" if info.core else ""
    print(f"{info.name:<18} {info.distribution} {info.version}{core}")
    if info.error:
        print(f"{'':<18} ERROR: {info.error}")
    if info.hooks or not info.error:
        print(f"{'':<18} hooks: {', '.join(info.hooks) or '-'}")


def plugins_command(parser: argparse.ArgumentParser) -> None:
    """List installed plugins and the hooks they implement."""
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=cmd_plugins)


def add_plugins_command(subparsers: Any) -> None:
    """Add ``plugins [--json]``: the first thing to run when a behaviour seems missing."""
    plugins_command(
        subparsers.add_parser("plugins", help="list installed plugins and the hooks they implement")
    )
