"""Fusion's configuration file (``fusion.yaml``), validated with messages that name the bad key.

The engine-level arbitration settings (``hot_window_s``, ``future_tolerance_s``) are inherited
from :class:`fustor_core.config.ArbitrationSettings`. Each merge rule's own options live under
its name — ``rules: {merge-tombstone: {ttl_s: 3600}}`` for every datastore, ``datastores: {NAME:
{rules: ...}}`` for one — and are validated against the rule's model at start
(:mod:`fustor_fusion.rule_options`); here they are plain mappings. The flat keys of earlier
versions (``tombstone_ttl_s``...) are still read, folded into ``rules`` with a deprecation
warning. Everything else here is about serving HTTP.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from fustor_core.config import ArbitrationSettings, FustorConfig, load_config, parse_config
from fustor_core.http_server import ConnectionLimits
from fustor_core.logs import LogFormat
from fustor_core.options import LegacyKeys, deprecation_notes, fold_legacy_keys

DEFAULT_PORT = 8102
DATASTORE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
"""Datastore names appear in URLs, so they are kept to characters that need no escaping."""


class Scope(StrEnum):
    """What a key may do within its datastore."""

    INGEST = "ingest"
    QUERY = "query"


class ApiKeyConfig(FustorConfig):
    """A static API key bound to the datastore it is listed under."""

    key: str = Field(min_length=1, max_length=512)
    scopes: list[Scope] = Field(min_length=1)


class StorageConfig(FustorConfig):
    """Which storage plugin holds the datastore's tree."""

    backend: str = "memory"
    options: dict[str, Any] = Field(default_factory=dict)


RuleSections = dict[str, dict[str, Any] | None]
"""Rule name -> its options (a mapping; empty or null: the defaults), validated at start."""

LEGACY_RULE_KEYS: LegacyKeys = {
    "tombstone_ttl_s": ("merge-tombstone", "ttl_s"),
    "tombstone_max_entries": ("merge-tombstone", "max_entries"),
    "suspect_ttl_s": ("merge-suspect", "ttl_s"),
    "suspect_max_entries": ("merge-suspect", "max_entries"),
    "blind_spot_ttl_s": ("merge-blindspot", "ttl_s"),
    "blind_spot_max_entries": ("merge-blindspot", "max_entries"),
}
"""Top-level keys of earlier versions -> where they live now (read with a deprecation warning)."""


class DatastoreConfig(FustorConfig):
    """One datastore served by this Fusion."""

    api_keys: list[ApiKeyConfig] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    rules: RuleSections = Field(default_factory=dict)
    """Rule options for this datastore only, merged key by key over the top-level ``rules``."""


class JournalConfig(FustorConfig):
    """Where each view's inputs and snapshots are kept so it survives a restart.

    ``driver`` picks the journal plugin (``none``: memory only, as before journals existed); the
    keys Fusion does not know (``path``, ``synchronous``, ``url``...) are the driver's options,
    which the plugin validates at start.
    """

    model_config = ConfigDict(extra="allow")

    driver: str = Field(default="sqlite", min_length=1)
    """``sqlite`` (fustor-journal-sqlite, under ``$FUSTOR_HOME/journal``), another installed
    driver, or ``none``."""
    retention_s: float = Field(default=86_400.0, ge=0)
    """Records the newest snapshot contains are kept this long (for the change feed) before trimming."""
    snapshot_every_rows: int = Field(default=1_000_000, ge=1)
    """Snapshot once this many rows (plus one per other input) arrived since the last snapshot..."""
    snapshot_tree_ratio: float = Field(default=0.5, ge=0)
    """...or, for big trees, this fraction of the tree's files, whichever is larger: a snapshot
    costs time in proportion to the tree, so a big tree is snapshotted less often."""
    snapshot_interval_s: float = Field(default=600.0, gt=0)
    """Snapshot at least this often while inputs other than ticks arrive."""
    snapshot_on_stop: bool = True
    """Write a snapshot when Fusion stops cleanly, so the next start replays nothing."""

    @property
    def enabled(self) -> bool:
        return self.driver != "none"

    def driver_options(self) -> dict[str, Any]:
        """The keys meant for the driver plugin."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _none_takes_no_options(self) -> JournalConfig:
        if not self.enabled and self.model_extra:
            raise ValueError(f"driver 'none' takes no options (remove {sorted(self.model_extra)[0]!r})")
        return self


class ChangeFeedConfig(FustorConfig):
    """How the change feed (``GET /api/v1/views/{ds}/changes``) serves its clients."""

    keepalive_s: float = Field(default=15.0, gt=0, le=3600)
    """A Server-Sent Events stream sends a comment after this long without an event, so that
    proxies and clients see the connection alive."""
    memory_entries: int = Field(default=10_000, ge=0)
    """The newest changes kept in memory, per view, while somebody follows the feed; older ones
    are read back from the journal (without a journal they are gone: the client gets ``reset``)."""


class RegistryLinkConfig(FustorConfig):
    """Where Fusion checks API keys and learns its datastores when a Registry is in charge."""

    url: str = Field(min_length=1)
    """The Registry's base URL, e.g. ``http://registry.example.org:8101``."""
    service_token: str = Field(min_length=1)
    """One of the Registry's ``service_tokens``."""
    cache_ttl_s: float = Field(default=10.0, ge=0, le=60)
    """How long a key's verdict is reused; a revoked key stops working within this time."""
    refresh_interval_s: float = Field(default=30.0, gt=0)
    """How often the list of datastores is fetched again."""
    fusion_url: str | None = None
    """This Fusion's URL as datastores name it in the Registry: only those are served.
    None serves every datastore of the Registry."""
    report_interval_s: float = Field(default=10.0, gt=0)
    """A node of a cluster reports itself (URL, owned and served views) this often; keep it well
    under the Registry's ``node_timeout_s`` (30 by default), after which a silent node is dead."""


