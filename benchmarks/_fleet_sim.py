"""The fleet benchmark's gateways: many MQTT connections driven from one thread per process.

Each simulated gateway has its own client id and its own connection, as a real one does
(`yz-gw-{station}-gw-1`, a persistent session, a retained birth message and last will,
the birth said again whenever a central comes online).
It numbers its events from 1 with its own sequence numbers, keeps each event until the
central's retained `stored/1` mark covers it, and publishes again what the mark does not
cover by the real gateway's rules (`gateway.resend.ResendPolicy`: when a central comes
online, or when the mark stands still while events wait). It publishes `health/1` every
30 simulated seconds with its `last_seq`. What it leaves out of a real gateway: devices,
the door's own decisions and the retained documents a gateway reads (keys, revocations,
config), none of which the central's ingest sees.

A thread per client does not scale to thousands, so one process drives its share of the
gateways from a single thread: paho's `loop_read`/`loop_write`/`loop_misc` over a
`selectors` selector, with the sockets registered for writing only while paho holds
unsent bytes. The benchmark spreads the fleet over a few such processes (`Fleet`), so the
simulator's CPU is not what limits the central; its CPU is measured with the others.

A flood (`Flood`): some gateways publish, for a stretch of the run, many times their
normal event rate on top of their normal traffic: the refused scan of a reader stuck on
one code, numbered, kept and published again like every other event. They run in a
simulator process of their own, so that driving the flood does not hold up the other
gateways' sockets in the simulator itself.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import random
import selectors
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks._fleet_day import (
    HEALTH_INTERVAL_S,
    Day,
    arrival,
    departure,
    event,
    refused_scan,
    stay_s,
)
from contract.maintenance_payloads import Health
from contract.payloads import Availability, CentralStatus, StoredMark
from contract.topics import ALL_CENTRALS, event_topic, gateway_topic
from gateway.resend import ResendPolicy

GATEWAY_ID = "gw-1"
VERSION = "fleet-sim"
MISC_EVERY_S = 1.0
"""How often every client's keepalive and resend rules are looked at."""
KEEPALIVE_S = 30


@dataclass(frozen=True, slots=True)
class Flood:
    """Which gateways flood, how hard, and when."""

    stations: tuple[str, ...]
    factor: float
    """Their event rate during the flood, as a multiple of a station's normal rate."""
    from_s: float
    to_s: float
    """Real seconds after the traffic starts."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What one simulator process is to do (sent to it when it starts)."""

    host: str
    port: int
    stations: tuple[str, ...]
    day: Day
    seed: int
    drain_s: float
    """After the traffic stops, how long to wait for every event to be marked stored."""
    resend_wait_s: float
    resend_max_wait_s: float
    """The real gateway's `[outbox] confirm_wait_s` and `confirm_wait_max_s`."""
    flood: Flood | None = None
    """When some of this process's gateways flood."""


@dataclass
class Result:
    """What one simulator process saw, sent back when it is done."""

    event_ids: list[str] = field(default_factory=list)
    events: int = 0
    health: int = 0
    births: int = 0
    resent: int = 0
    publishes: int = 0
    """Every PUBLISH the gateways sent: events, copies, health and birth messages."""
    marks: int = 0
    mark_latency_ms: list[float] = field(default_factory=list)
    """Per event of a gateway that does not flood, from its first publish to the arrival
    of the mark that covered it."""
    flood_event_ids: list[str] = field(default_factory=list)
    """Every event of the gateways that flood (their normal ones too), also in
    `event_ids`."""
    flood_events: int = 0
    """Events the flood added (refused scans beyond the normal traffic)."""
    flood_mark_latency_ms: list[float] = field(default_factory=list)
    """`mark_latency_ms` of the gateways that flood."""
    unconfirmed: int = 0
    """Events still waiting for a mark when the drain ended."""
    reconnects: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)


