"""The journal hook: Fusion asks every plugin for a view's journal and uses the first answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fustor_core import hookimpl
from fustor_core.errors import ConfigError
from fustor_core.paths import fustor_home
from fustor_journal_sqlite.journal import SYNCHRONOUS_LEVELS, SqliteJournal

DRIVER = "sqlite"
"""The ``journal.driver`` value this plugin answers to (Fusion's default)."""
OPTIONS = ("path", "synchronous")


def default_path() -> Path:
    """Where journals live unless ``journal.path`` says otherwise: ``$FUSTOR_HOME/journal``."""
    return fustor_home() / "journal"


@hookimpl
def fustor_journal(datastore: str, driver: str, options: dict[str, Any]) -> SqliteJournal | None:
    """The journal of ``datastore`` under ``options["path"]`` when the sqlite driver is asked for.

    Options (keys of the ``journal`` section of ``fusion.yaml``): ``path`` — the directory holding
    one subdirectory per datastore (default ``$FUSTOR_HOME/journal``); ``synchronous`` —
    ``normal`` (default: durable when Fusion crashes, see the README for power loss) or ``full``.
    """
    if driver != DRIVER:
        return None
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"journal.{unknown[0]}: unknown option of the sqlite journal (it takes {', '.join(OPTIONS)})"
        )
    raw_path = options.get("path")
    if raw_path is not None and (not isinstance(raw_path, str | Path) or not str(raw_path)):
        raise ConfigError("journal.path: must be a directory path")
    synchronous = str(options.get("synchronous", "normal")).lower()
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ConfigError(f"journal.synchronous: must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
    if datastore in (".", "..") or "/" in datastore or not datastore:
        raise ConfigError(f"datastore {datastore!r}: not usable as a journal directory name")
    root = Path(raw_path).expanduser() if raw_path is not None else default_path()
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(f"journal.path: cannot create {str(root)!r}: {exc.strerror or exc}") from None
    if not root.is_dir():
        raise ConfigError(f"journal.path: {str(root)!r} is not a directory")
    return SqliteJournal(root / datastore, synchronous=synchronous)
