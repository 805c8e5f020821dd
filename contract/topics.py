"""The topic tree of wire contract v1: every topic, who publishes it, its QoS and retain flag.

```
yz/v1/st/{station}/gw/{gateway}/event/{kind}    gateway → central   QoS 1
yz/v1/st/{station}/gw/{gateway}/availability    gateway (and its last will), retained
yz/v1/st/{station}/gw/{gateway}/command         central or maintainer → gateway, QoS 1
yz/v1/st/{station}/gw/{gateway}/reply[/...]     gateway → whoever asked, QoS 1
yz/v1/st/{station}/gw/{gateway}/config/desired  central or maintainer, retained
yz/v1/st/{station}/gw/{gateway}/config/reported gateway, retained
yz/v1/st/{station}/gw/{gateway}/health          gateway, retained, every 30 s
yz/v1/st/{station}/gw/{gateway}/stored          central, retained (events stored up to a seq)
yz/v1/st/{station}/occupancy                    central, retained
yz/v1/st/{station}/credentials                  central, retained (face ids and cards)
yz/v1/keys                                      central, retained (token public keys)
yz/v1/revocations                               central, retained (revoked workers)
yz/v1/central/{central}/availability            central (and its last will), retained
yz/v1/central/{central}/clock                   central, QoS 0, every 30 s, never retained
```

Every publish takes its QoS and retain flag from this table (`spec_of`), never from the
call site: `servicekit.mqtt_link.MqttLink.publish` looks them up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

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
    EventPayload,
    FacePairingEvent,
    Payload,
    PresenceEvent,
    StationOccupancy,
    StoredMark,
)

ROOT = "yz/v1"


class Publisher(StrEnum):
    """Who may publish on a topic."""

    GATEWAY = "gateway"
    CENTRAL = "central"
    OPERATOR = "central or maintainer"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic family: its name pattern, payload model and delivery settings.

    `qos` and `retain` are what every message of the family is published with.
    """

    name: str
    pattern: str
    model: type[Payload]
    qos: int
    retain: bool
    publisher: Publisher
    summary: str

    @property
    def wildcard(self) -> str:
        """The subscription filter that matches every topic of this family."""
        return re.sub(r"\{[a-z_]+\}", "+", self.pattern)


EVENT_KINDS: dict[str, type[EventPayload]] = {
    "access": AccessEvent,
    "door": DoorEvent,
    "alarm": AlarmEvent,
    "crossing": CrossingEvent,
    "presence": PresenceEvent,
    "dropped": DropReport,
    "face_pairing": FacePairingEvent,
}

_GATEWAY = ROOT + "/st/{station_id}/gw/{gateway_id}"