class SimGateway:
    """One gateway's connection, numbering, outbox and resend rules."""

    def __init__(
        self,
        station_id: str,
        result: Result,
        resend: tuple[float, float],
        flooding: bool = False,
    ) -> None:
        self.station_id = station_id
        self.result = result
        self.flooding = flooding
        self.seq = 0
        self.outbox: dict[int, tuple[str, bytes, float]] = {}
        """seq → (topic, payload, first published, monotonic), oldest first."""
        self.confirmed: int | None = None
        self.inside = 0
        self.started = time.monotonic()
        self.resend = ResendPolicy(*resend, self.started)
        self.subscribed = False
        self.stored_topic = gateway_topic(station_id, GATEWAY_ID, "stored")
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"yz-gw-{station_id}-{GATEWAY_ID}",
            clean_session=False,
            userdata=self,
        )
        # Unacknowledged events are the outbox's to resend; paho's own window only bounds
        # what is in flight on the wire, as the real gateway's `outbox.window` does.
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        availability = gateway_topic(station_id, GATEWAY_ID, "availability")
        self.client.will_set(
            availability,
            Availability(station_id=station_id, gateway_id=GATEWAY_ID, online=False).to_json(),
            qos=1,
            retain=True,
        )
        self.availability = availability
        self.client.on_connect = _on_connect
        self.client.on_subscribe = _on_subscribe
        self.client.on_message = _on_message

    def announce(self) -> None:
        """The retained birth message."""
        birth = Availability(
            station_id=self.station_id,
            gateway_id=GATEWAY_ID,
            online=True,
            at=datetime.now(UTC),
            version=VERSION,
        )
        self.publish(self.availability, birth.to_json(), retain=True)
        self.result.births += 1

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Hand one message to paho (QoS 1)."""
        self.client.publish(topic, payload, qos=1, retain=retain)
        self.result.publishes += 1

    def send(self, kind: str, fields: dict[str, object]) -> None:
        """Number, keep and publish one event."""
        self.seq += 1
        _, payload = event(fields, self.station_id, GATEWAY_ID, self.seq, datetime.now(UTC))
        topic = event_topic(self.station_id, GATEWAY_ID, kind)
        body = payload.to_json()
        self.outbox[self.seq] = (topic, body, time.monotonic())
        self.result.event_ids.append(payload.event_id)
        if self.flooding:
            self.result.flood_event_ids.append(payload.event_id)
        self.result.events += 1
        self.publish(topic, body)

    def send_health(self) -> None:
        """The periodic report, with the last sequence number so a lost tail shows."""
        report = Health(
            station_id=self.station_id,
            gateway_id=GATEWAY_ID,
            at=datetime.now(UTC),
            version=VERSION,
            uptime_s=round(time.monotonic() - self.started, 1),
            outbox_depth=len(self.outbox),
            last_seq=self.seq,
            occupancy=self.inside,
        )
        self.publish(gateway_topic(self.station_id, GATEWAY_ID, "health"), report.to_json(), True)
        self.result.health += 1

    def marked(self, seq: int) -> None:
        """The central's mark: every event up to `seq` is stored."""
        now = time.monotonic()
        self.result.marks += 1
        if self.confirmed is not None and seq <= self.confirmed:
            return
        self.confirmed = seq
        moved = False
        latencies = (
            self.result.flood_mark_latency_ms if self.flooding else self.result.mark_latency_ms
        )
        while self.outbox:
            first = next(iter(self.outbox))
            if first > seq:
                break
            _, _, published = self.outbox.pop(first)
            latencies.append((now - published) * 1000)
            moved = True
        if moved:
            self.resend.progress(now)

    def resend_if_due(self, asked: bool = False) -> None:
        """Publish again what the mark does not cover, when the real gateway would."""
        # Only once a central has confirmed something, as the real gateway.
        waiting = len(self.outbox) if self.confirmed is not None else 0
        if not asked and not self.resend.due(time.monotonic(), waiting):
            return
        if not waiting:
            return
        for topic, body, _ in self.outbox.values():
            self.publish(topic, body)
            self.result.resent += 1


def _on_connect(
    client: mqtt.Client, gateway: SimGateway, flags: Any, reason: Any, props: Any
) -> None:
    if reason.is_failure:
        return
    client.subscribe([(gateway.stored_topic, 1), (ALL_CENTRALS, 1)])
    gateway.announce()


