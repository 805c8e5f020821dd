"""Failed logins lock the account and the address they come from, over real HTTP."""

from __future__ import annotations

import httpx

from dashboard.core.login_throttle import LoginThrottle, ThrottlePolicy
from tests.support.operators import add_operator
from tests.support.running_central import RunningCentral


def client_from(central: RunningCentral, address: str) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z is this machine)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=central.base_url, transport=transport, timeout=10)


def test_locks_grow_to_their_cap_and_a_success_clears_the_account() -> None:
    policy = ThrottlePolicy(lock_at=3, first_lock_s=60, max_lock_s=900)
    throttle = LoginThrottle(account=policy, address=ThrottlePolicy(lock_at=1000))
    now = 0.0
    assert throttle.failed("ops", "10.0.0.1", now) == 0
    assert throttle.failed("ops", "10.0.0.1", now) == 0
    assert throttle.refusal("ops", "10.0.0.1", now) is None
    locks = []
    for _ in range(6):
        locks.append(throttle.failed("ops", "10.0.0.1", now))
        refused = throttle.refusal("ops", "10.0.0.9", now)
        assert refused is not None and refused.by == "account" and refused.first
        assert throttle.refusal("ops", "10.0.0.9", now) == refused.__class__(
            refused.retry_after_s, False, "account"
        )
        now += locks[-1]
    assert locks == [60, 120, 240, 480, 900, 900]
    assert throttle.refusal("other", "10.0.0.1", 0) is None, "another account is not locked"
    throttle.succeeded("ops")
    assert throttle.refusal("ops", "10.0.0.1", now) is None
    assert throttle.failed("ops", "10.0.0.1", now) == 0, "the count starts again"


def test_guessing_locks_the_account_not_others(any_central: RunningCentral) -> None:
    operators = any_central.service.operators
    victim, password = add_operator(operators, "admin")
    colleague, colleague_password = add_operator(operators, "viewer")
    with client_from(any_central, "127.0.0.1") as attacker:
        answers = [
            attacker.post("/api/session", json={"name": victim, "password": f"guess-{n}"})
            for n in range(200)
        ]
        codes = [a.status_code for a in answers]
        assert codes[:5] == [401] * 5
        assert set(codes[5:]) == {429}, "locked by the fifth failure"
        assert 1 <= int(answers[-1].headers["Retry-After"]) <= 900
        right = attacker.post("/api/session", json={"name": victim, "password": password})
        assert right.status_code == 429, "the right password is refused while locked"
        assert "Retry-After" in right.headers and "yz_session" not in right.cookies
        machine = attacker.post("/api/session/token", json={"name": victim, "password": password})
        assert machine.status_code == 429, "the bearer login is locked too"
    with client_from(any_central, "127.0.0.2") as elsewhere:
        moved = elsewhere.post("/api/session", json={"name": victim, "password": password})
        assert moved.status_code == 429, "the account is locked from any address"
        other = elsewhere.post(
            "/api/session", json={"name": colleague, "password": colleague_password}
        )
        assert other.status_code == 200, other.text
    with client_from(any_central, "127.0.0.1") as same_place:
        # Five failures from this address are under its own limit.
        other = same_place.post(
            "/api/session/token", json={"name": colleague, "password": colleague_password}
        )
        assert other.status_code == 200, other.text

    audit = any_central.http.get("/api/audit", params={"limit": 1000}).json()
    tried = [row for row in audit if row["actor"] == victim]
    failed = [row for row in tried if row["status"] == 401]
    assert len(failed) == 5
    assert all("login failed from 127.0.0.1" in row["detail"] for row in failed)
    assert all(row["target"] == "/api/session" and row["at"] for row in failed)
    locked = [row for row in tried if row["status"] == 429]
    assert len(locked) == 1, "one row per lock, not one per refused attempt"
    assert "login refused from 127.0.0.1: account locked" in locked[0]["detail"]


def test_many_names_from_one_address_lock_the_address(any_central: RunningCentral) -> None:
    name, password = add_operator(any_central.service.operators, "viewer")
    with client_from(any_central, "127.0.0.3") as sprayer:
        codes = [
            sprayer.post("/api/session", json={"name": f"guess-{n}", "password": "x"}).status_code
            for n in range(20)
        ]
        assert codes == [401] * 20
        locked = sprayer.post("/api/session", json={"name": name, "password": password})
        assert locked.status_code == 429 and "Retry-After" in locked.headers
    with client_from(any_central, "127.0.0.4") as elsewhere:
        fine = elsewhere.post("/api/session", json={"name": name, "password": password})
        assert fine.status_code == 200
