"""The ``fustor`` command: what is installed, and the one-command demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fustor_core.commands import add_plugins_command, run_subcommand


def cmd_demo(args: argparse.Namespace) -> int:
    """Run registry, Fusion and an agent on PATH (or a sample tree) until Ctrl-C."""
    from fustor_core.demo import DemoOptions, run_demo

    path = Path(args.path).expanduser() if args.path else None
    return run_demo(DemoOptions(path=path, port_base=args.port_base, fresh=args.fresh))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fustor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_plugins_command(sub)
    demo = sub.add_parser("demo", help="run registry, Fusion and an agent on PATH until Ctrl-C")
    demo.add_argument("path", nargs="?", help="directory to watch (default: a generated sample tree)")
    demo.add_argument(
        "--port-base",
        type=int,
        default=8101,
        help="registry port; Fusion uses +1 and the agent API +2 (default: 8101)",
    )
    demo.add_argument("--fresh", action="store_true", help="forget the previous demo's database and keys")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_subcommand(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
