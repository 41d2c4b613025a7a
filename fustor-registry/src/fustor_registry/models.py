"""The Registry's tables, as SQLAlchemy 2 ORM classes.

The schema itself is owned by the Alembic migrations in ``fustor_registry.migrations``; these
classes must describe the schema at the head revision (a test compares the two). Secrets never
appear in a column in the clear: passwords are argon2 hashes, bearer tokens and API keys are
SHA-256 digests, credentials are Fernet ciphertext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC — SQLite keeps no time zone, PostgreSQL would convert."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations can name what they create and later alter it."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthToken(Base):
    """A login bearer token; only its SHA-256 digest is stored."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship()


class StorageEnvironment(Base):
    """Where a datastore's files live (an NFS export, a local path, ...), without secrets."""

    __tablename__ = "storage_environments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Credential(Base):
    """A secret bound to a storage environment, stored as Fernet ciphertext."""

    __tablename__ = "credentials"
    __table_args__ = (UniqueConstraint("storage_environment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    storage_environment_id: Mapped[int] = mapped_column(
        ForeignKey("storage_environments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    storage_environment: Mapped[StorageEnvironment] = relationship()


class Datastore(Base):
    __tablename__ = "datastores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    storage_environment_id: Mapped[int | None] = mapped_column(
        ForeignKey("storage_environments.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # added by revision 0002
    fusion_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)

    owner: Mapped[User | None] = relationship()
    storage_environment: Mapped[StorageEnvironment | None] = relationship()


class DatastorePlacement(Base):
    """A Fusion node (by ``node_id``) that serves a datastore; a datastore with none is unplaced
    (routed by its ``fusion_url`` as before). Added by revision 0003."""

    __tablename__ = "datastore_placements"
    __table_args__ = (UniqueConstraint("datastore_id", "node_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    datastore_id: Mapped[int] = mapped_column(ForeignKey("datastores.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    """Not a foreign key: a datastore may be placed on a node before that node first reports."""


class FusionNode(Base):
    """A Fusion node of a cluster as it last reported itself. Added by revision 0003."""

    __tablename__ = "fusion_nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), unique=True)
    advertise_url: Mapped[str] = mapped_column(String(2048))
    last_seen: Mapped[datetime]
    owned: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Names of the datastores whose view this node owns (takes ingest for)."""
    serving: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Names of the datastores this node serves (as owner or read replica)."""


class ApiKey(Base):
    """An API key for one datastore; only a SHA-256 digest of the secret is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    datastore_id: Mapped[int | None] = mapped_column(
        ForeignKey("datastores.id", ondelete="SET NULL"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))
    """Comma-separated, sorted: ``ingest``, ``query`` or ``ingest,query``."""
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    # added by revision 0002
    label: Mapped[str] = mapped_column(String(200), default="")

    datastore: Mapped[Datastore | None] = relationship()

    @property
    def scope_list(self) -> list[str]:
        return [scope for scope in self.scopes.split(",") if scope]
