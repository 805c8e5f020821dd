"""Keys, times and a station shared by the credential tests."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from contract.credential_payloads import PublicKeyEntry, PublicKeys
from contract.tokens import KeyRing, SigningKey, StationLocation

# Fixed seeds: a failing case reproduces byte for byte.
KEY_A = SigningKey.from_private_bytes(1, bytes(range(32)))
KEY_B = SigningKey.from_private_bytes(2, bytes(range(32, 64)))

# 2026-01-05 is a Monday; 04:00 UTC is 12:00 in Asia/Shanghai.
NOON_SHANGHAI = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)

HERE = StationLocation(station_number=4242, region_code=430102)
"""A station in Furong district, Changsha, Hunan."""


def published(
    *keys: SigningKey,
    version: int = 1,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> PublicKeys:
    """The `keys/1` payload the central would publish for `keys` (public halves only)."""
    return PublicKeys(
        version=version,
        issued_at=NOON_SHANGHAI,
        keys=[
            PublicKeyEntry(
                key_id=key.key_id,
                public_key=base64.b64encode(key.public_key_bytes()).decode(),
                valid_from=valid_from,
                valid_until=valid_until,
            )
            for key in keys
        ],
    )


def gateway_ring(*keys: SigningKey) -> KeyRing:
    """A gateway key ring built the way a gateway builds it: from the JSON on the wire."""
    wire = published(*keys).to_json()
    return KeyRing.from_payload(PublicKeys.model_validate_json(wire))
