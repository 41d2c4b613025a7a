"""`fustor` finds its subcommands through entry points of group 'fustor.commands'.

Throwaway distributions (dist-info directories on sys.path) add commands, as a third party's
would; core's own ``plugins`` command arrives the same way.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from fustor_core.cli import COMMANDS_GROUP, main
from fustor_core.testing import install_distribution

HELLO = '''
from fustor_core.errors import FustorError


def hello(parser):
    """Greet someone (a third-party command).

    Longer description.
    """
    parser.add_argument("--name", default="world")
    parser.set_defaults(func=run)


def run(args):
    if args.name == "nobody":
        raise FustorError("nobody to greet")
    print(f"hello {args.name}")
    return 0
'''
NOT_TO_BE_IMPORTED = "raise RuntimeError('a command built for another core was imported')\n"


def _install(site: Path, dist: str, entry: str, module: str, source: str, *, requires: str = "") -> None:
    """A distribution adding the command ``entry`` (function ``entry`` of ``module``)."""
    entry_points = {COMMANDS_GROUP: {entry: f"{module}:{entry}"}}
    requirements = [requires] if requires else []
    install_distribution(
        site, dist, entry_points=entry_points, modules={module: source}, requires=requirements
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    _install(tmp_path, "fake-hello", "hello", "fake_hello_command", HELLO)
    return tmp_path


def test_a_distribution_adds_a_subcommand(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hello", "--name", "fustor"]) == 0
    assert capsys.readouterr().out == "hello fustor\n"
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "Greet someone (a third-party command)." in capsys.readouterr().out


def test_a_command_error_is_one_line_and_exit_code_2(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hello", "--name", "nobody"]) == 2
    assert capsys.readouterr().err == "fustor: nobody to greet\n"


def test_core_declares_its_own_plugins_command_through_the_same_group() -> None:
    declared = {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP)}
    assert declared["plugins"].value == "fustor_core.commands:plugins_command"
    assert declared["plugins"].dist is not None and declared["plugins"].dist.name == "fustor-core"


def test_a_broken_command_says_why_and_the_others_keep_working(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(site, "fake-broken", "broken", "fake_broken_command", "raise ImportError('no such thing')\n")
    assert main(["hello"]) == 0
    capsys.readouterr()
    assert main(["broken", "--any", "args"]) == 2
    assert capsys.readouterr().err == (
        "fustor: command 'broken' from fake-broken 1.0.0 (fake_broken_command:broken) failed to load: "
        "ImportError: no such thing\n"
    )


def test_a_command_built_for_another_core_is_refused_unimported(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(
        site, "fake-future", "future", "fake_future_command", NOT_TO_BE_IMPORTED, requires="fustor-core>=99"
    )
    assert main(["future"]) == 2
    assert "command 'future' from fake-future 1.0.0" in (err := capsys.readouterr().err)
    assert "built for fustor-core >=99 but fustor-core" in err


def test_two_distributions_claiming_one_command_name_are_both_named(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(site, "fake-hello-too", "hello", "fake_hello_too_command", HELLO)
    assert main(["hello"]) == 2
    err = capsys.readouterr().err
    assert "command 'hello' is provided by more than one distribution" in err
    assert "fake-hello 1.0.0" in err and "fake-hello-too 1.0.0" in err
