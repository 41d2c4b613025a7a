"""A private PostgreSQL server for tests that must stop or restart it.

The shared test server (``FUSTOR_TEST_POSTGRES_URL``) is fine for tests that only need *a*
PostgreSQL; a test that restarts PostgreSQL under load, or kills it, needs one of its own so it
disturbs nobody else. :class:`PgServer` runs ``initdb`` into a fresh directory and ``pg_ctl
start`` on a free loopback port, exactly as ``.ci/start-postgres.sh`` does for CI (as the
``postgres`` system user through ``runuser`` when we are root: PostgreSQL refuses to run as
root)::

    with PgServer() as pg:
        engine_url = pg.url            # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
        pg.restart()                   # fast shutdown and start again, same port, same data
        pg.restart(mode="immediate")   # a crash of the server: recovery from its WAL on start

Speed: ``fsync=off``. It only matters when the *operating system* loses its page cache (power
loss, kernel crash), which no test causes; a killed or immediately stopped server still recovers
every committed transaction from its WAL, which the kernel holds. ``synchronous_commit`` stays
on, so a commit's durability towards the server process is the real one. Authentication is
``trust`` on 127.0.0.1 and on a socket inside the private data directory: the server lives for
one test, on loopback only.

``pg_server`` is a pytest fixture (import it into a conftest); without PostgreSQL's binaries
it skips, or fails under ``CI=true``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fustor_core.testing import free_port

DEFAULT_DATABASE = "postgres"


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` directory (Debian layout), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in Path(p).parent.name.split(".")]
    )
    for candidate in reversed(found):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def pgserver_unavailable_reason() -> str | None:
    """Why a private server cannot be started here, or None when it can."""
    if postgres_bin_dir() is None:
        return "PostgreSQL's server binaries are not installed (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
        except (subprocess.CalledProcessError, FileNotFoundError):
            return "running as root and there is no 'postgres' user to run the server as"
    return None


class PgServer:
    """One PostgreSQL server in a throwaway data directory, on ``127.0.0.1:port``."""

    def __init__(self, *, port: int | None = None, max_connections: int = 200) -> None:
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError(pgserver_unavailable_reason() or "PostgreSQL not found")
        self.bin = bin_dir
        self.port = port or free_port()
        self.max_connections = max_connections
        self.datadir: Path | None = None
        self.running = False

    # -- what tests use ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """SQLAlchemy-style URL of the default database (Fusion's journal accepts it as is)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DEFAULT_DATABASE}"

    @property
    def dsn(self) -> str:
        """The same as a libpq URL (for psycopg.connect)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DEFAULT_DATABASE}"

    def start(self, timeout_s: float = 60) -> PgServer:
        """initdb on first start, then start the server and wait until it accepts connections."""
        if self.datadir is None:
            self._initdb()
        assert self.datadir is not None
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.datadir} -c fsync=off "
            f"-c max_connections={self.max_connections}"
        )
        self._pg(
            "pg_ctl", "-D", str(self.datadir), "-l", str(self.datadir / "server.log"),
            "-w", "-t", str(int(timeout_s)), "-o", options, "start",
        )  # fmt: skip
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` (clients disconnected, clean shutdown) or ``immediate``
        (every server process quits at once, like a crash: recovery on the next start)."""
        if self.datadir is None or not self.running:
            return
        self._pg("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")
        self.running = False

    def restart(self, mode: str = "fast") -> None:
        """Stop (see :meth:`stop`) and start again on the same port with the same data."""
        self.stop(mode)
        self.start()

    def close(self) -> None:
        """Stop the server and remove its data directory."""
        try:
            self.stop("immediate")
        finally:
            if self.datadir is not None:
                shutil.rmtree(self.datadir, ignore_errors=True)
                self.datadir = None

    def log_tail(self, lines: int = 40) -> str:
        if self.datadir is None:
            return "(no server)"
        try:
            return "\n".join((self.datadir / "server.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> PgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- how ----------------------------------------------------------------------------------

    def _initdb(self) -> None:
        # under /tmp, not the test's tmp_path: pytest's directories are private to root (0700),
        # and the server runs as the postgres user
        datadir = Path(tempfile.mkdtemp(prefix="fustor-kit-pg-"))
        datadir.chmod(0o700)
        if os.geteuid() == 0:
            shutil.chown(datadir, "postgres", "postgres")
        self.datadir = datadir
        self._pg("initdb", "-D", str(datadir), "-U", "postgres", "-E", "UTF8", "--auth=trust", "--no-sync")

    def _pg(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}\n"
                f"{self.log_tail()}"
            )


@pytest.fixture
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL server for one test (see :class:`PgServer`)."""
    reason = pgserver_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"a private PostgreSQL must start in CI, but {reason}")
        pytest.skip(reason)
    with PgServer() as server:
        yield server
