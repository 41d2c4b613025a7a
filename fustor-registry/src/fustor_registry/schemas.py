"""Request bodies: what a caller may send, with limits that name the field when violated.

Every model forbids unknown keys and bounds every string, so a hostile body is refused with a
422 before it reaches the database. Names that appear in URLs (users, datastores, storage
environments, credentials) are restricted to a URL-safe alphabet; free text may be any Unicode
except NUL (PostgreSQL cannot store it). Bodies are validated strictly (no "10" for 10, no
"yes" for true): what the OpenAPI document says a field is, is the only thing it accepts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from fustor_core.errors import InvalidInput
from fustor_registry.freejson import check_object

ModelT = TypeVar("ModelT", bound=BaseModel)

NAME_ALPHABET = "letters, digits, '.', '_' and '-'"
MAX_EXPIRY_S = 10 * 365 * 86400.0


def _check_name(value: str) -> str:
    if not value or not (value[0].isascii() and value[0].isalnum()):
        raise ValueError(f"must start with an ASCII letter or digit and contain only {NAME_ALPHABET}")
    if not all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in value):
        raise ValueError(f"may contain only {NAME_ALPHABET}")
    return value


def is_valid_name(value: str) -> bool:
    """Whether ``value`` could be the name of a user, datastore, environment or credential."""
    try:
        _check_name(value)
    except ValueError:
        return False
    return 0 < len(value) <= 64


def _check_no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _check_url(value: str) -> str:
    _check_no_nul(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in value):
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


# The patterns only document the validators beside them (for the OpenAPI document): the
# validators give the clearer messages, and they are what decides.
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
NO_NUL_PATTERN = "^[^\\u0000]*$"
URL_PATTERN = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#]+[^\\s]*$"
SCHEMA_REF = "#/components/schemas/{model}"
"""Where the OpenAPI document keeps its schemas (free-form JSON refers to its definitions there)."""

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_check_name),
    Field(json_schema_extra={"pattern": NAME_PATTERN}),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]
Text = Annotated[
    str,
    StringConstraints(max_length=2000),
    AfterValidator(_check_no_nul),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]
Label = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_check_no_nul),
    Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
]
Url = Annotated[
    str,
    StringConstraints(min_length=1, max_length=2048),
    AfterValidator(_check_url),
    Field(json_schema_extra={"pattern": URL_PATTERN}),
]
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(check_object),
    WithJsonSchema({"allOf": [{"$ref": SCHEMA_REF.format(model="FreeJsonObject")}]}),
]
"""Free-form JSON (settings, details): see :mod:`fustor_registry.freejson` for the rules."""
Kind = Annotated[
    str,
    StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_-]*$"),
]
Role = Literal["admin", "user"]
Scope = Literal["ingest", "query"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Body):
    username: Annotated[
        str,
        StringConstraints(min_length=1, max_length=64),
        AfterValidator(_check_no_nul),
        Field(json_schema_extra={"pattern": NO_NUL_PATTERN}),
    ]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserCreate(Body):
    username: Name
    password: Password
    role: Role = "user"


class UserUpdate(Body):
    disabled: bool | None = None
    role: Role | None = None


class PasswordChange(Body):
    new_password: Password
    current_password: Annotated[str, StringConstraints(max_length=1024)] | None = None


class DatastoreCreate(Body):
    name: Name
    description: Text = ""
    fusion_url: Url | None = None
    storage_environment: Name | None = None
    settings: JsonObject = Field(default_factory=dict)


class DatastoreUpdate(Body):
    description: Text | None = None
    fusion_url: Url | None = None
    storage_environment: Name | None = None
    settings: JsonObject | None = None


class KeyCreate(Body):
    scopes: list[Scope] = Field(min_length=1, max_length=2)
    expires_at: AwareDatetime | None = None
    expires_in_s: float | None = Field(default=None, gt=0, le=MAX_EXPIRY_S)
    label: Label = ""

    @model_validator(mode="after")
    def _one_expiry(self) -> KeyCreate:
        if self.expires_at is not None and self.expires_in_s is not None:
            raise ValueError("give expires_at or expires_in_s, not both")
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            raise ValueError("expires_at is in the past")
        return self

    def expiry(self, now: datetime) -> datetime | None:
        if self.expires_in_s is not None:
            return now + timedelta(seconds=self.expires_in_s)
        return self.expires_at.astimezone(UTC) if self.expires_at is not None else None

    def sorted_scopes(self) -> list[str]:
        return sorted(set(self.scopes))


class StorageEnvironmentCreate(Body):
    name: Name
    kind: Kind
    details: JsonObject = Field(default_factory=dict)


class CredentialCreate(Body):
    name: Name
    secret: Annotated[str, StringConstraints(min_length=1, max_length=16 * 1024)]


class CredentialUpdate(Body):
    secret: Annotated[str, StringConstraints(min_length=1, max_length=16 * 1024)]


NODE_ID_PATTERN = "^[A-Za-z0-9._-]{1,64}$"
MAX_NODE_DATASTORES = 4096
"""Datastores one node may report owning or serving (bounds the row and the request)."""


def is_valid_node_id(value: str) -> bool:
    """Whether ``value`` could be a Fusion node's ``cluster.node_id`` (``[A-Za-z0-9._-]{1,64}``)."""
    return 0 < len(value) <= 64 and all(ch.isascii() and (ch.isalnum() or ch in "._-") for ch in value)


class NodeReport(Body):
    """What a Fusion node of a cluster says about itself at every refresh."""

    advertise_url: Url
    owned: list[Name] = Field(default_factory=list, max_length=MAX_NODE_DATASTORES)
    serving: list[Name] = Field(default_factory=list, max_length=MAX_NODE_DATASTORES)


class KeyVerifyRequest(Body):
    key: Annotated[str, StringConstraints(min_length=1, max_length=512)]


def parse_body(model: type[ModelT], raw: bytes) -> ModelT:
    """Decode a JSON object into ``model``, or raise InvalidInput naming each bad field.

    The standard library parses first, refusing ``NaN``/``Infinity`` and anything that is not an
    object with one clear message; pydantic then validates the same text strictly.

    Input values never appear in the message (pydantic would echo them): a rejected body may
    carry a password or a secret, and error messages can end up in logs.
    """
    try:
        data = json.loads(raw, parse_constant=_refuse_constant) if raw else None
    except (ValueError, RecursionError):
        raise InvalidInput("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("body: expected a JSON object")
    try:
        # strict, and from the JSON text: a JSON string is never taken for a number, a boolean
        # or a list, while date-times may still be given as strings (JSON has no other way)
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise InvalidInput(describe_errors(exc)) from None


def describe_errors(error: ValidationError) -> str:
    """``field: problem`` per error, joined by ``; `` (``body`` for whole-object rules)."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{location}: {message}")
    return "; ".join(lines)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
