"""Log a test's HTTP client in: every non-public route of the central needs a role."""

from __future__ import annotations

import secrets

import httpx
from argon2 import PasswordHasher

from dashboard.storage.operators import OperatorStore, Role

QUICK_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id at its lowest cost. At the production cost (64 MiB, three passes) one hash or
one login takes about a second on a busy two-core machine, and the tests' centrals log
operators in a few hundred times; what they test is roles, sessions and refusals, not
the hash's cost, which the centrals started without `run_central` keep."""


def add_operator(operators: OperatorStore, role: str = "admin") -> tuple[str, str]:
    """A new operator with a random name and password; returns (name, password)."""
    name = f"{role}-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    operators.add(name, password, Role.parse(role))
    return name, password


def bearer(http: httpx.Client, name: str, password: str) -> dict[str, str]:
    """The Authorization header of a fresh bearer token for (name, password)."""
    answer = http.post("/api/session/token", json={"name": name, "password": password})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def authorize(http: httpx.Client, operators: OperatorStore, role: str = "admin") -> str:
    """Create an operator of `role` and make `http` send their bearer token; their name."""
    name, password = add_operator(operators, role)
    http.headers.update(bearer(http, name, password))
    return name
