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
    """Knobs of the arbitration rules (DESIGN section 5), shared by Fusion and merge plugins."""

    hot_window_s: float = Field(default=600.0, gt=0)
    """A file younger than this by the logical clock is hot, so snapshot/audit mark it suspect."""
    tombstone_ttl_s: float = Field(default=3600.0, ge=0)
    """A tombstone is forgotten (on the tick) once it is older than this *and* no snapshot or
    audit that started before its delete is still running: only such a scan can still deliver
    the stale rows it guards against."""
    tombstone_max_entries: int = Field(default=2_000_000, ge=1)
    """Bound of the tombstone list; beyond it the oldest tombstones are evicted (an evicted
    tombstone no longer protects: a stale scan row may bring its file back until the next audit)."""
    suspect_ttl_s: float | None = Field(default=None, gt=0)
    """How long a suspect stays before its stability is checked; defaults to the hot window."""
    suspect_max_entries: int = Field(default=10_000_000, ge=1)
    """Bound of the suspect list; beyond it the suspects nearest their TTL are evicted (an
    evicted file is no longer flagged ``integrity_suspect``)."""
    blind_spot_ttl_s: float = Field(default=86_400.0, gt=0)
    """A blind-spot addition or deletion is forgotten (on the tick) this long after it was found,
    unless realtime, a deletion or a new leader settled it sooner."""
    blind_spot_max_entries: int = Field(default=1_000_000, ge=1)
    """Bound of each blind-spot list (additions, deletions); beyond it the oldest are evicted."""
    future_tolerance_s: float = Field(default=2.0, ge=0)
    """An mtime this far ahead of the watermark counts as 'in the future' (and is suspect)."""

    @property
    def effective_suspect_ttl_s(self) -> float:
        """The suspect TTL, falling back to the hot window as DESIGN prescribes."""
        return self.suspect_ttl_s if self.suspect_ttl_s is not None else self.hot_window_s


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
