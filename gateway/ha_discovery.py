"""Home Assistant MQTT discovery: a gateway's doors, occupancy and sensors as entities.

Off by default (`[home_assistant] enabled`). Each entity gets a retained config message
on `{prefix}/{component}/{node_id}/{object_id}/config` as Home Assistant's MQTT discovery
documents it, with `default_entity_id` (`"<component>.<id>"`; Home Assistant drops the
older `object_id` key in 2026.4); its state is read from the gateway's retained `health`
topic with a value template, and its availability from the gateway's `availability` topic.
Home Assistant publishes `online` on `{prefix}/status` when it (re)starts; the gateway then
announces every config again, so entities never stay "unavailable" after a restart.

Everything here is read-only: Home Assistant sees doors but cannot open them, because a
door-opening command must be signed by an operator key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contract.topics import home_assistant_node_id
from hardware.profile import BoardProfile
from servicekit import __version__

node_id = home_assistant_node_id
"""A gateway's Home Assistant node id (`contract.topics.home_assistant_node_id`)."""


DISCOVERY_QOS = 1
DISCOVERY_RETAIN = True
"""Configs are retained, as Home Assistant's discovery documentation asks, so a Home
Assistant that starts later still finds every entity. The tree is Home Assistant's, not
part of wire contract v1, so its delivery settings live here rather than in the table."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """Where a gateway's entities live in Home Assistant's discovery tree."""

    prefix: str
    station_id: str
    gateway_id: str
    health_topic: str
    availability_topic: str

    @property
    def node_id(self) -> str:
        """The gateway's node id (`node_id`)."""
        return node_id(self.station_id, self.gateway_id)

    @property
    def status_topic(self) -> str:
        """Where Home Assistant says `online` after it starts."""
        return f"{self.prefix}/status"

    def _config(
        self, component: str, object_id: str, name: str, template: str, **extra: Any
    ) -> tuple[str, bytes]:
        document: dict[str, Any] = {
            "name": name,
            "unique_id": f"{self.node_id}_{object_id}",
            "default_entity_id": f"{component}.{self.node_id}_{object_id}",
            "state_topic": self.health_topic,
            "value_template": template,
            "availability_topic": self.availability_topic,
            "availability_template": "{{ 'online' if value_json.online else 'offline' }}",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": {
                "identifiers": [self.node_id],
                "name": f"yizhan {self.station_id} {self.gateway_id}",
                "manufacturer": "yizhan",
                "model": "station gateway",
                "sw_version": __version__,
            },
            "origin": {"name": "yizhan", "sw_version": __version__},
            **extra,
        }
        topic = f"{self.prefix}/{component}/{self.node_id}/{object_id}/config"
        return topic, json.dumps(document, ensure_ascii=False).encode()

    def messages(self, board: BoardProfile) -> list[tuple[str, bytes]]:
        """Every retained config message for this gateway's entities."""
        out = [
            self._config(
                "sensor",
                "occupancy",
                "Occupancy",
                "{{ value_json.occupancy }}",
                unit_of_measurement="people",
                state_class="measurement",
                icon="mdi:account-group",
            ),
            self._config(
                "sensor",
                "cpu_temp",
                "CPU temperature",
                "{{ value_json.cpu_temp_c }}",
                device_class="temperature",
                unit_of_measurement="°C",
                entity_category="diagnostic",
            ),
            self._config(
                "sensor",
                "outbox",
                "Events waiting",
                "{{ value_json.outbox_depth }}",
                state_class="measurement",
                entity_category="diagnostic",
            ),
        ]
        for door in board.doors:
            d = f"value_json.devices['door-{door.id}'].state"
            out += [
                self._config(
                    "binary_sensor",
                    f"door_{door.id}",
                    f"Door {door.id}",
                    f"{{{{ 'ON' if {d}.open else 'OFF' }}}}",
                    device_class="door",
                ),
                self._config(
                    "binary_sensor",
                    f"lock_{door.id}",
                    f"Lock {door.id}",
                    f"{{{{ 'ON' if {d}.lock == 'released' else 'OFF' }}}}",
                    device_class="lock",
                ),
                self._config(
                    "binary_sensor",
                    f"lockdown_{door.id}",
                    f"Lockdown {door.id}",
                    f"{{{{ 'ON' if {d}.lockdown else 'OFF' }}}}",
                    icon="mdi:lock-alert",
                ),
            ]
            if door.pir is not None:
                out.append(self._presence(f"{door.id}-pir"))
        out += [self._presence(f"radar-{radar.id}") for radar in board.radars]
        return out

    def _presence(self, device: str) -> tuple[str, bytes]:
        object_id = device.replace("-", "_")
        return self._config(
            "binary_sensor",
            f"presence_{object_id}",
            f"Presence {device}",
            f"{{{{ 'ON' if value_json.devices['{device}'].state.present else 'OFF' }}}}",
            device_class="occupancy",
        )
