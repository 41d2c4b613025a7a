"""Who may do what (see fustor_registry.access): anonymous, a user on its own and on another
user's resources, and an admin, for every endpoint family."""

from __future__ import annotations

from typing import Any

import pytest
from registry_testkit import ANONYMOUS, SERVICE, Actor, Harness

# alice is a plain user owning "alice-ds"; bob owns "bob-ds"; root is an admin.
# Paths may contain {alice_key} / {bob_key}: ids of an API key of each datastore.
ENV = {"name": "lab2", "kind": "nfs", "details": {"server": "nfs1"}}
CASES: list[tuple[str, str, str, Any, dict[str, int]]] = [
    # id, method, path, body, expected status per actor
    ("list users", "GET", "/users", None, {"anonymous": 401, "alice": 403, "root": 200}),
    (
        "create user",
        "POST",
        "/users",
        {"username": "carol", "password": "password-123"},
        {"anonymous": 401, "alice": 403, "root": 201},
    ),
    ("read self", "GET", "/users/alice", None, {"anonymous": 401, "alice": 200, "root": 200}),
    ("read other user", "GET", "/users/bob", None, {"anonymous": 401, "alice": 403, "root": 200}),
    (
        "disable user",
        "PATCH",
        "/users/bob",
        {"disabled": True},
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "reset other password",
        "PUT",
        "/users/bob/password",
        {"new_password": "new-password-1"},
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    ("who am I", "GET", "/auth/me", None, {"anonymous": 401, "alice": 200, "root": 200}),
    ("list datastores", "GET", "/datastores", None, {"anonymous": 401, "alice": 200, "root": 200}),
    (
        "create datastore",
        "POST",
        "/datastores",
        {"name": "new-ds"},
        {"anonymous": 401, "alice": 201, "root": 201},
    ),
    (
        "create datastore on env",
        "POST",
        "/datastores",
        {"name": "env-ds", "storage_environment": "lab"},
        {"anonymous": 401, "alice": 403, "root": 201},
    ),
    (
        "read own datastore",
        "GET",
        "/datastores/alice-ds",
        None,
        {"anonymous": 401, "alice": 200, "root": 200},
    ),
    (
        "read other datastore",
        "GET",
        "/datastores/bob-ds",
        None,
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "read missing datastore",
        "GET",
        "/datastores/nope",
        None,
        {"anonymous": 401, "alice": 404, "root": 404},
    ),
    (
        "change own datastore",
        "PATCH",
        "/datastores/alice-ds",
        {"description": "mine"},
        {"anonymous": 401, "alice": 200, "root": 200},
    ),
    (
        "attach env to own datastore",
        "PATCH",
        "/datastores/alice-ds",
        {"storage_environment": "lab"},
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "change other datastore",
        "PATCH",
        "/datastores/bob-ds",
        {"description": "x"},
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "delete own datastore",
        "DELETE",
        "/datastores/alice-ds",
        None,
        {"anonymous": 401, "alice": 200, "root": 200},
    ),
    (
        "delete other datastore",
        "DELETE",
        "/datastores/bob-ds",
        None,
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "key for own datastore",
        "POST",
        "/datastores/alice-ds/keys",
        {"scopes": ["query"]},
        {"anonymous": 401, "alice": 201, "root": 201},
    ),
    (
        "key for other datastore",
        "POST",
        "/datastores/bob-ds/keys",
        {"scopes": ["query"]},
        {"anonymous": 401, "alice": 403, "root": 201},
    ),
    (
        "list own keys",
        "GET",
        "/datastores/alice-ds/keys",
        None,
        {"anonymous": 401, "alice": 200, "root": 200},
    ),
    (
        "list other keys",
        "GET",
        "/datastores/bob-ds/keys",
        None,
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    ("list all keys", "GET", "/keys", None, {"anonymous": 401, "alice": 200, "root": 200}),
    ("revoke own key", "DELETE", "/keys/{alice_key}", None, {"anonymous": 401, "alice": 200, "root": 200}),
    ("revoke other key", "DELETE", "/keys/{bob_key}", None, {"anonymous": 401, "alice": 403, "root": 200}),
    ("revoke missing key", "DELETE", "/keys/999999", None, {"anonymous": 401, "alice": 404, "root": 404}),
    (
        "list storage envs",
        "GET",
        "/storage-environments",
        None,
        {"anonymous": 401, "alice": 200, "root": 200},
    ),
    (
        "read storage env",
        "GET",
        "/storage-environments/lab",
        None,
        {"anonymous": 401, "alice": 200, "root": 200},
    ),
    (
        "create storage env",
        "POST",
        "/storage-environments",
        ENV,
        {"anonymous": 401, "alice": 403, "root": 201},
    ),
    (
        "delete storage env",
        "DELETE",
        "/storage-environments/spare",
        None,
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "list credentials",
        "GET",
        "/storage-environments/lab/credentials",
        None,
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "add credential",
        "POST",
        "/storage-environments/lab/credentials",
        {"name": "extra", "secret": "s3cret!"},
        {"anonymous": 401, "alice": 403, "root": 201},
    ),
    (
        "rotate credential",
        "PUT",
        "/storage-environments/lab/credentials/nfs-password",
        {"secret": "rotated"},
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    (
        "delete credential",
        "DELETE",
        "/storage-environments/lab/credentials/nfs-password",
        None,
        {"anonymous": 401, "alice": 403, "root": 200},
    ),
    # machine endpoints: a user's bearer token is not a service token, whoever the user is
    ("verify key", "POST", "/keys/verify", {"key": "fk_x"}, {"anonymous": 401, "alice": 401, "root": 401}),
    ("service datastores", "GET", "/service/datastores", None, {"anonymous": 401, "alice": 401, "root": 401}),
    ("agent bootstrap", "GET", "/agent/bootstrap", None, {"anonymous": 401, "alice": 401, "root": 401}),
]


def populate(harness: Harness) -> dict[str, Actor]:
    root = harness.user("root", role="admin")
    actors = {
        "anonymous": ANONYMOUS,
        "root": root,
        "alice": harness.user("alice"),
        "bob": harness.user("bob"),
    }
    harness.ok(actors["alice"], "POST", "/datastores", {"name": "alice-ds"}, status=201)
    harness.ok(actors["bob"], "POST", "/datastores", {"name": "bob-ds"}, status=201)
    harness.ok(root, "POST", "/storage-environments", {"name": "lab", "kind": "nfs"}, status=201)
    harness.ok(root, "POST", "/storage-environments", {"name": "spare", "kind": "local"}, status=201)
    harness.ok(
        root,
        "POST",
        "/storage-environments/lab/credentials",
        {"name": "nfs-password", "secret": "pw"},
        status=201,
    )
    return actors


@pytest.mark.parametrize("actor_name", ["anonymous", "alice", "root"])
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_access(
    harness: Harness, actor_name: str, method: str, path: str, body: Any, expected: dict[str, int]
) -> None:
    actors = populate(harness)
    key_ids = {
        owner: harness.ok(actors[owner], "POST", f"/datastores/{owner}-ds/keys", {"scopes": ["ingest"]}, 201)[
            "id"
        ]
        for owner in ("alice", "bob")
    }
    path = path.format(alice_key=key_ids["alice"], bob_key=key_ids["bob"])
    before = harness.rows()

    response = harness.call(actors[actor_name], method, path, body)

    assert response.status_code == expected[actor_name], response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]
        assert harness.rows() == before, "a refused request changed the database"


def test_user_lists_only_own_datastores_and_keys(harness: Harness) -> None:
    actors = populate(harness)
    for owner in ("alice", "bob"):
        harness.ok(actors[owner], "POST", f"/datastores/{owner}-ds/keys", {"scopes": ["query"]}, 201)

    alice_sees = harness.ok(actors["alice"], "GET", "/datastores")["datastores"]
    admin_sees = harness.ok(actors["root"], "GET", "/datastores")["datastores"]
    alice_keys = harness.ok(actors["alice"], "GET", "/keys")["keys"]
    admin_keys = harness.ok(actors["root"], "GET", "/keys")["keys"]

    assert [d["name"] for d in alice_sees] == ["alice-ds"]
    assert [d["name"] for d in admin_sees] == ["alice-ds", "bob-ds"]
    assert {k["datastore"] for k in alice_keys} == {"alice-ds"}
    assert {k["datastore"] for k in admin_keys} == {"alice-ds", "bob-ds"}


def test_service_token_is_not_a_user_token(harness: Harness) -> None:
    populate(harness)
    assert harness.call(SERVICE, "GET", "/datastores").status_code == 401
    assert harness.call(SERVICE, "GET", "/service/datastores").status_code == 200


def test_disabled_user_loses_access_at_once(harness: Harness) -> None:
    actors = populate(harness)
    assert harness.call(actors["bob"], "GET", "/datastores").status_code == 200

    harness.ok(actors["root"], "PATCH", "/users/bob", {"disabled": True})

    assert harness.call(actors["bob"], "GET", "/datastores").status_code == 401
    login = harness.call(
        ANONYMOUS, "POST", "/auth/login", {"username": "bob", "password": "correct horse battery"}
    )
    assert login.status_code == 403
    assert "disabled" in login.json()["error"]["message"]
