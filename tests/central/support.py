"""Events as gateways send them, published through the real broker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contract.maintenance_payloads import DeviceHealth, Health
from contract.payloads import (
    AccessEvent,
    AlarmEvent,
    Availability,
    CrossingEvent,
    DoorEvent,
    EventPayload,
    FacePairingEvent,
    PresenceEvent,
    utc_now,
)
from contract.topics import event_kind_of, event_topic, gateway_topic
from tests.support.probe import MqttProbe


class Gateway:
    """A fake gateway's numbering and publishing, through a real MQTT client."""

    def __init__(self, probe: MqttProbe, station_id: str = "cs-0001", gateway_id: str = "gw-1"):
        self.probe = probe
        self.station_id = station_id
        self.gateway_id = gateway_id
        self.seq = 0

    def _fields(self, at: datetime | None) -> dict[str, Any]:
        self.seq += 1
        return {
            "station_id": self.station_id,
            "gateway_id": self.gateway_id,
            "seq": self.seq,
            "at": at or utc_now(),
        }

    def send(self, event: EventPayload) -> EventPayload:
        """Publish one event on its topic."""
        topic = event_topic(self.station_id, self.gateway_id, event_kind_of(type(event)))
        self.probe.publish(topic, event.to_json())
        return event

    def access(
        self,
        direction: str = "in",
        decision: str = "granted",
        door: str = "main",
        worker: str | None = "w1001",
        at: datetime | None = None,
        reason: str | None = None,
        token_not_before: datetime | None = None,
    ) -> EventPayload:
        """A scan at a door (a denial says `expired` unless another `reason` is given);
        `token_not_before` names the QR token shown, with `worker`."""
        return self.send(
            AccessEvent.model_validate(
                {
                    **self._fields(at),
                    "door_id": door,
                    "direction": direction,
                    "credential": "qr",
                    "worker_id": worker,
                    "token_not_before": token_not_before,
                    "decision": decision,
                    "reason": reason or ("granted" if decision == "granted" else "expired"),
                }
            )
        )

    def crossing(self, source: str, direction: str = "out", door: str = "main") -> EventPayload:
        """A beam crossing or exit button press."""
        return self.send(
            CrossingEvent.model_validate(
                {**self._fields(None), "door_id": door, "direction": direction, "source": source}
            )
        )

    def presence(
        self, present: bool, sensor: str = "radar-1", zone: str = "rest", at: datetime | None = None
    ) -> EventPayload:
        """A radar's opinion."""
        return self.send(
            PresenceEvent.model_validate(
                {**self._fields(at), "sensor_id": sensor, "zone": zone, "present": present}
            )
        )

    def door(self, state: str, door: str = "main") -> EventPayload:
        """A door's lock or contact changed."""
        return self.send(
            DoorEvent.model_validate({**self._fields(None), "door_id": door, "state": state})
        )

    def alarm(self, alarm: str, active: bool, door: str | None = "main") -> EventPayload:
        """An alarm raised or cleared."""
        return self.send(
            AlarmEvent.model_validate(
                {**self._fields(None), "door_id": door, "alarm": alarm, "active": active}
            )
        )

    def face_paired(self, terminal_id: str, worker_id: str, door: str = "main") -> EventPayload:
        """A worker's face paired on a terminal, under their pseudonymous number."""
        return self.send(
            FacePairingEvent.model_validate(
                {
                    **self._fields(None),
                    "action": "paired",
                    "terminal_id": terminal_id,
                    "door_id": door,
                    "person_id": worker_id[1:],
                    "worker_id": worker_id,
                    "notice_version": "face-consent-1",
                    "token_not_before": utc_now(),
                }
            )
        )

    def availability(self, online: bool, at: datetime | None = None) -> None:
        """Birth message (with the gateway's clock) or last will."""
        message = Availability(
            station_id=self.station_id,
            gateway_id=self.gateway_id,
            online=online,
            at=at if online else None,
        )
        self.probe.publish(
            gateway_topic(self.station_id, self.gateway_id, "availability"), message.to_json()
        )


def health_report(
    devices: dict[str, DeviceHealth],
    station_id: str = "cs-0001",
    gateway_id: str = "gw-1",
    at: datetime | None = None,
    occupancy: int = 0,
) -> Health:
    """A gateway's `health/1` report naming `devices`, as the gateway builds it."""
    return Health(
        station_id=station_id,
        gateway_id=gateway_id,
        at=at or utc_now(),
        version="test",
        uptime_s=60,
        outbox_depth=0,
        occupancy=occupancy,
        devices=devices,
    )