NODE_ID = r"^[A-Za-z0-9._-]{1,64}$"


class ClusterConfig(FustorConfig):
    """This node's part in a cluster of Fusion nodes sharing one journal store (PostgreSQL).

    Every node serves queries of every view it is configured for; the one that holds a view's
    lease in the shared store (its *owner*) takes the ingest and writes the journal, the others
    (*replicas*) follow the journal and send agents to the owner.
    """

    node_id: str = Field(pattern=NODE_ID)
    """This node's name in the cluster (letters, digits, ``.``, ``_``, ``-``; at most 64), unique."""
    advertise_url: str = Field(min_length=1, pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    """Where other nodes send agents and clients to reach this one, e.g. ``http://10.0.0.5:8102``."""
    lease_s: float = Field(default=10.0, gt=0, le=3600)
    """How long a view's lease lasts without renewal: a dead owner's views are taken over
    within this (plus ``renew_interval_s``) of its last renewal."""
    renew_interval_s: float | None = Field(default=None, gt=0)
    """How often the lease is claimed or renewed (default ``lease_s / 4``); less than ``lease_s``."""
    min_seq_wait_s: float = Field(default=10.0, ge=0, le=600)
    """Longest wait of a query's ``?min_seq`` before it answers 504 ``min_seq_timeout``."""

    @field_validator("advertise_url")
    @classmethod
    def _no_trailing_slash(cls, url: str) -> str:
        return url.rstrip("/")

    @model_validator(mode="after")
    def _renew_within_lease(self) -> ClusterConfig:
        if self.renew_interval_s is None:
            self.renew_interval_s = self.lease_s / 4
        elif self.renew_interval_s >= self.lease_s:
            raise ValueError(
                f"renew_interval_s ({self.renew_interval_s:g}) must be less than lease_s ({self.lease_s:g})"
            )
        return self

    @property
    def renew_every_s(self) -> float:
        """``renew_interval_s`` with its default applied."""
        return self.renew_interval_s if self.renew_interval_s is not None else self.lease_s / 4


DEFAULT_MIN_SEQ_WAIT_S = 10.0
"""Longest wait of ``?min_seq`` without a ``cluster`` section."""


class FusionConfig(ArbitrationSettings):
    """The whole ``fusion.yaml``."""

    host: str = "127.0.0.1"
    """Address to listen on (``--host`` overrides)."""
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """Port to listen on (``--port`` overrides); 0 picks a free port."""
    session_timeout_s: float = Field(default=30.0, gt=0)
    """A session with no call for this long is expired; a leader's lock is released with it."""
    max_sessions_per_key: int = Field(default=256, ge=1)
    """Live ingest sessions one API key may hold per datastore; one more is refused with 429."""
    heartbeat_interval_s: float = Field(default=10.0, gt=0)
    """How often agents are told to heartbeat."""
    tick_interval_s: float = Field(default=1.0, gt=0)
    """Period of the background tick: suspect expiry in the engine, session expiry here."""
    max_batch_rows: int = Field(default=10_000, ge=1)
    """Rows per events request (all events together); a larger batch is refused with 413."""
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    """Largest request body accepted; a larger one is refused with 413."""
    ordering_wait_s: float = Field(default=10.0, ge=0)
    """How long a batch that arrived before its predecessor waits for it (then 409 seq_gap)."""
    connections: ConnectionLimits = Field(default_factory=ConnectionLimits)
    """Request timeouts and the connection limit of the HTTP server."""
    log_level: str = Field(default="INFO", pattern=r"(?i)^(debug|info|warning|error|critical)$")
    """Log level of ``fustor-fusion serve``."""
    log_format: LogFormat = "text"
    """``text`` (``key=value`` lines, for people) or ``json`` (one JSON object per line, for log
    shippers); ``--log-format`` overrides it."""
    rules: RuleSections = Field(default_factory=dict)
    """Merge rules' options by rule name, for every datastore (``rules: {merge-tombstone: {ttl_s:
    3600}}``); each rule documents its own. Datastores adopted from a Registry get these."""
    datastores: dict[str, DatastoreConfig] = Field(default_factory=dict)
    """The datastores this Fusion serves, by name (with a Registry, more come from it)."""
    registry: RegistryLinkConfig | None = None
    """Check keys with a Registry and serve its datastores; without one, only static keys."""
    journal: JournalConfig = Field(default_factory=JournalConfig)
    """Keep every view across restarts (on by default); ``{driver: none}`` keeps them in memory only."""
    change_feed: ChangeFeedConfig = Field(default_factory=ChangeFeedConfig)
    """Long polls and event streams of every view's changes."""
    cluster: ClusterConfig | None = None
    """Run as one node of a cluster sharing the journal (needs a journal driver several nodes can
    share: ``driver: postgres``); without it this Fusion owns every view it serves."""

    tombstone_ttl_s: float | None = None
    """Deprecated: ``rules.merge-tombstone.ttl_s``."""
    tombstone_max_entries: int | None = None
    """Deprecated: ``rules.merge-tombstone.max_entries``."""
    suspect_ttl_s: float | None = None
    """Deprecated: ``rules.merge-suspect.ttl_s``."""
    suspect_max_entries: int | None = None
    """Deprecated: ``rules.merge-suspect.max_entries``."""
    blind_spot_ttl_s: float | None = None
    """Deprecated: ``rules.merge-blindspot.ttl_s``."""
    blind_spot_max_entries: int | None = None
    """Deprecated: ``rules.merge-blindspot.max_entries``."""

    _rule_aliases: dict[str, dict[str, str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _something_to_serve(self) -> FusionConfig:
        if not self.datastores and self.registry is None:
            raise ValueError("datastores: at least one datastore is required unless a registry is configured")
        return self

    @model_validator(mode="after")
    def _fold_deprecated_rule_keys(self) -> FusionConfig:
        given = {key: getattr(self, key) for key in LEGACY_RULE_KEYS if key in self.model_fields_set}
        self._rule_aliases = fold_legacy_keys(given, LEGACY_RULE_KEYS, self.rules, where="rules")
        return self

    def deprecated_keys(self) -> list[tuple[str, str]]:
        """(deprecated key given, the key to use instead), to warn about once at start."""
        given = [key for key in LEGACY_RULE_KEYS if key in self.model_fields_set]
        return deprecation_notes(given, LEGACY_RULE_KEYS, prefix="", where="rules")

    def rule_aliases(self) -> dict[str, dict[str, str]]:
        """Rule -> {option key: the deprecated top-level key it was given as}."""
        return self._rule_aliases

    @field_validator("datastores")
    @classmethod
    def _keys_are_unique(cls, datastores: dict[str, DatastoreConfig]) -> dict[str, DatastoreConfig]:
        """A key string names exactly one datastore, or a request could not know its target."""
        owners: dict[str, str] = {}
        for name, datastore in datastores.items():
            if not DATASTORE_NAME.fullmatch(name):
                raise ValueError(f"{name!r}: a datastore name is 1-128 letters, digits, '.', '_' or '-'")
            for i, api_key in enumerate(datastore.api_keys):
                if api_key.key in owners:
                    raise ValueError(
                        f"{name}.api_keys.{i}.key: this key is already listed under datastore"
                        f" {owners[api_key.key]!r}"
                    )
                owners[api_key.key] = name
        return datastores

    @property
    def min_seq_wait_s(self) -> float:
        """Longest wait of a query's ``?min_seq``."""
        return self.cluster.min_seq_wait_s if self.cluster is not None else DEFAULT_MIN_SEQ_WAIT_S

    def arbitration(self) -> ArbitrationSettings:
        """The engine's settings, as a plain :class:`ArbitrationSettings`."""
        fields = ArbitrationSettings.model_fields
        return ArbitrationSettings(**{name: getattr(self, name) for name in fields})


def load_fusion_config(path: str | Path) -> FusionConfig:
    """Read and validate ``fusion.yaml``; a ConfigError names the file and each bad key."""
    return load_config(FusionConfig, path)


def parse_fusion_config(data: Any, *, source: str = "fusion config") -> FusionConfig:
    """Validate already-loaded config data (tests, embedding)."""
    return parse_config(FusionConfig, data, source=source)
