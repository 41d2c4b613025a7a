"""Where Fusion is, which key, which datastore: flags, then environment, then the client file.

The client file is YAML under the platform's user config dir (``~/.config/fustor/client.yaml``
on Linux, honouring ``XDG_CONFIG_HOME``)::

    url: http://fusion.example.org:8102
    api_key: the-query-key
    datastore: seq

Each setting is taken from the first of ``--url``/``--key``/``--datastore``,
``FUSTOR_URL``/``FUSTOR_API_KEY``/``FUSTOR_DATASTORE`` and the file that has it, so a shared file
can hold the URL while a script passes its own key.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fustor_core.errors import ConfigError

DEFAULT_URL = "http://127.0.0.1:8102"
ENV = {"url": "FUSTOR_URL", "api_key": "FUSTOR_API_KEY", "datastore": "FUSTOR_DATASTORE"}


@dataclass(frozen=True)
class ClientSettings:
    url: str
    api_key: str | None
    datastore: str


def client_file() -> Path:
    """``client.yaml`` in the platform's user config dir for ``fustor``."""
    import platformdirs

    return Path(platformdirs.user_config_dir("fustor")) / "client.yaml"


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the client file: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of url, api_key, datastore")
    unknown = sorted(set(data) - set(ENV))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (keys: url, api_key, datastore)")
    return {key: str(value) for key, value in data.items() if value is not None}


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "connection (else FUSTOR_URL/FUSTOR_API_KEY/FUSTOR_DATASTORE, else the client file)"
    )
    group.add_argument("--url", help=f"Fusion's base URL (default {DEFAULT_URL})")
    group.add_argument("--key", help="an API key with the query scope")
    group.add_argument("--datastore", help="the datastore to query")


def resolve(args: argparse.Namespace) -> ClientSettings:
    """The settings for this run; ConfigError (exit 2) when no datastore is named anywhere."""
    given = {"url": args.url, "api_key": args.key, "datastore": args.datastore}
    path = client_file()
    from_file: dict[str, Any] | None = None
    chosen: dict[str, str | None] = {}
    for name, flag_value in given.items():
        value = flag_value or os.environ.get(ENV[name]) or None
        if value is None:
            if from_file is None:
                from_file = _read_file(path)
            value = from_file.get(name)
        chosen[name] = value
    if not chosen["datastore"]:
        raise ConfigError(
            f"no datastore: pass --datastore, set FUSTOR_DATASTORE or put 'datastore:' in {path}"
        )
    return ClientSettings(
        url=(chosen["url"] or DEFAULT_URL).rstrip("/"),
        api_key=chosen["api_key"],
        datastore=str(chosen["datastore"]),
    )