def _on_subscribe(
    client: mqtt.Client, gateway: SimGateway, mid: int, codes: Any, props: Any
) -> None:
    gateway.subscribed = True


def _on_message(client: mqtt.Client, gateway: SimGateway, message: mqtt.MQTTMessage) -> None:
    if message.topic == gateway.stored_topic:
        gateway.marked(StoredMark.model_validate_json(message.payload).seq)
        return
    status = CentralStatus.model_validate_json(message.payload)
    if gateway.resend.central(
        status.central_id, status.online, not message.retain, time.monotonic()
    ):
        # A central that has just come online may have missed the birth message (a
        # retained copy never reaches a shared subscription): say it again, as the real
        # gateway does, then publish what it may have lost.
        gateway.announce()
        gateway.resend_if_due(asked=True)


class Loop:
    """Many paho clients on one selector, in the calling thread."""

    def __init__(self, gateways: list[SimGateway], host: str, port: int) -> None:
        self.gateways = gateways
        self.host = host
        self.port = port
        self.selector = selectors.DefaultSelector()
        self._sockets: dict[SimGateway, Any] = {}
        self._writing: set[SimGateway] = set()
        self._next_misc = 0.0

    def connect_all(self) -> None:
        """Open every connection (the CONNACKs are read by `run_once`)."""
        for gateway in self.gateways:
            gateway.client.connect(self.host, self.port, keepalive=KEEPALIVE_S)
            self._watch(gateway)

    def _watch(self, gateway: SimGateway) -> None:
        sock = gateway.client.socket()
        if sock is None:
            return
        old = self._sockets.get(gateway)
        if old is not None and old is not sock:
            self._forget(gateway)
        if gateway not in self._sockets:
            self.selector.register(sock, selectors.EVENT_READ, gateway)
            self._sockets[gateway] = sock

    def _forget(self, gateway: SimGateway) -> None:
        sock = self._sockets.pop(gateway, None)
        self._writing.discard(gateway)
        if sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(sock)

    def extra(self, fileobj: Any, callback: Callable[[], None]) -> None:
        """Also wake for `fileobj` (the parent's pipe) and call `callback` when readable."""
        self.selector.register(fileobj, selectors.EVENT_READ, callback)

    def run_once(self, timeout: float) -> None:
        """Wait up to `timeout` for sockets, serve them, then the writes paho holds."""
        for key, mask in self.selector.select(timeout):
            data = key.data
            if not isinstance(data, SimGateway):
                data()
                continue
            if mask & selectors.EVENT_READ:
                data.client.loop_read()
            if mask & selectors.EVENT_WRITE:
                data.client.loop_write()
            self.after(data)
        now = time.monotonic()
        if now >= self._next_misc:
            self._next_misc = now + MISC_EVERY_S
            for gateway in self.gateways:
                self._misc(gateway)

    def _misc(self, gateway: SimGateway) -> None:
        client = gateway.client
        if not client.is_connected() and client.socket() is None:
            # Dropped: come back, as the real gateway's link does.
            self._forget(gateway)
            try:
                client.reconnect()
            except OSError:
                return
            gateway.result.reconnects += 1
            self._watch(gateway)
        client.loop_misc()
        gateway.resend_if_due()
        self.after(gateway)

    def after(self, gateway: SimGateway) -> None:
        """Write what paho could not write at once, and watch for room to write more."""
        client = gateway.client
        if client.socket() is None:
            self._forget(gateway)
            return
        self._watch(gateway)
        if client.want_write():
            client.loop_write()
        wants = client.want_write()
        if wants != (gateway in self._writing):
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants else 0)
            self.selector.modify(self._sockets[gateway], events, gateway)
            if wants:
                self._writing.add(gateway)
            else:
                self._writing.discard(gateway)


Action = tuple[float, int, int, str, dict[str, object]]
"""(when, monotonic; tie-breaker; gateway index; kind; fields)."""


