"""Reconnect delays grow exponentially, are spread at random, and reset only after a stable link."""

from __future__ import annotations

import random

from servicekit.backoff import Backoff


def test_delays_grow_to_the_cap_and_are_jittered() -> None:
    backoff = Backoff(1.0, 60.0, random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    for n, delay in enumerate(delays):
        assert 1.0 <= delay <= min(60.0, 2.0**n)
    assert max(delays[6:]) > 30, "late delays reach towards the cap"
    assert len({round(d, 3) for d in delays}) == len(delays), "no two delays alike"


def test_a_fleet_spreads_its_reconnects() -> None:
    # 1,000 gateways lose the broker at once; their fifth attempts are spread out.
    fifth = []
    for seed in range(1000):
        backoff = Backoff(1.0, 60.0, random.Random(seed))
        fifth.append([backoff.next_delay() for _ in range(5)][-1])
    buckets = {int(d) for d in fifth}
    assert len(buckets) >= 14, "reconnects bunch up in a few seconds"


def test_reset_only_after_the_connection_held() -> None:
    now = [0.0]
    backoff = Backoff(1.0, 60.0, random.Random(1), stable_s=60, clock=lambda: now[0])
    # The same draws from a backoff that never connected: what "not reset" gives.
    never_connected = Backoff(1.0, 60.0, random.Random(1))
    for _ in range(8):
        backoff.next_delay()
        never_connected.next_delay()
    backoff.connected()
    now[0] = 5.0
    backoff.disconnected()  # a flap: dropped after 5 s
    assert backoff.next_delay() == never_connected.next_delay() > 1.0
    backoff.connected()
    now[0] = 100.0
    backoff.disconnected()  # held for 95 s
    assert backoff.next_delay() == 1.0, "back to the shortest delay"
