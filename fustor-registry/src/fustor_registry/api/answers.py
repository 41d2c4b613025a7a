"""What the Registry answers, as pydantic models — for the OpenAPI document only.

The answers themselves are built as plain dicts by :mod:`fustor_registry.views` (the one place
records become JSON); these models describe those dicts so the document can promise exactly
what is sent. The fuzz test (tests/test_openapi.py) checks every answer against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scope = Literal["ingest", "query"]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    code: str = Field(description="Machine-readable: not_found, invalid, unauthorized, ...")
    message: str = Field(description="For people; names the offending field when there is one")


class ErrorBody(Answer):
    """Every error answer (4xx and 5xx), and the body of the trailing-slash redirect."""

    error: ErrorDetail


class Status(Answer):
    status: Literal["ok"]


class Ready(Answer):
    status: Literal["ready"]


class UserView(Answer):
    id: int
    username: str
    role: Literal["admin", "user"]
    disabled: bool
    created_at: datetime | None


class UserList(Answer):
    users: list[UserView]


class LoginAnswer(Answer):
    token: str = Field(description="Send as `Authorization: Bearer <token>`")
    expires_at: datetime | None
    user: UserView


class LoggedOut(Answer):
    logged_out: Literal[True]


class DatastoreView(Answer):
    id: int
    name: str
    description: str
    owner: str | None
    storage_environment: str | None
    fusion_url: str | None
    settings: dict[str, Any]
    created_at: datetime | None


class DatastoreList(Answer):
    datastores: list[DatastoreView]


class DatastoreDeleted(Answer):
    deleted: str
    keys_revoked: int


class KeyView(Answer):
    id: int
    prefix: str
    datastore: str | None = Field(description="null once the datastore was deleted")
    scopes: list[Scope]
    label: str
    state: Literal["active", "revoked", "expired"]
    created_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyView):
    key: str = Field(description="The secret: shown in this answer only, never again")


class KeyList(Answer):
    keys: list[KeyView]


class StorageEnvironmentView(Answer):
    id: int
    name: str
    kind: str
    details: dict[str, Any]
    created_at: datetime | None


class StorageEnvironmentList(Answer):
    storage_environments: list[StorageEnvironmentView]


class Deleted(Answer):
    deleted: str


class CredentialView(Answer):
    id: int
    name: str
    storage_environment: str
    created_at: datetime | None
    updated_at: datetime | None


class CredentialList(Answer):
    credentials: list[CredentialView]


class KeyVerdict(Answer):
    datastore: str
    scopes: list[Scope]
    expires_at: datetime | None
    key_id: int
    prefix: str


class ServiceDatastore(Answer):
    name: str
    description: str
    fusion_url: str | None
    storage_environment: str | None
    settings: dict[str, Any]


class ServiceDatastoreList(Answer):
    datastores: list[ServiceDatastore]


class NodeView(Answer):
    node_id: str
    advertise_url: str | None = Field(description="null for a node placed on but never heard from")
    last_seen: datetime | None
    alive: bool = Field(description="reported within the Registry's node_timeout_s")
    owned: list[str] = Field(description="datastores whose view the node owns (takes ingest for)")
    serving: list[str] = Field(description="datastores the node serves (owner or read replica)")
    placed: list[str] = Field(description="datastores an admin placed on the node")


class NodeList(Answer):
    nodes: list[NodeView]


class Bootstrap(Answer):
    datastore: str
    fusion_url: str | None = Field(
        description="where to push: the live node owning the datastore, else a live node it is placed "
        "on, else the datastore's own fusion_url"
    )
    storage_environment: StorageEnvironmentView | None
    credentials: dict[str, str] = Field(description="Secrets of the storage environment, by name")
