"""Developer sessions: ``nox -s tests``, ``nox -s lint``, ``nox -s demo``, ``nox -s bench``.

Each session installs the whole workspace editable into its own virtualenv (the same set
``./dev`` installs), so nox and ``./dev`` run the same code the same way.
"""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


def workspace_packages() -> list[str]:
    """Core first, then plugins, then the services that depend on them, then the demo and the client, then
    test-only plugins (``tests/plugins``: installed for the test suite, never part of a service's
    install)."""

    def packages_in(folder: Path) -> list[str]:
        return sorted(str(p) for p in folder.iterdir() if (p / "pyproject.toml").exists())

    services = ("fustor-fusion", "fustor-agent", "fustor-registry", "fustor-demo", "fustor-client")
    return [
        str(ROOT / "fustor-core"),
        *packages_in(ROOT / "plugins"),
        *(str(ROOT / name) for name in services),
        *packages_in(ROOT / "tests" / "plugins"),
    ]


def install_workspace(session: nox.Session) -> None:
    session.install("-r", str(ROOT / "requirements-dev.txt"))
    args: list[str] = []
    for package in workspace_packages():
        args += ["-e", package]
    session.install("--no-deps", *args)


@nox.session(python="3.11")
def tests(session: nox.Session) -> None:
    """The whole test suite (every package and plugin)."""
    install_workspace(session)
    session.run("pytest", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy."""
    install_workspace(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python="3.11")
def demo(session: nox.Session) -> None:
    """The one-command demo: registry, Fusion and an agent on a sample tree."""
    install_workspace(session)
    session.run("fustor", "demo", *session.posargs)


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """Benchmarks with their baselines; figures go to benchmarks/RESULTS.md by hand."""
    install_workspace(session)
    session.run("python", str(ROOT / "benchmarks" / "run.py"), *session.posargs)
