"""The subcommands this distribution adds to ``fustor`` (group ``fustor.commands``).

Only argument definitions live here: ``fustor`` imports every command module at start, so the
HTTP client and the commands' code are imported when a command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from fustor_client.config import add_connection_options


def _run(name: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from importlib import import_module

        from fustor_client.output import quiet_on_closed_pipe

        module = import_module(f"fustor_client.run_{name}")
        return int(quiet_on_closed_pipe(module.run)(args))

    return run


def _allow_short_h(parser: argparse.ArgumentParser) -> None:
    """Free ``-h`` for ``--human-readable`` (as in ls and du); help stays at ``--help``."""
    # argparse has no public way to drop -h from an existing parser: "resolve" makes the new -h
    # take it over from --help (set on the parser and on the group that holds the options)
    parser.conflict_handler = "resolve"
    parser._optionals.conflict_handler = "resolve"


def ls(parser: argparse.ArgumentParser) -> None:
    """List a directory of the view (or one file): names, or with -l marks, size, mtime.

    With -l each line is MARKS SIZE MTIME NAME; MARKS are four letters (- when not set):
    d directory, S suspect (still being written, or too fresh to trust), B blind spot (changed
    from a host without an agent, seen only by an audit), C complete.
    Directories are paged through (every child is listed, in name order).
    """
    _allow_short_h(parser)
    parser.add_argument("path", nargs="?", default="/", help="a path in the datastore (default /)")
    parser.add_argument("-l", dest="long", action="store_true", help="long listing: marks, size, mtime, name")
    parser.add_argument(
        "-h", "--human-readable", dest="human", action="store_true", help="sizes like 1.5K, 23M"
    )
    add_connection_options(parser)
    parser.set_defaults(func=_run("ls"))


def find(parser: argparse.ArgumentParser) -> None:
    """Search the view like GNU find: fustor find [PATH...] [EXPRESSION]; Fusion does the filtering.

    Tests (joined by AND; GNU find's meanings, rounding included):
      -name GLOB            base name matches GLOB
      -path GLOB            whole path matches GLOB ('*' matches '/' too)
      -type f|d             files or directories
      -size [+-]N[cwbkMG]   size in units rounded up (default b = 512 bytes); -size -1M: empty files
      -mmin [+-]N           modified N minutes ago (+N: more than, -N: less than)
      -mtime [+-]N          modified N whole days ago (+N: more than, -N: less than)
      -newer FILE-or-TIME   modified after FILE (a path in the datastore, else a local file) or
                            TIME (@EPOCH or ISO 8601, e.g. 2026-11-29T12:00)
      -suspect              still being written, or too fresh to trust
      -incomplete           not marked complete
    Output: -print (default, one path a line), -print0 (NUL-terminated), -json (one node a line).
    Connection options (--url, --key, --datastore) may appear anywhere. The starting PATH is
    tested too, as find does. Output streams page by page; a closed pipe (| head) is not an error.
    """
    # find's expression is not argparse's kind of command line (-name, -size -1M, options after
    # paths): no prefix character means every word reaches the expression, which
    # fustor_client.find_expression parses; --help is answered there
    parser.prefix_chars = "\0"
    parser.add_argument("expression", nargs="*", help="PATH... then tests (see above)")
    parser.set_defaults(func=_run("find"), url=None, key=None, datastore=None, help_text=parser.format_help())


def du(parser: argparse.ArgumentParser) -> None:
    """Disk usage of a directory of the view, like GNU du, from Fusion's O(1) per-directory totals.

    Sizes are apparent sizes: the sum of the files' sizes (the view holds no block counts, and
    a directory's own entry size is not counted), so they compare with du --apparent-size of the
    files. Default unit: 1024 bytes, rounded up (as du --apparent-size); -b bytes; -h human.
    """
    _allow_short_h(parser)
    parser.add_argument(
        "paths", nargs="*", default=["/"], metavar="PATH", help="paths in the datastore (default /)"
    )
    parser.add_argument("-s", "--summarize", action="store_true", help="only a total for each PATH")
    parser.add_argument(
        "-h", "--human-readable", dest="human", action="store_true", help="sizes like 1.5K, 23M"
    )
    parser.add_argument("-b", "--bytes", action="store_true", help="apparent size in bytes")
    parser.add_argument(
        "--apparent-size", action="store_true", help="accepted: sizes are always apparent sizes"
    )
    parser.add_argument("--inodes", action="store_true", help="count files and directories instead of bytes")
    parser.add_argument(
        "-d", "--max-depth", type=int, metavar="N", help="print totals only N levels below PATH"
    )
    add_connection_options(parser)
    parser.set_defaults(func=_run("du"))


def wait(parser: argparse.ArgumentParser) -> None:
    """Wait until PATH is marked complete: exit status 0 when it is, 1 at --timeout.

    Uses GET tree?wait=complete (Fusion answers once the node is complete or its wait ends); a
    path that does not exist yet counts as not complete.
    """
    parser.add_argument("path", help="a path in the datastore, e.g. an upload's directory")
    parser.add_argument("--complete", action="store_true", required=True, help="wait for the complete mark")
    parser.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds (exit status 1)")
    add_connection_options(parser)
    parser.set_defaults(func=_run("wait"))


def watch(parser: argparse.ArgumentParser) -> None:
    """Print the view's changes at or below PATH as they happen (the change feed), until Ctrl-C.

    Each line: OP MARKS SIZE MTIME PATH (OP upsert or delete)."""
    parser.add_argument("path", nargs="?", default="/", help="only changes at or below this path (default /)")
    parser.add_argument("--json", action="store_true", help="one change a line as JSON, as the feed gives it")
    parser.add_argument("--since", help="continue after this feed cursor (else: from now)")
    add_connection_options(parser)
    parser.set_defaults(func=_run("watch"))