class Traffic:
    """The heap of what each gateway does next: health reports, arrivals and their steps."""

    def __init__(
        self,
        gateways: list[SimGateway],
        day: Day,
        seed: int,
        go: float,
        flood: Flood | None = None,
    ) -> None:
        self.gateways = gateways
        self.day = day
        self.rng = random.Random(seed)
        self.go = go
        self.flood = flood
        self.heap: list[Action] = []
        self._order = 0
        health_s = day.real_s(HEALTH_INTERVAL_S)
        for index in range(len(gateways)):
            # Spread over the interval, as gateways started at different times are.
            self._push(go + self.rng.uniform(0, health_s), index, "health", {})
            self._next_arrival(index, go)
            if flood is not None and flood.factor > 1 and gateways[index].flooding:
                self._push(go + flood.from_s, index, "flood", {})

    def _push(self, when: float, index: int, kind: str, fields: dict[str, object]) -> None:
        self._order += 1
        heapq.heappush(self.heap, (when, self._order, index, kind, fields))

    def _next_arrival(self, index: int, now: float) -> None:
        rate = self.day.visits_per_real_s(now - self.go)
        self._push(now + self.rng.expovariate(rate), index, "arrive", {})

    def due(self, now: float) -> set[SimGateway]:
        """Do everything due by `now`; the gateways that published."""
        touched: set[SimGateway] = set()
        while self.heap and self.heap[0][0] <= now:
            when, _, index, kind, fields = heapq.heappop(self.heap)
            gateway = self.gateways[index]
            touched.add(gateway)
            if kind == "health":
                gateway.send_health()
                self._push(when + self.day.real_s(HEALTH_INTERVAL_S), index, "health", {})
            elif kind == "arrive":
                steps, came_in = arrival(self.rng)
                self._steps(when, index, steps)
                if came_in:
                    gateway.inside += 1
                    self._push(when + self.day.real_s(stay_s(self.rng)), index, "leave", {})
                self._next_arrival(index, when)
            elif kind == "leave":
                gateway.inside = max(0, gateway.inside - 1)
                self._steps(when, index, departure(self.rng))
            elif kind == "flood":
                self._flood(when, index)
            else:
                gateway.send(kind, fields)
        return touched

    def _flood(self, when: float, index: int) -> None:
        """One refused scan beyond the normal traffic, and the next one while the flood
        lasts: evenly spaced, as a stuck reader repeats itself, at (factor - 1) times a
        station's normal event rate of the hour, so that with the normal traffic the
        gateway publishes `factor` times that rate."""
        flood = self.flood
        assert flood is not None
        if when >= self.go + flood.to_s:
            return
        gateway = self.gateways[index]
        gateway.send("access", refused_scan())
        gateway.result.flood_events += 1
        rate = (flood.factor - 1) * self.day.events_per_real_s(when - self.go)
        self._push(when + 1 / rate, index, "flood", {})

    def _steps(self, when: float, index: int, steps: list[tuple[float, dict[str, object]]]) -> None:
        for offset, fields in steps:
            self._push(when + self.day.real_s(offset), index, str(fields["kind"]), fields)

    def next_at(self) -> float | None:
        """When the next action is due."""
        return self.heap[0][0] if self.heap else None


def run_worker(conn: Connection, plan: Plan) -> None:
    """A simulator process: connect, say ready, run the traffic from the parent's go until
    its stop time, wait for the marks, send the result, disconnect."""
    result = Result()
    resend = (plan.resend_wait_s, plan.resend_max_wait_s)
    flooding = set(plan.flood.stations) if plan.flood is not None else set()
    gateways = [
        SimGateway(station, result, resend, station in flooding) for station in plan.stations
    ]
    loop = Loop(gateways, plan.host, plan.port)
    orders: list[Any] = []
    loop.extra(conn, lambda: orders.append(conn.recv()))
    loop.connect_all()
    while not all(g.subscribed for g in gateways):
        loop.run_once(0.05)
    conn.send(("ready", len(gateways)))
    while not orders:
        loop.run_once(0.05)
    go_epoch, stop_epoch = orders.pop()[1:]
    # The parent's times are epoch seconds (shared by every process); run on monotonic.
    offset = time.monotonic() - time.time()
    go, stop = go_epoch + offset, stop_epoch + offset
    while time.monotonic() < go:
        loop.run_once(min(0.05, go - time.monotonic()))
    traffic = Traffic(gateways, plan.day, plan.seed, go, plan.flood)
    while (now := time.monotonic()) < stop:
        for gateway in traffic.due(now):
            # What paho could not write at once waits for the socket to take it.
            loop.after(gateway)
        after = traffic.next_at()
        loop.run_once(0.05 if after is None else max(0.0, min(0.05, after - now)))
    drained = time.monotonic() + plan.drain_s
    while time.monotonic() < drained and any(g.outbox for g in gateways):
        loop.run_once(0.05)
    result.unconfirmed = sum(len(g.outbox) for g in gateways)
    result.last_seq = {g.station_id: g.seq for g in gateways}
    conn.send(("done", result))
    for gateway in gateways:
        offline = Availability(station_id=gateway.station_id, gateway_id=GATEWAY_ID, online=False)
        gateway.publish(gateway.availability, offline.to_json(), retain=True)
        gateway.client.disconnect()
        loop.after(gateway)
    conn.close()


