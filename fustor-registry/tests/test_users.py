"""Users and logins: tokens that expire and can be revoked, password changes, throttling, roles."""

from __future__ import annotations

from collections.abc import Callable

from registry_testkit import ANONYMOUS, PASSWORD, Actor, Harness, wait_for


def login(harness: Harness, username: str, password: str) -> tuple[int, dict, dict[str, str]]:
    response = harness.call(ANONYMOUS, "POST", "/auth/login", {"username": username, "password": password})
    return response.status_code, response.json(), dict(response.headers)


def test_login_returns_a_working_token_and_logout_revokes_it(harness: Harness) -> None:
    harness.add_user("alice")
    status, answer, _ = login(harness, "alice", PASSWORD)
    assert status == 200
    assert answer["user"]["username"] == "alice" and answer["expires_at"]
    alice = Actor("alice", {"Authorization": f"Bearer {answer['token']}"})

    assert harness.ok(alice, "GET", "/auth/me")["username"] == "alice"
    harness.ok(alice, "POST", "/auth/logout")
    assert harness.call(alice, "GET", "/auth/me").status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(harness: Harness) -> None:
    harness.add_user("alice")
    wrong = login(harness, "alice", "not the password")
    unknown = login(harness, "nobody", "not the password")
    assert wrong[0] == unknown[0] == 401
    assert (
        wrong[1]
        == unknown[1]
        == {"error": {"code": "unauthorized", "message": "invalid user name or password"}}
    )


def test_tokens_expire(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(token_ttl_s=0.5)
    alice = harness.user("alice")
    assert harness.call(alice, "GET", "/auth/me").status_code == 200
    wait_for(lambda: harness.call(alice, "GET", "/auth/me").status_code == 401, timeout=5)
    assert "expired" in harness.call(alice, "GET", "/auth/me").json()["error"]["message"]


def test_failed_logins_are_throttled_per_user_and_address(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(login_max_failures=3, login_window_s=1.0)
    harness.add_user("alice")
    for _ in range(3):
        assert login(harness, "alice", "guess")[0] == 401

    status, answer, headers = login(harness, "alice", PASSWORD)  # from this address, even the right one
    assert status == 429
    assert answer["error"]["code"] == "too_many_requests"
    assert headers["retry-after"] == "1"  # whole seconds, rounded up, of the 1 s window

    # the window slides: after it, the right password works and resets the count of this address
    wait_for(lambda: login(harness, "alice", PASSWORD)[0] == 200, timeout=5)


def test_throttling_by_address_covers_many_user_names(start_harness: Callable[..., Harness]) -> None:
    harness = start_harness(login_max_failures=3, login_address_max_failures=3, login_window_s=60)
    harness.add_user("alice")
    for name in ("x1", "x2", "x3"):
        assert login(harness, name, "guess")[0] == 401
    assert login(harness, "alice", PASSWORD)[0] == 429


def test_change_own_password_needs_the_current_one(harness: Harness) -> None:
    alice = harness.user("alice")
    other_session = harness.login("alice")
    path = "/users/alice/password"

    refused = harness.call(
        alice, "PUT", path, {"new_password": "new-password-1", "current_password": "wrong"}
    )
    assert refused.status_code == 403
    assert harness.call(alice, "PUT", path, {"new_password": "new-password-1"}).status_code == 403

    harness.ok(alice, "PUT", path, {"new_password": "new-password-1", "current_password": PASSWORD})
    assert login(harness, "alice", PASSWORD)[0] == 401
    assert login(harness, "alice", "new-password-1")[0] == 200
    # the session that changed the password survives, the others are logged out
    assert harness.call(alice, "GET", "/auth/me").status_code == 200
    assert harness.call(other_session, "GET", "/auth/me").status_code == 401


def test_admin_resets_a_password_and_manages_users(harness: Harness) -> None:
    root = harness.user("root", role="admin")
    created = harness.ok(root, "POST", "/users", {"username": "bob", "password": "bob-password"}, status=201)
    assert created["role"] == "user" and created["disabled"] is False
    assert (
        harness.call(root, "POST", "/users", {"username": "bob", "password": "bob-password"}).status_code
        == 409
    )

    harness.ok(root, "PUT", "/users/bob/password", {"new_password": "reset-by-admin"})
    assert login(harness, "bob", "reset-by-admin")[0] == 200

    promoted = harness.ok(root, "PATCH", "/users/bob", {"role": "admin"})
    assert promoted["role"] == "admin"
    listed = harness.ok(root, "GET", "/users")["users"]
    assert [(u["username"], u["role"]) for u in listed] == [("root", "admin"), ("bob", "admin")]
    assert all(set(user) == {"id", "username", "role", "disabled", "created_at"} for user in listed)

    harness.ok(root, "PATCH", "/users/bob", {"disabled": True})
    harness.ok(root, "PATCH", "/users/bob", {"disabled": False})
    assert login(harness, "bob", "reset-by-admin")[0] == 200


def test_the_last_admin_cannot_be_disabled_or_demoted(harness: Harness) -> None:
    root = harness.user("root", role="admin")
    for change in ({"disabled": True}, {"role": "user"}):
        response = harness.call(root, "PATCH", "/users/root", change)
        assert response.status_code == 409
        assert "last active admin" in response.json()["error"]["message"]
    harness.add_user("second", role="admin")
    assert harness.ok(root, "PATCH", "/users/second", {"disabled": True})["disabled"] is True
    assert harness.call(root, "PATCH", "/users/root", {"role": "user"}).status_code == 409


def test_dead_tokens_are_deleted_at_the_next_login(harness: Harness) -> None:
    alice = harness.user("alice")
    harness.ok(alice, "POST", "/auth/logout")
    assert len(harness.rows()["auth_tokens"]) == 1  # revoked, still there

    fresh = harness.login("alice")

    assert len(harness.rows()["auth_tokens"]) == 1  # only the fresh one
    assert harness.call(fresh, "GET", "/auth/me").status_code == 200