TOPICS: tuple[TopicSpec, ...] = (
    *(
        TopicSpec(
            name=f"event/{kind}",
            pattern=f"{_GATEWAY}/event/{kind}",
            model=model,
            qos=1,
            retain=False,
            publisher=Publisher.GATEWAY,
            summary=(model.__doc__ or "").strip().splitlines()[0],
        )
        for kind, model in EVENT_KINDS.items()
    ),
    TopicSpec(
        name="availability",
        pattern=f"{_GATEWAY}/availability",
        model=Availability,
        qos=1,
        retain=True,
        publisher=Publisher.GATEWAY,
        summary="Birth message on connect; the broker publishes the last will on a lost link.",
    ),
    TopicSpec(
        name="command",
        pattern=f"{_GATEWAY}/command",
        model=Command,
        qos=1,
        retain=False,
        publisher=Publisher.OPERATOR,
        summary="A request to the gateway, dropped by it once its time-to-live has passed.",
    ),
    TopicSpec(
        name="reply",
        pattern=f"{_GATEWAY}/reply",
        model=CommandReply,
        qos=1,
        retain=False,
        publisher=Publisher.GATEWAY,
        summary="The gateway's answer to a command, echoing its request id.",
    ),
    TopicSpec(
        name="config/desired",
        pattern=f"{_GATEWAY}/config/desired",
        model=ConfigDesired,
        qos=1,
        retain=True,
        publisher=Publisher.OPERATOR,
        summary="Settings the gateway should run with, signed by an operator key.",
    ),
    TopicSpec(
        name="config/reported",
        pattern=f"{_GATEWAY}/config/reported",
        model=ConfigReport,
        qos=1,
        retain=True,
        publisher=Publisher.GATEWAY,
        summary="What the gateway applied, and why it refused the rest.",
    ),
    TopicSpec(
        name="health",
        pattern=f"{_GATEWAY}/health",
        model=Health,
        qos=1,
        retain=True,
        publisher=Publisher.GATEWAY,
        summary="Uptime, temperature, load, memory, disk, outbox, clock, broker and devices.",
    ),
    TopicSpec(
        name="stored",
        pattern=f"{_GATEWAY}/stored",
        model=StoredMark,
        qos=1,
        retain=True,
        publisher=Publisher.CENTRAL,
        summary="Every event of the gateway up to this sequence number is stored centrally.",
    ),
    TopicSpec(
        name="occupancy",
        pattern=ROOT + "/st/{station_id}/occupancy",
        model=StationOccupancy,
        qos=1,
        retain=True,
        publisher=Publisher.CENTRAL,
        summary="How many people the central counts in the station, and its capacity.",
    ),
    TopicSpec(
        name="credentials",
        pattern=ROOT + "/st/{station_id}/credentials",
        model=CredentialMap,
        qos=1,
        retain=True,
        publisher=Publisher.CENTRAL,
        summary="The station's face-terminal person ids and card numbers, mapped to workers.",
    ),
    TopicSpec(
        name="keys",
        pattern=ROOT + "/keys",
        model=PublicKeys,
        qos=1,
        retain=True,
        publisher=Publisher.CENTRAL,
        summary="The public keys that QR tokens are signed with; two overlap in a rotation.",
    ),
    TopicSpec(
        name="revocations",
        pattern=ROOT + "/revocations",
        model=Revocations,
        qos=1,
        retain=True,
        publisher=Publisher.CENTRAL,
        summary="Every revoked or suspended worker number; gateways refuse them at once.",
    ),
    TopicSpec(
        name="central",
        pattern=ROOT + "/central/{central_id}/availability",
        model=CentralStatus,
        qos=1,
        retain=True,
        publisher=Publisher.CENTRAL,
        summary="A central replica is online; gateways answer by re-announcing themselves.",
    ),
    TopicSpec(
        name="clock",
        pattern=ROOT + "/central/{central_id}/clock",
        model=ClockTick,
        # At most once and never kept: a tick is worth something only while it is fresh,
        # so no broker may queue one for a gateway that is away and hand it over late.
        qos=0,
        retain=False,
        publisher=Publisher.CENTRAL,
        summary="A central replica's time, every 30 s; gateways measure their clock by it.",
    ),
)

TOPIC_BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in TOPICS}

# One expression for the whole grammar, so a topic either parses completely or not at all.
_TOPIC_RE = re.compile(
    r"^yz/v1/(?:(?P<root_leaf>keys|revocations)"
    r"|st/(?P<station_id>[a-z0-9][a-z0-9_-]{0,63})"
    r"(?:/gw/(?P<gateway_id>[a-z0-9][a-z0-9_-]{0,63})"
    r"/(?P<gw_leaf>event/[a-z_]+|availability|command|reply"
    r"|config/desired|config/reported|health|stored)"
    # A reply may go below the reply topic (a command's `reply_to`), never a wildcard.
    r"(?:(?<=reply)/[^#+\x00]+)?"
    r"|/(?P<st_leaf>occupancy|credentials)))$"
    r"|^yz/v1/central/(?P<central_id>[a-z0-9][a-z0-9_-]{0,63})/(?P<central_leaf>availability|clock)$"
)


@dataclass(frozen=True, slots=True)
class TopicAddress:
    """A parsed topic: which family, and for which station and gateway.

    `station_id` is None for the topics every station shares (`keys`, `revocations`).
    """

    spec: TopicSpec
    station_id: str | None
    gateway_id: str | None
    central_id: str | None = None


