"""Configuration base models and YAML loading with messages that name the bad key.

Every service config is a pydantic model deriving from :class:`FustorConfig`: unknown keys are
errors (a typo must not silently fall back to a default), and :func:`load_config` turns
pydantic's errors into one :class:`~fustor_core.errors.ConfigError` that lists each offending key
by its dotted path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fustor_core.errors import ConfigError

ConfigT = TypeVar("ConfigT", bound=BaseModel)


class FustorConfig(BaseModel):
    """Base of every config model: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")


class ArbitrationSettings(FustorConfig):
    """Engine-level settings of arbitration: the logical clock's, shared by Fusion and every rule.

    What a single rule needs (a list's TTL or bound) is that rule's own options model, configured
    under its name (``rules: {merge-tombstone: {ttl_s: 3600}}``, see :mod:`fustor_core.options`).
    """

    hot_window_s: float = Field(default=600.0, gt=0)
    """A file younger than this by the logical clock is hot, so snapshot/audit mark it suspect."""
    future_tolerance_s: float = Field(default=2.0, ge=0)
    """An mtime this far ahead of the watermark counts as 'in the future' (and is suspect)."""


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each naming the dotted key, e.g. ``datastores.demo.api_keys: ...``."""
    lines = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "<root>"
        lines.append(f"{location}: {item['msg']}")
    return "; ".join(lines)


def parse_config(model: type[ConfigT], data: Any, *, source: str = "config") -> ConfigT:
    """Validate already-loaded data into ``model`` or raise a ConfigError naming each bad key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc)}") from None


def load_config(model: type[ConfigT], path: str | Path) -> ConfigT:
    """Read a YAML file into ``model``; every failure is a ConfigError with the file name."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    return parse_config(model, data, source=str(path))
