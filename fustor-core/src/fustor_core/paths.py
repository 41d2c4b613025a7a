"""Where Fustor keeps state on disk.

Everything lives under one home directory so that tests, demos and side-by-side installs can be
isolated by setting ``FUSTOR_HOME``; without it the platform's user data dir is used.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "FUSTOR_HOME"


def fustor_home() -> Path:
    """The root of all Fustor state: ``$FUSTOR_HOME`` or the platform user data dir."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("fustor", appauthor=False))


def data_dir(*parts: str, create: bool = True) -> Path:
    """A directory below :func:`fustor_home`, created on first use unless ``create`` is false."""
    path = fustor_home().joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
