"""The ``fustor`` command: what is installed, and the one-command demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from fustor_core.errors import FustorError
from fustor_core.plugins import describe_plugins, get_plugin_manager


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins with distribution, version and the hooks each implements."""
    infos = describe_plugins(get_plugin_manager())
    if args.json:
        print(json.dumps([info.__dict__ | {"hooks": list(info.hooks)} for info in infos], indent=2))
        return 0
    if not infos:
        print("no Fustor plugins installed (entry-point group 'fustor')")
        return 0
    for info in infos:
        print(f"{info.name:<18} {info.distribution} {info.version}")
        print(f"{'':<18} hooks: {', '.join(info.hooks) or '-'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run registry, Fusion and an agent on PATH (or a sample tree) until Ctrl-C."""
    from fustor_core.demo import DemoOptions, run_demo

    path = Path(args.path).expanduser() if args.path else None
    return run_demo(DemoOptions(path=path, port_base=args.port_base, fresh=args.fresh))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fustor", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", help="list installed plugins and the hooks they implement")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=cmd_plugins)
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
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FustorError as exc:
        print(f"fustor: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
