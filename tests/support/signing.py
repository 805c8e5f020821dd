"""An operator key for tests, and commands signed with it as `yizhan command --key` does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contract.payloads import Command, utc_now
from contract.signing import sign
from gateway.config import MaintenanceSettings
from servicekit.operator_keys import OperatorKey

OPERATOR = OperatorKey.generate("test-operator")
STRANGER = OperatorKey.generate("test-operator")
"""Same name, another key: what a forger who knows the name would sign with."""


def maintenance_settings(**extra: Any) -> MaintenanceSettings:
    """Gateway settings that trust `OPERATOR`."""
    return MaintenanceSettings(operators={OPERATOR.name: OPERATOR.public_key}, **extra)


def command(
    name: str,
    request_id: str,
    *,
    to: tuple[str, str],
    key: OperatorKey | None = OPERATOR,
    age_s: float = 0.0,
    ttl_s: float = 30.0,
    **args: Any,
) -> bytes:
    """A `command/1` payload for gateway `to` (station, gateway), signed by `key` unless it
    is None."""
    station_id, gateway_id = to
    payload = Command(
        request_id=request_id,
        station_id=station_id,
        gateway_id=gateway_id,
        issued_at=utc_now() - timedelta(seconds=age_s),
        ttl_s=ttl_s,
        command=name,
        args=args,
    )
    if key is not None:
        payload = sign(payload, key.name, key.private_key)
    return payload.to_json()
