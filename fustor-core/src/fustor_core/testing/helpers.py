"""The helpers every test kit of the repository needs, in one copy: :func:`wait_for` (poll a
condition with a deadline, never a bare sleep), :func:`free_port` (a loopback port for a real
server) and :func:`install_distribution` (a throwaway installed distribution, to test what a
plugin's packaging does)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition", interval: float = 0.02
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    An exception from ``condition`` counts as "not yet" (a service may still be starting); after
    ``timeout`` seconds a :class:`TimeoutError` names ``what`` and the last such exception.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}{suffix}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_distribution(
    site: Path,
    name: str,
    version: str = "1.0.0",
    *,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    modules: Mapping[str, str] | None = None,
    requires: Sequence[str] = (),
) -> Path:
    """Make ``name`` look installed to importlib.metadata, without pip.

    Writes ``{module}.py`` files and a ``*.dist-info`` directory (METADATA with ``Requires-Dist``
    lines, entry_points.txt) under ``site``; put ``site`` on ``sys.path`` (or ``PYTHONPATH`` for
    a child process) and the entry points are found as a real installation's would be::

        install_distribution(tmp_path, "my-rule", entry_points={"fustor": {"my-rule": "my_rule"}},
                             modules={"my_rule": SOURCE}, requires=["fustor-core>=0.1,<0.2"])
        monkeypatch.syspath_prepend(str(tmp_path))
    """
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(source)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    sections = [
        f"[{group}]\n" + "".join(f"{entry} = {value}\n" for entry, value in entries.items())
        for group, entries in (entry_points or {}).items()
    ]
    (info / "entry_points.txt").write_text("\n".join(sections))
    return info


async def async_wait_for(
    condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition", interval: float = 0.005
) -> T:
    """:func:`wait_for` inside an event loop: polls ``condition`` between ``asyncio.sleep``s, so
    the coroutines under test keep running meanwhile."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}{suffix}")
        await asyncio.sleep(interval)