def parse_topic(topic: str) -> TopicAddress | None:
    """Parse a topic of the v1 tree; None when it is not one of ours."""
    match = _TOPIC_RE.match(topic)
    if match is None:
        return None
    if match["central_id"] is not None:
        return TopicAddress(
            spec=TOPIC_BY_NAME["central" if match["central_leaf"] == "availability" else "clock"],
            station_id=None,
            gateway_id=None,
            central_id=match["central_id"],
        )
    leaf = match["gw_leaf"] or match["st_leaf"] or match["root_leaf"]
    spec = TOPIC_BY_NAME.get(leaf)
    if spec is None:
        return None
    return TopicAddress(spec=spec, station_id=match["station_id"], gateway_id=match["gateway_id"])


class UnknownTopicError(ValueError):
    """A topic that is not part of wire contract v1."""


def spec_of(topic: str) -> TopicSpec:
    """The family of a concrete topic, whose QoS and retain flag its messages go with.

    Raises `UnknownTopicError` for a topic outside the v1 tree.
    """
    address = parse_topic(topic)
    if address is None:
        raise UnknownTopicError(f"topic {topic!r} is not part of wire contract v1")
    return address.spec


def event_topic(station_id: str, gateway_id: str, kind: str) -> str:
    """Topic for one kind of gateway event."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
    return f"{ROOT}/st/{station_id}/gw/{gateway_id}/event/{kind}"


def event_kind_of(model: type[EventPayload]) -> str:
    """The topic kind under which a model of event is published."""
    for kind, candidate in EVENT_KINDS.items():
        if candidate is model:
            return kind
    raise ValueError(f"{model.__name__} is not an event model")


def gateway_topic(station_id: str, gateway_id: str, leaf: str) -> str:
    """Topic for a gateway-level leaf: `availability`, `command`, `reply`, `stored`, …"""
    return f"{ROOT}/st/{station_id}/gw/{gateway_id}/{leaf}"


def occupancy_topic(station_id: str) -> str:
    """Retained occupancy topic of one station."""
    return f"{ROOT}/st/{station_id}/occupancy"


def credentials_topic(station_id: str) -> str:
    """Retained face-id and card map of one station."""
    return f"{ROOT}/st/{station_id}/credentials"


KEYS_TOPIC = f"{ROOT}/keys"
"""Retained public keys of the central's token signing keys."""

REVOCATIONS_TOPIC = f"{ROOT}/revocations"
"""Retained list of revoked worker numbers."""


def central_topic(central_id: str) -> str:
    """Retained availability topic of one central replica."""
    return f"{ROOT}/central/{central_id}/availability"


ALL_CENTRALS = TOPIC_BY_NAME["central"].wildcard
"""Subscription filter for every central replica's availability."""


def clock_topic(central_id: str) -> str:
    """Where one central replica publishes its time."""
    return f"{ROOT}/central/{central_id}/clock"


ALL_CENTRAL_CLOCKS = TOPIC_BY_NAME["clock"].wildcard
"""Subscription filter for every central replica's clock ticks."""


ALL_GATEWAY_TOPICS = f"{ROOT}/st/+/gw/+/#"
"""Subscription filter for everything every gateway publishes (and the commands to them)."""


def home_assistant_node_id(station_id: str, gateway_id: str) -> str:
    """A gateway's Home Assistant node id: `yz_{len(station)}_{station}_{gateway}`.

    Ids may contain `_`, so `yz_{station}_{gateway}` alone would give stations `a_b` with
    gateway `c` and `a` with gateway `b_c` one node; the station's length (digits, ended
    by the first `_`) says where the station ends, so no two gateways share a node id.
    The gateway's discovery messages and its broker ACL
    (`servicekit.broker_accounts.gateway_acl`) both use it, so it lives in the contract.
    """
    return f"yz_{len(station_id)}_{station_id}_{gateway_id}"
