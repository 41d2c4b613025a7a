"""Throttling of failed logins: slow online guessing down without letting anyone lock an owner out.

The rule (after the OWASP Authentication Cheat Sheet, "Login Throttling" / "Account Lockout",
and its exponential lockout; known addresses play the part of OWASP's device cookies):

1. **Per account and address** — ``max_failures`` failed logins for one user name from one
   client address inside ``window_s`` refuse further tries of that name *from that address*
   until the oldest failure leaves the window. An attacker locks out only themselves.
2. **Per address** — ``address_max_failures`` failures from one address inside ``window_s``
   (any user names: password spraying) refuse that address.
3. **Per account, from any address** — the failure count is kept with the account too, because an
   attacker has many addresses: from ``max_failures`` failures inside ``account_window_s`` on,
   each failure locks the account for 1 s, doubling with every further failure, up to
   ``max_lockout_s``. That caps guessing at about one try per ``max_lockout_s`` whatever the
   number of addresses. The lock does not apply to the account's **known addresses** — those it
   logged in from successfully within ``known_address_ttl_s`` — so the owner at their usual
   address is never locked out by someone else, and the owner at a new address waits at most
   ``max_lockout_s`` (the 429 says how long, in ``Retry-After``).

Refused tries do not count as failures (no password was checked), so waiting out a lock never
makes it longer. Kept in memory per process, bounded: behind a load balancer with several
Registry processes the limits multiply by their number.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

MAX_TRACKED_SUBJECTS = 10_000
"""Above this many tracked names/addresses/pairs, expired entries are swept (bounded memory)."""
MAX_KNOWN_ADDRESSES = 16
"""Known addresses remembered per account (the most recent ones)."""
_LOCK_HEADROOM = 64
"""Failures kept per account beyond ``max_failures``: enough for any lock to reach its cap."""


@dataclass(frozen=True)
class ThrottleSettings:
    max_failures: int = 5
    window_s: float = 300.0
    address_max_failures: int = 50
    account_window_s: float = 3600.0
    max_lockout_s: float = 60.0
    known_address_ttl_s: float = 30 * 86400.0


@dataclass(frozen=True)
class Verdict:
    """Whether a login may be tried now; if not, for how long and which rule refused it."""

    wait_s: float
    rule: str = ""


class SlidingCounts:
    """Timestamps of recent events per subject, inside a sliding window, at most ``keep`` each."""

    def __init__(self, window_s: float, keep: int) -> None:
        self.window_s = window_s
        self.keep = keep
        self._stamps: dict[str, deque[float]] = {}

    def recent(self, subject: str, now: float) -> deque[float]:
        stamps = self._stamps.get(subject)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        if not stamps:
            del self._stamps[subject]
        return stamps

    def add(self, subject: str, now: float) -> None:
        stamps = self.recent(subject, now)
        stamps.append(now)
        while len(stamps) > self.keep:
            stamps.popleft()
        self._stamps[subject] = stamps
        if len(self._stamps) > MAX_TRACKED_SUBJECTS:
            for stale in list(self._stamps):
                self.recent(stale, now)

    def wait_below(self, subject: str, limit: int, now: float) -> float:
        """Seconds until ``subject`` has fewer than ``limit`` events in the window (0: already)."""
        stamps = self.recent(subject, now)
        if len(stamps) < limit:
            return 0.0
        return stamps[len(stamps) - limit] + self.window_s - now

    def forget(self, subject: str) -> None:
        self._stamps.pop(subject, None)

    def __len__(self) -> int:
        return len(self._stamps)


class LoginThrottle:
    def __init__(
        self, settings: ThrottleSettings | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings or ThrottleSettings()
        s = self.settings
        self._clock = clock
        self._pairs = SlidingCounts(s.window_s, keep=s.max_failures)
        self._addresses = SlidingCounts(s.window_s, keep=s.address_max_failures)
        self._accounts = SlidingCounts(s.account_window_s, keep=s.max_failures + _LOCK_HEADROOM)
        self._known: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def check(self, account: str, address: str) -> Verdict:
        """May ``account`` be tried from ``address`` now? The longest wait of the rules that refuse."""
        s = self.settings
        address = address_key(address)
        now = self._clock()
        with self._lock:
            verdicts = [
                Verdict(
                    self._pairs.wait_below(_pair(account, address), s.max_failures, now), "account+address"
                ),
                Verdict(self._addresses.wait_below(address, s.address_max_failures, now), "address"),
            ]
            if not self._is_known(account, address, now):
                verdicts.append(Verdict(self._account_lock(account, now), "account"))
        worst = max(verdicts, key=lambda verdict: verdict.wait_s)
        return worst if worst.wait_s > 0 else Verdict(0.0)

    def record_failure(self, account: str, address: str) -> None:
        address = address_key(address)
        now = self._clock()
        with self._lock:
            self._pairs.add(_pair(account, address), now)
            self._addresses.add(address, now)
            self._accounts.add(account, now)

    def record_success(self, account: str, address: str) -> None:
        """The owner got in from ``address``: its own failures there are forgiven, and the address
        becomes known. The account's count stays: others may still be guessing from elsewhere."""
        address = address_key(address)
        now = self._clock()
        with self._lock:
            self._pairs.forget(_pair(account, address))
            known = self._known.setdefault(account, {})
            known.pop(address, None)
            known[address] = now
            while len(known) > MAX_KNOWN_ADDRESSES:
                del known[next(iter(known))]  # the least recently used
            if len(self._known) > MAX_TRACKED_SUBJECTS:
                self._sweep_known(now)

    def _account_lock(self, account: str, now: float) -> float:
        stamps = self._accounts.recent(account, now)
        excess = len(stamps) - self.settings.max_failures
        if excess < 0:
            return 0.0
        lock_s = min(self.settings.max_lockout_s, 2.0 ** min(excess, 62))
        return max(0.0, stamps[-1] + lock_s - now)

    def _is_known(self, account: str, address: str, now: float) -> bool:
        seen = self._known.get(account, {}).get(address)
        return seen is not None and now - seen <= self.settings.known_address_ttl_s

    def _sweep_known(self, now: float) -> None:
        ttl = self.settings.known_address_ttl_s
        for account in list(self._known):
            fresh = {a: t for a, t in self._known[account].items() if now - t <= ttl}
            if fresh:
                self._known[account] = fresh
            else:
                del self._known[account]


def address_key(address: str) -> str:
    """What the rules count per address: an IPv4 address, or an IPv6 address's /64 network (one
    host usually holds a whole /64, so counting single IPv6 addresses would count nothing)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _pair(account: str, address: str) -> str:
    return f"{account}\x00{address}"
