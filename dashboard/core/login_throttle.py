"""When a login may be tried: failed attempts counted per account and per client address,
with a lockout that grows while the failures go on.

Every failure counts against the account name tried and against the address it came
from. The fifth failure of an account (the twentieth of an address) locks it: the first lock
lasts `first_lock_s`, each failure after a lock has ended doubles it, up to `max_lock_s`.
While locked, every login of that account (or from that address) is refused without the
password being looked at, so the right password does not get through either and a
guessing run costs the central no password hashing. A successful login clears the
account's count; an address's count clears only when it goes quiet for `forget_after_s`,
so that one working login does not wipe out the record of a guessing run from the same
place. Addresses get more failures than accounts: several operators may share one
address (an office behind NAT).

Pure and in memory, with the clock passed in: the counts are lost when the central
restarts, and each replica counts its own (`docs/security.md`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures lock, and how long locks last (seconds)."""

    lock_at: int
    """The failure that locks first: before it, failures only count."""
    first_lock_s: float = 60.0
    max_lock_s: float = 900.0
    forget_after_s: float = 3600.0
    """A count whose last failure is this old starts again from nothing."""

    def lock_after(self, failures: int) -> float:
        """How long the `failures`-th failure locks for (0: not at all)."""
        beyond = failures - self.lock_at
        if beyond < 0:
            return 0.0
        return min(self.first_lock_s * 2.0**beyond, self.max_lock_s)


ACCOUNT_POLICY = ThrottlePolicy(lock_at=5)
ADDRESS_POLICY = ThrottlePolicy(lock_at=20)
"""The defaults; `http.login_account_lock_at` and `http.login_address_lock_at` set them."""

MAX_TRACKED = 100_000
"""Accounts and addresses remembered, each; beyond it the longest quiet are forgotten, so
a run of made-up names cannot grow the central's memory without end."""


@dataclass(slots=True)
class _Count:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0
    refusals: int = 0
    """Attempts refused during the current lock."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A login refused unread: how long until it may be tried again, whether this is the
    first refusal of the lock (the one worth an audit row), and which lock it is."""

    retry_after_s: float
    first: bool
    by: str
    """`account` or `address`."""


class _Counts:
    def __init__(self, policy: ThrottlePolicy) -> None:
        self.policy = policy
        self.counts: OrderedDict[str, _Count] = OrderedDict()

    def get(self, key: str, now: float) -> _Count | None:
        count = self.counts.get(key)
        quiet = count is not None and now - count.last_failure > self.policy.forget_after_s
        if count is not None and quiet and count.locked_until <= now:
            del self.counts[key]
            return None
        return count

    def fail(self, key: str, now: float) -> float:
        count = self.get(key, now) or _Count()
        count.failures += 1
        count.last_failure = now
        lock = self.policy.lock_after(count.failures)
        if lock:
            count.locked_until = now + lock
            count.refusals = 0
        self.counts[key] = count
        self.counts.move_to_end(key)
        while len(self.counts) > MAX_TRACKED:
            self.counts.popitem(last=False)
        return lock

    def clear(self, key: str) -> None:
        self.counts.pop(key, None)


class LoginThrottle:
    """Failed logins per account and per address, and the locks they earn (thread-safe)."""

    def __init__(
        self, account: ThrottlePolicy = ACCOUNT_POLICY, address: ThrottlePolicy = ADDRESS_POLICY
    ) -> None:
        self._accounts = _Counts(account)
        self._addresses = _Counts(address)
        self._lock = threading.Lock()

    def refusal(self, account: str, address: str, now: float) -> Refusal | None:
        """Why a login of `account` from `address` is refused unread now, or None when
        its password may be checked."""
        with self._lock:
            worst: tuple[float, _Count, str] | None = None
            for counts, key, by in (
                (self._accounts, account, "account"),
                (self._addresses, address, "address"),
            ):
                count = counts.get(key, now)
                if count is not None and count.locked_until > now:
                    left = count.locked_until - now
                    if worst is None or left > worst[0]:
                        worst = (left, count, by)
            if worst is None:
                return None
            left, count, by = worst
            count.refusals += 1
            return Refusal(left, count.refusals == 1, by)

    def failed(self, account: str, address: str, now: float) -> float:
        """Count a wrong password; how long the account or address is now locked (0: not)."""
        with self._lock:
            return max(self._accounts.fail(account, now), self._addresses.fail(address, now))

    def succeeded(self, account: str) -> None:
        """A right password: the account's failures are forgotten."""
        with self._lock:
            self._accounts.clear(account)
