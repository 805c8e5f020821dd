"""Every topic the gateway listens to, and the handler each message goes to.

The one place incoming messages are routed. A handler is registered for a payload model;
the topic table (`contract.topics`) says which family carries that model, so this
gateway's subscription filters, their QoS and the validation come from the table as
well. A message that fails validation goes no further than a log line with its reason,
and to the family's refusal handler where one is registered (a command is answered
saying why it was refused); an empty one (a retained topic being cleared) goes nowhere.
Home Assistant's status topic, outside wire contract v1, is routed here too, by its exact
name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from contract.codec import Decoded, Rejected, decode
from contract.payloads import Payload
from contract.topics import TOPICS, TopicSpec, parse_topic
from servicekit.mqtt_link import Message

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)

Handler = Callable[[P, bool], None]
"""Takes a validated payload and whether it came as the broker's retained copy."""

RawHandler = Callable[[bytes], None]
"""Takes the payload of a topic outside wire contract v1, unread."""

RefusalHandler = Callable[[Rejected, bytes], None]
"""Takes why a message of the family was refused, and its payload as it came."""

FOREIGN_QOS = 1
"""Topics outside the table are subscribed at least once, like the contract's own."""


def family_of(model: type[Payload]) -> TopicSpec:
    """The topic family that carries `model`."""
    for spec in TOPICS:
        if spec.model is model:
            return spec
    raise ValueError(f"no topic family carries {model.__name__}")


class IncomingRouter:
    """Routes one gateway's incoming messages to the handlers registered for them."""

    def __init__(self, station_id: str, gateway_id: str) -> None:
        # Own station and gateway in the filters; any central replica.
        self._ids = {"station_id": station_id, "gateway_id": gateway_id, "central_id": "+"}
        self._families: dict[str, Handler[Payload]] = {}
        self._station_wide: set[str] = set()
        self._refusals: dict[str, RefusalHandler] = {}
        self._foreign: dict[str, RawHandler] = {}

    def on(self, model: type[P], handler: Handler[P], *, every_gateway: bool = False) -> None:
        """Send every valid message of `model`'s family to `handler`: this gateway's own,
        or with `every_gateway` those of every gateway of its station (itself included)."""

        family = family_of(model).name
        if family in self._families:
            raise ValueError(f"{family} already has a handler; one family, one handler")

        def take(payload: Payload, retained: bool) -> None:
            if isinstance(payload, model):
                handler(payload, retained)

        self._families[family] = take
        if every_gateway:
            self._station_wide.add(family)

    def on_refused(self, model: type[Payload], handler: RefusalHandler) -> None:
        """Send every message of `model`'s family that fails validation to `handler`."""
        family = family_of(model).name
        if family not in self._families:
            raise ValueError(f"{family} has no handler; register the model first")
        self._refusals[family] = handler

    def on_foreign(self, topic: str, handler: RawHandler) -> None:
        """Send every message on `topic`, a topic outside wire contract v1, to `handler`."""
        if parse_topic(topic) is not None:
            raise ValueError(f"{topic!r} is part of wire contract v1; register its model")
        self._foreign[topic] = handler

    def subscriptions_for(self, models: Sequence[type[Payload]]) -> list[tuple[str, int]]:
        """This gateway's filters for the families of `models`, with the QoS to subscribe at."""
        return [(self._filter(spec), spec.qos) for spec in map(family_of, models)]

    @property
    def subscriptions(self) -> list[tuple[str, int]]:
        """Every filter a handler waits on, with the QoS to subscribe at."""
        own = [(self._filter(spec), spec.qos) for spec in TOPICS if spec.name in self._families]
        return own + [(topic, FOREIGN_QOS) for topic in self._foreign]

    def route(self, message: Message) -> None:
        """Hand `message` to its handler (on the link's network thread)."""
        raw = self._foreign.get(message.topic)
        if raw is not None:
            raw(message.payload)
            return
        address = parse_topic(message.topic)
        family = None if address is None else address.spec.name
        if family is None or family not in self._families:
            log.debug("no handler for %s", message.topic)
            return
        if not message.payload:
            return
        result = decode(message.topic, message.payload)
        if isinstance(result, Decoded):
            self._families[family](result.payload, message.retain)
            return
        log.warning("ignored %s: %s", message.topic, result.reason)
        refused = self._refusals.get(family)
        if refused is not None:
            refused(result, message.payload)

    def _filter(self, spec: TopicSpec) -> str:
        if spec.name in self._station_wide:
            return spec.pattern.format(**{**self._ids, "gateway_id": "+"})
        return spec.pattern.format(**self._ids)