class Fleet:
    """The simulator processes of one run, driven from the benchmark."""

    # Started by spawning, not forking: the benchmark's process runs threads (reading
    # the centrals' output), and a forked child could inherit a lock one of them held.

    def __init__(
        self,
        host: str,
        port: int,
        stations: list[str],
        day: Day,
        processes: int,
        drain_s: float,
        seed: int = 1,
        flood: Flood | None = None,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self.processes: list[Any] = []
        flooding = set(flood.stations) if flood is not None else set()
        calm = [station for station in stations if station not in flooding]
        shares: list[Sequence[str]] = [calm[number::processes] for number in range(processes)]
        if flooding:
            shares.append([station for station in stations if station in flooding])
        for number, share in enumerate(shares):
            if not share:
                continue
            ours, theirs = context.Pipe()
            outbox = _outbox_settings()
            plan = Plan(
                host,
                port,
                tuple(share),
                day,
                seed * 1000 + number,
                drain_s,
                outbox.confirm_wait_s,
                outbox.confirm_wait_max_s,
                flood,
            )
            process = context.Process(
                target=run_worker, args=(theirs, plan), name=f"fleet-sim-{number}", daemon=True
            )
            process.start()
            theirs.close()
            self._pipes.append(ours)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        """The simulator processes' ids."""
        return [p.pid for p in self.processes if p.pid is not None]

    def wait_ready(self, timeout: float) -> None:
        """Until every gateway is connected and subscribed."""
        for pipe in self._pipes:
            _expect(pipe, "ready", timeout)

    def go(self, start_epoch: float, duration_s: float) -> None:
        """Start the traffic at `start_epoch` (shared by all processes) for `duration_s`."""
        for pipe in self._pipes:
            pipe.send(("go", start_epoch, start_epoch + duration_s))

    def results(self, timeout: float) -> Result:
        """Every process's result, merged (waits for the drain)."""
        merged = Result()
        for pipe in self._pipes:
            part: Result = _expect(pipe, "done", timeout)
            merged.event_ids += part.event_ids
            merged.mark_latency_ms += part.mark_latency_ms
            merged.flood_event_ids += part.flood_event_ids
            merged.flood_mark_latency_ms += part.flood_mark_latency_ms
            merged.flood_events += part.flood_events
            merged.last_seq.update(part.last_seq)
            for name in ("events", "health", "births", "resent", "publishes", "marks"):
                setattr(merged, name, getattr(merged, name) + getattr(part, name))
            merged.unconfirmed += part.unconfirmed
            merged.reconnects += part.reconnects
        return merged

    def stop(self) -> None:
        """Wait for the processes to end (they disconnect after their result)."""
        for process in self.processes:
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)


def _outbox_settings() -> Any:
    # Imported here, not at the top: the simulator's processes import this module, and
    # the gateway's settings bring its device libraries along.
    from gateway.config import OutboxSettings

    return OutboxSettings()


def _expect(pipe: Connection, what: str, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise TimeoutError(f"a simulator process did not say {what!r} within {timeout:.0f} s")
    message = pipe.recv()
    if message[0] != what:
        raise RuntimeError(f"a simulator process said {message[0]!r}, not {what!r}")
    return message[1]
