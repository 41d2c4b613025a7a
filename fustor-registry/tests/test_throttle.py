"""The failed-login throttle and the forwarded-address rule on their own, with a hand-moved clock.
(The same rules against a real server: test_login_throttle.py.)"""

from __future__ import annotations

import pytest

from fustor_registry.proxies import TrustedProxies, parse_networks
from fustor_registry.throttle import MAX_TRACKED_SUBJECTS, LoginThrottle, ThrottleSettings, address_key

SETTINGS = ThrottleSettings(
    max_failures=3, window_s=10, address_max_failures=5, account_window_s=100, max_lockout_s=8
)


def make(now: list[float], **overrides: float) -> LoginThrottle:
    settings = ThrottleSettings(**{**SETTINGS.__dict__, **overrides})
    return LoginThrottle(settings, clock=lambda: now[0])


def test_account_and_address_pair_slides() -> None:
    now = [0.0]
    throttle = make(now, max_lockout_s=0.5)
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        assert throttle.check("alice", "10.0.0.1").wait_s == 0
        throttle.record_failure("alice", "10.0.0.1")
    verdict = throttle.check("alice", "10.0.0.1")
    assert verdict.wait_s == 8.0 and verdict.rule == "account+address"  # until t=0 leaves the window
    now[0] = 10.0
    assert throttle.check("alice", "10.0.0.1").wait_s == 0
    throttle.record_failure("alice", "10.0.0.1")
    assert throttle.check("alice", "10.0.0.1").wait_s == 1.0  # failures at 1, 2, 10: wait for 1


def test_another_address_is_not_refused_by_the_pair_rule() -> None:
    now = [0.0]
    throttle = make(now)
    for _ in range(3):
        throttle.record_failure("alice", "10.0.0.1")
    now[0] = 1.0  # the account's 1 s lock (3rd failure at t=0) is over
    assert throttle.check("alice", "10.0.0.2").wait_s == 0
    assert throttle.check("alice", "10.0.0.1").rule == "account+address"


def test_account_lock_doubles_per_failure_up_to_the_cap() -> None:
    now = [0.0]
    throttle = make(now, window_s=1000, address_max_failures=1000)
    locks = []
    for attempt in range(9):
        address = f"10.0.1.{attempt}"  # a new address each time: only the account rule applies
        assert throttle.check("bob", address).wait_s == 0
        throttle.record_failure("bob", address)
        verdict = throttle.check("bob", "10.0.2.1")
        locks.append((verdict.wait_s, verdict.rule))
        now[0] += verdict.wait_s
    assert [wait for wait, _ in locks] == [0, 0, 1, 2, 4, 8, 8, 8, 8]
    assert {rule for wait, rule in locks if wait} == {"account"}


def test_known_address_is_exempt_from_the_account_lock() -> None:
    now = [0.0]
    throttle = make(now)
    throttle.record_success("alice", "10.0.0.7")
    for index in range(20):
        throttle.record_failure("alice", f"10.9.0.{index}")
    assert throttle.check("alice", "10.0.0.8").wait_s == 8.0  # a stranger waits for the cap
    assert throttle.check("alice", "10.0.0.7").wait_s == 0  # the owner's address does not
    now[0] = 31 * 86400.0  # known addresses are forgotten after the TTL
    throttle.record_failure("alice", "10.9.9.9")
    throttle.record_failure("alice", "10.9.9.9")
    throttle.record_failure("alice", "10.9.9.9")
    assert throttle.check("alice", "10.0.0.7").rule == "account"


def test_success_forgives_only_the_own_pair() -> None:
    now = [0.0]
    throttle = make(now)
    for _ in range(3):
        throttle.record_failure("alice", "10.0.0.1")
    throttle.record_success("alice", "10.0.0.1")
    assert throttle.check("alice", "10.0.0.1").wait_s == 0
    assert throttle.check("alice", "10.0.0.2").rule == "account"  # others may still be guessing


def test_address_rule_covers_many_user_names() -> None:
    now = [0.0]
    throttle = make(now)
    for index in range(5):
        throttle.record_failure(f"user{index}", "10.0.0.1")
    verdict = throttle.check("alice", "10.0.0.1")
    assert verdict.rule == "address" and verdict.wait_s == 10.0
    assert throttle.check("alice", "10.0.0.2").wait_s == 0


def test_ipv6_addresses_count_per_64_network() -> None:
    assert address_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address_key("127.0.0.1") == "127.0.0.1"
    assert address_key("::ffff:10.0.0.1") == "::ffff:a00:1"
    now = [0.0]
    throttle = make(now)
    for index in range(3):
        throttle.record_failure("alice", f"2001:db8::{index}")
    assert throttle.check("alice", "2001:db8::ffff").rule == "account+address"


def test_memory_stays_bounded() -> None:
    now = [0.0]
    throttle = make(now, window_s=1, account_window_s=1)
    for index in range(MAX_TRACKED_SUBJECTS):
        throttle.record_failure(f"user{index}", f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
    now[0] = 5.0  # every entry is stale now
    throttle.record_failure("last", "10.255.0.1")
    throttle.record_failure("one-more", "10.255.0.2")
    assert len(throttle._pairs) <= 2 and len(throttle._addresses) <= 2 and len(throttle._accounts) <= 2


# --- forwarded addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted", "peer", "headers", "client"),
    [
        ([], "127.0.0.1", ["203.0.113.9"], "127.0.0.1"),  # nobody trusted: the header means nothing
        (["10.0.0.0/8"], "127.0.0.1", ["203.0.113.9"], "127.0.0.1"),  # the peer is not a proxy
        (["10.0.0.1"], "10.0.0.1", ["203.0.113.9"], "203.0.113.9"),
        (["10.0.0.1"], "10.0.0.1", ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),  # left part is the client's
        (["10.0.0.0/8"], "10.0.0.1", ["203.0.113.9, 10.0.0.2"], "203.0.113.9"),  # two proxies
        (["10.0.0.0/8"], "10.0.0.1", ["203.0.113.9", "10.0.0.2"], "203.0.113.9"),  # two headers
        (["10.0.0.1"], "10.0.0.1", [], "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", ["garbage"], "10.0.0.1"),
        (["10.0.0.1"], "10.0.0.1", ["203.0.113.9:4711"], "203.0.113.9"),
        (["::1"], "::1", ["[2001:db8::1]:80"], "2001:db8::1"),
        (["127.0.0.1"], "::ffff:127.0.0.1", ["203.0.113.9"], "203.0.113.9"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    trusted: list[str], peer: str, headers: list[str], client: str
) -> None:
    assert TrustedProxies(parse_networks(trusted)).client(peer, headers) == client


def test_bad_trusted_proxy_entry_is_named() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.example\.org' is not an IP address"):
        parse_networks(["10.0.0.1", "proxy.example.org"])
