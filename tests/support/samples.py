"""A valid sample payload for every topic family, for tests that need one of each."""

from __future__ import annotations

from typing import Any

from contract.credential_payloads import CredentialMap, PublicKeys, Revocations
from contract.maintenance_payloads import ConfigDesired, ConfigReport, Health
from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    Availability,
    CentralStatus,
    ClockTick,
    Command,
    CommandReply,
    CrossingEvent,
    DoorEvent,
    DropReport,
    FacePairingEvent,
    Payload,
    PresenceEvent,
    StationOccupancy,
    StoredMark,
    utc_now,
)


def sample_payload(model: type[Payload], station_id: str, gateway_id: str) -> Payload:
    """A valid instance of `model` for the given station and gateway."""
    now = utc_now()
    event: dict[str, Any] = {
        "station_id": station_id,
        "gateway_id": gateway_id,
        "seq": 1,
        "at": now,
    }
    samples: dict[type[Payload], dict[str, Any]] = {
        AccessEvent: {
            **event,
            "door_id": "main",
            "direction": "in",
            "credential": "qr",
            "decision": "granted",
            "reason": "granted",
        },
        DoorEvent: {**event, "door_id": "main", "state": "opened"},
        AlarmEvent: {**event, "door_id": "main", "alarm": "held_open", "active": True},
        CrossingEvent: {**event, "door_id": "main", "direction": "out", "source": "beam"},
        PresenceEvent: {**event, "sensor_id": "radar-1", "present": True},
        DropReport: {**event, "count": 2, "kinds": {"presence": 2}, "seq_ranges": [[3, 4]]},
        FacePairingEvent: {
            **event,
            "action": "paired",
            "terminal_id": "zk",
            "door_id": "main",
            "person_id": "4242",
            "worker_id": "w4242",
            "notice_version": "face-consent-1",
            "token_not_before": now,
        },
        Availability: {"station_id": station_id, "gateway_id": gateway_id, "online": True},
        CentralStatus: {"central_id": station_id, "online": True, "at": now},
        ClockTick: {"central_id": station_id, "at": now},
        Command: {
            "request_id": "r-1",
            "station_id": station_id,
            "gateway_id": gateway_id,
            "issued_at": now,
            "command": "ping",
        },
        CommandReply: {
            "request_id": "r-1",
            "station_id": station_id,
            "gateway_id": gateway_id,
            "at": now,
            "status": "ok",
            "message": "pong",
        },
        ConfigDesired: {
            "station_id": station_id,
            "gateway_id": gateway_id,
            "version": 1,
            "issued_at": now,
            "settings": {"policy.capacity": 8},
        },
        ConfigReport: {
            "station_id": station_id,
            "gateway_id": gateway_id,
            "at": now,
            "applied": {"policy.capacity": 8},
        },
        Health: {
            "station_id": station_id,
            "gateway_id": gateway_id,
            "at": now,
            "version": "0.1.0",
            "uptime_s": 1.0,
            "outbox_depth": 0,
            "occupancy": 0,
        },
        StationOccupancy: {"station_id": station_id, "occupancy": 1, "capacity": 8, "at": now},
        StoredMark: {"station_id": station_id, "gateway_id": gateway_id, "seq": 1, "at": now},
        PublicKeys: {
            "version": 1,
            "issued_at": now,
            # A sample, not a key anyone holds: 32 bytes of 0x01 in base64.
            "keys": [{"key_id": 1, "public_key": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}],
        },
        Revocations: {"version": 1, "issued_at": now, "worker_numbers": [42]},
        CredentialMap: {
            "station_id": station_id,
            "version": 1,
            "issued_at": now,
            "entries": [{"kind": "card", "external_id": "12345678", "worker_number": 42}],
        },
    }
    return model.model_validate(samples[model])
