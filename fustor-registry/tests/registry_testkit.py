"""Helpers for the Registry tests: database backends, a test harness around one app, a real
server on 127.0.0.1 in a thread."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import uvicorn
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.testclient import TestClient

from fustor_core.testing import wait_for
from fustor_registry.access import CLI_ADMIN
from fustor_registry.config import RegistryConfig
from fustor_registry.models import Base
from fustor_registry.registry import Registry
from fustor_registry.schemas import UserCreate
from fustor_registry.services import users

POSTGRES_ENV = "FUSTOR_TEST_POSTGRES_URL"
SERVICE_TOKEN = "test-service-token-0123456789abcdef"
SECRET_KEY = Fernet.generate_key().decode("ascii")
PASSWORD = "correct horse battery"
FAST_HASHING = {"time_cost": 1, "memory_cost_kib": 256, "parallelism": 1}


# --- database backends -------------------------------------------------------------------------


@dataclass
class Backend:
    """Creates isolated, empty databases: SQLite files, or PostgreSQL schemas in one database."""

    kind: str
    base: str
    created: list[str] = field(default_factory=list)

    def new_database(self, label: str) -> str:
        name = f"ft_{label}_{uuid.uuid4().hex[:10]}"
        if self.kind == "sqlite":
            return f"sqlite:///{Path(self.base) / name}.db"
        engine = create_engine(self.base)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{name}"'))
        engine.dispose()
        self.created.append(name)
        separator = "&" if "?" in self.base else "?"
        # application_name tags this database's connections, so a test can end exactly those
        # (other test sessions, other developers' too, share the server)
        return f"{self.base}{separator}options={quote(f'-csearch_path={name}')}&application_name={name}"

    def cleanup(self) -> None:
        if self.kind != "postgresql" or not self.created:
            return
        engine = create_engine(self.base)
        with engine.begin() as connection:
            for name in self.created:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


def postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if url:
        make_url(url)  # fail early on a malformed URL
    return url


def clear_tables(url: str) -> None:
    """Delete every row (children first), keeping the schema and its Alembic revision."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()


def raw_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every Registry table, straight from the database (no ORM, no views)."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table.name: sorted(
                    (tuple(row) for row in connection.execute(text(f"SELECT * FROM {table.name}"))), key=repr
                )
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def registry_config(database_url: str, **overrides: Any) -> RegistryConfig:
    data: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": SECRET_KEY,
        "service_tokens": [SERVICE_TOKEN],
        "password_hash": FAST_HASHING,
        "login_max_failures": 3,
        "login_window_s": 60,
    }
    data.update(overrides)
    return RegistryConfig.model_validate(data)


# --- the harness -------------------------------------------------------------------------------


@dataclass
class Actor:
    """Someone calling the API: anonymous (no headers), a logged-in user, or a service."""

    name: str
    headers: dict[str, str]


ANONYMOUS = Actor("anonymous", {})
SERVICE = Actor("service", {"Authorization": f"Bearer {SERVICE_TOKEN}"})


class Harness:
    """One Registry app with a TestClient, plus shortcuts for users and raw database access."""

    def __init__(self, app: Starlette, client: TestClient, url: str) -> None:
        self.app = app
        self.client = client
        self.url = url

    @property
    def registry(self) -> Registry:
        registry: Registry = self.app.state.registry
        return registry

    def add_user(self, username: str, role: str = "user", password: str = PASSWORD) -> None:
        body = UserCreate.model_validate({"username": username, "password": password, "role": role})
        self.registry.run(
            lambda session: users.create_user(session, CLI_ADMIN, body, self.registry.passwords)
        )

    def login(self, username: str, password: str = PASSWORD) -> Actor:
        response = self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return Actor(username, {"Authorization": f"Bearer {response.json()['token']}"})

    def user(self, username: str, role: str = "user") -> Actor:
        self.add_user(username, role)
        return self.login(username)

    def call(self, actor: Actor, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        headers = actor.headers | kwargs.pop("headers", {})
        return self.client.request(method, "/api/v1" + path, json=body, headers=headers, **kwargs)

    def ok(self, actor: Actor, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(actor, method, path, body)
        assert response.status_code == status, (response.status_code, response.text)
        return response.json()

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        return raw_rows(self.url)


# --- a real server -----------------------------------------------------------------------------


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (free port) in a thread; yields the base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="on", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=15, what="the server to start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
