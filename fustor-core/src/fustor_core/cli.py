"""The ``fustor`` command. Its subcommands are plugins too: entry points of group ``fustor.commands``.

A distribution adds ``fustor NAME`` by declaring, in its ``pyproject.toml``::

    [project.entry-points."fustor.commands"]
    demo = "fustor_demo.command:demo"

The entry point's name is the subcommand's name. It refers to a function that receives the
subcommand's :class:`argparse.ArgumentParser` (already created under that name), adds its
arguments and sets ``func``; the first line of its docstring is the command's help::

    def demo(parser: argparse.ArgumentParser) -> None:
        \"\"\"Run registry, Fusion and an agent on PATH until Ctrl-C.\"\"\"
        parser.add_argument("path", nargs="?")
        parser.set_defaults(func=run_demo_command)   # (args) -> exit code

``func`` runs under the shared error contract (:func:`fustor_core.commands.run_subcommand`): a
``FustorError`` is one line on stderr and exit code 2. Command modules are imported every time
``fustor`` starts, so they import heavy things inside ``func``. Core's own ``plugins`` command
is declared the same way; nothing is built in.

Why an entry-point group and not a hook: ``fustor --help`` must not import every merge rule and
driver, and a command-line distribution implements no hook. A command that cannot be used — its
distribution requires another ``fustor-core``, it fails to import, or two distributions claim
its name — is still listed, running it says why, and every other command keeps working.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from fustor_core.commands import run_subcommand
from fustor_core.compatibility import core_incompatibility
from fustor_core.errors import PluginError

COMMANDS_GROUP = "fustor.commands"


def _origin(ep: EntryPoint) -> str:
    dist = ep.dist
    where = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"{where} ({ep.value})"


def _unusable(reason: str) -> Callable[[argparse.Namespace], int]:
    def fail(args: argparse.Namespace) -> int:
        raise PluginError(reason)

    return fail


def _load(name: str, candidates: list[EntryPoint]) -> tuple[Callable[..., Any] | None, str]:
    """The command's configure function, or None and why it cannot be used."""
    if len(candidates) > 1:
        claimants = ", ".join(sorted(_origin(ep) for ep in candidates))
        return None, f"command {name!r} is provided by more than one distribution: {claimants}"
    ep = candidates[0]
    incompatible = core_incompatibility(ep.dist)
    if incompatible is not None:
        return None, f"command {name!r} from {_origin(ep)}: {incompatible}"
    try:
        configure = ep.load()
    except Exception as exc:  # one broken command must not take the others down
        return None, f"command {name!r} from {_origin(ep)} failed to load: {type(exc).__name__}: {exc}"
    return configure, ""


def add_installed_commands(subparsers: Any, group: str = COMMANDS_GROUP) -> None:
    """Add one subcommand per entry point of ``group``, in name order."""
    by_name: dict[str, list[EntryPoint]] = defaultdict(list)
    for ep in entry_points(group=group):
        by_name[ep.name].append(ep)
    for name in sorted(by_name):
        configure, problem = _load(name, by_name[name])
        if configure is None:
            # takes any arguments (no option prefix), so that running it always reaches the reason
            stub = subparsers.add_parser(
                name, help=f"(unusable: run 'fustor {name}' to see why)", prefix_chars="\0", add_help=False
            )
            stub.add_argument("ignored", nargs="*", help=argparse.SUPPRESS)
            stub.set_defaults(func=_unusable(problem))
            continue
        doc = inspect.getdoc(configure) or ""
        parser = subparsers.add_parser(
            name,
            help=doc.splitlines()[0] if doc else None,
            description=doc or None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        configure(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fustor",
        description="Fustor: commands contributed by the installed distributions (group 'fustor.commands').",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_installed_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run_subcommand(build_parser(), argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
