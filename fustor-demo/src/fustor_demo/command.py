"""``fustor demo``: the subcommand this distribution adds to ``fustor`` (group ``fustor.commands``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def demo(parser: argparse.ArgumentParser) -> None:
    """Run registry, Fusion and an agent on PATH (or a generated sample tree) until Ctrl-C.

    State (database, keys, logs) lives under $FUSTOR_HOME/demo and is reused by the next run.
    """
    parser.add_argument("path", nargs="?", help="directory to watch (default: a generated sample tree)")
    parser.add_argument(
        "--port-base",
        type=int,
        default=8101,
        help="registry port; Fusion uses +1 and the agent API +2 (default: 8101)",
    )
    parser.add_argument("--fresh", action="store_true", help="forget the previous demo's database and keys")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fustor_demo.orchestrator import DemoOptions, run_demo  # only when the demo really runs

    path = Path(args.path).expanduser() if args.path else None
    return run_demo(DemoOptions(path=path, port_base=args.port_base, fresh=args.fresh))
