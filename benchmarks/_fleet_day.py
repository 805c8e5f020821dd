"""The fleet benchmark's day: when visits happen at a station, and what a gateway says
about each one.

The shape of the day is the demo's (`yizhan.simulated_station.HOURLY_RATE`: riders at
lunch and dinner, a trickle of sleepers at night), scaled to `visits_per_day` per
station; the benchmark hands it in (`Day.hourly`), so that the simulator's processes do
not import the demo's devices to read one table. A simulated clock runs `speed` times
faster than the real one, so a run of two minutes can cover the lunch peak; every rate
(visits, health reports) speeds up with it, so N stations at speed X put the load of
N × X stations on the central through N connections. Event times in the payloads stay
real (the gateway's clock), so the time from an event to its row in the database is a
real latency.

A visit is what the real gateway reports for one person, in order: the access decision,
the lock released, the door opened, the crossing of the beams, the door closed and
locked again; leaving, the same through the exit scanner or the exit button. Now and
then someone shows a code the central never signed and is refused; a gateway that floods
reports that refusal over and over (`refused_scan`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.payloads import (
    AccessEvent,
    CrossingEvent,
    DoorEvent,
    EventPayload,
)

DAY_S = 86_400.0
HEALTH_INTERVAL_S = 30.0
"""A real gateway's health interval (`[maintenance] health_interval_s`), simulated time."""
MEAN_STAY_S = 40 * 60.0
FORGED_SHARE = 0.05
EXIT_BUTTON_SHARE = 0.3

# Simulated seconds after the person shows up at which each step of passing the door
# happens: the decision, the lock's click, the door opening, both beams, closing, locking.
_STEPS = (0.0, 0.2, 1.5, 2.5, 5.0, 5.3)


@dataclass(frozen=True, slots=True)
class Day:
    """The simulated clock and the traffic it drives."""

    speed: float
    """Simulated seconds per real second."""
    start_s: float
    """The simulated time of day (seconds after local midnight) when the run starts."""
    visits_per_day: float
    hourly: tuple[float, ...]
    """Relative arrival rate by hour of the day, 24 of them."""

    def time_of_day(self, real_elapsed_s: float) -> float:
        """Simulated seconds after midnight, `real_elapsed_s` into the run."""
        return (self.start_s + real_elapsed_s * self.speed) % DAY_S

    def visits_per_real_s(self, real_elapsed_s: float) -> float:
        """One station's arrival rate now, per real second."""
        hour = int(self.time_of_day(real_elapsed_s) // 3600)
        share = self.hourly[hour] / sum(self.hourly)
        return self.visits_per_day * share / 3600.0 * self.speed

    def events_per_real_s(self, real_elapsed_s: float) -> float:
        """One station's average event rate now, per real second (health left out)."""
        return self.visits_per_real_s(real_elapsed_s) * EVENTS_PER_VISIT

    def real_s(self, simulated_s: float) -> float:
        """How long `simulated_s` lasts in real seconds."""
        return simulated_s / self.speed

    def peak_messages_per_s(self, stations: int) -> float:
        """Messages a second the fleet publishes in the busiest hour (events and health)."""
        share = max(self.hourly) / sum(self.hourly)
        visits = stations * self.visits_per_day * share / 3600.0
        return (visits * EVENTS_PER_VISIT + stations / HEALTH_INTERVAL_S) * self.speed


EVENTS_PER_VISIT = FORGED_SHARE + (1 - FORGED_SHARE) * (
    len(_STEPS) + len(_STEPS) * (1 - EXIT_BUTTON_SHARE) + (len(_STEPS) - 1) * EXIT_BUTTON_SHARE
)
"""Events one visit brings on average: a refused code, or coming in and going out by the
exit scanner or the exit button."""


def start_of_peak(duration_s: float, speed: float) -> float:
    """A start time of day that puts the middle of the run at 12:00, the lunch peak."""
    return (12 * 3600.0 - duration_s * speed / 2) % DAY_S


def parse_time_of_day(text: str) -> float:
    """`HH:MM` as seconds after midnight."""
    parsed = datetime.strptime(text, "%H:%M")
    return float(parsed.hour * 3600 + parsed.minute * 60)


Step = tuple[float, dict[str, object]]
"""When (simulated seconds after the visit's start) and the event's fields, without the
identity and order fields the gateway stamps."""


def arrival(rng: random.Random) -> tuple[list[Step], bool]:
    """Someone comes in with their pass, or now and then is refused a forged one; the
    steps, and whether they came in (and will leave later)."""
    if rng.random() < FORGED_SHARE:
        return [(0.0, _access("in", None, "denied", "bad_signature"))], False
    worker = f"w{rng.randrange(1, 2**31)}"
    return _through_door("in", _access("in", worker, "granted", "granted"), "grant"), True


def departure(rng: random.Random) -> list[Step]:
    """Someone leaves by the exit scanner or by the exit button."""
    if rng.random() < EXIT_BUTTON_SHARE:
        return _through_door("out", None, "rex")
    worker = f"w{rng.randrange(1, 2**31)}"
    return _through_door("out", _access("out", worker, "granted", "granted"), "grant")


def refused_scan() -> dict[str, object]:
    """The access event of a code the central never signed, refused: what a reader stuck
    on a damaged or forged code reports again and again (the flood of `benchmarks.fleet`)."""
    return _access("in", None, "denied", "bad_signature")


def stay_s(rng: random.Random) -> float:
    """How long (simulated seconds) someone stays."""
    return rng.expovariate(1 / MEAN_STAY_S)


def _access(direction: str, worker: str | None, decision: str, reason: str) -> dict[str, object]:
    fields: dict[str, object] = {
        "kind": "access",
        "door_id": "main",
        "direction": direction,
        "credential": "qr",
        "decision": decision,
        "reason": reason,
    }
    if worker is not None:
        fields["worker_id"] = worker
    return fields


def _through_door(direction: str, access: dict[str, object] | None, cause: str) -> list[Step]:
    door = {"kind": "door", "door_id": "main"}
    steps: list[dict[str, object]] = [
        {**door, "state": "unlocked", "cause": cause},
        {**door, "state": "opened"},
        {"kind": "crossing", "door_id": "main", "direction": direction, "source": "beam"},
        {**door, "state": "closed"},
        {**door, "state": "locked", "cause": "door_closed"},
    ]
    if access is not None:
        steps.insert(0, access)
    offsets = _STEPS[len(_STEPS) - len(steps) :]
    return list(zip(offsets, steps, strict=True))


_MODELS: dict[str, type[EventPayload]] = {
    "access": AccessEvent,
    "door": DoorEvent,
    "crossing": CrossingEvent,
}


def event(
    fields: dict[str, object], station_id: str, gateway_id: str, seq: int, at: datetime
) -> tuple[str, EventPayload]:
    """The event kind and payload of one step, stamped as the gateway stamps it."""
    body = dict(fields)
    kind = str(body.pop("kind"))
    if kind == "access" and body.get("decision") == "granted":
        # The token a granted QR code carried: valid from a little before the scan.
        body["token_not_before"] = at - timedelta(seconds=10)
    payload = _MODELS[kind].model_validate(
        {**body, "station_id": station_id, "gateway_id": gateway_id, "seq": seq, "at": at}
    )
    return kind, payload
