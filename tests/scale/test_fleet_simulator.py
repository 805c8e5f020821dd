"""The fleet benchmark's simulator against one real central: every event it generates
is stored once, a flooding gateway's too, and the run yields every figure the benchmark
reports."""

from __future__ import annotations

from pathlib import Path

from benchmarks._fleet_day import Day
from benchmarks.fleet import run_once
from tests.support.postgres import PostgresServer
from yizhan.simulated_station import HOURLY_RATE

STATIONS = 6
DURATION_S = 3.0
# Fast and busy, so that a few seconds bring every kind of event from every gateway:
# health every 0.3 s, a visit every few seconds at each station.
DAY = Day(speed=100.0, start_s=12 * 3600.0, visits_per_day=2_000.0, hourly=HOURLY_RATE)


def test_a_few_gateways_one_flooding_lose_nothing_and_every_figure_is_there(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    # One run for both, to keep the test short: one gateway at five times a station's
    # rate (about 250 refused scans a second on top of its visits) for the middle second.
    run = run_once(
        postgres, tmp_path, STATIONS, 1, DAY, DURATION_S, sim_processes=1, flood=1, flood_factor=5
    )

    assert run["events"] > 20, "the day model generated (almost) nothing"
    assert run["health"] >= STATIONS * DURATION_S / DAY.real_s(30) * 0.8
    assert run["lost"] == 0
    assert run["duplicates"] == 0
    assert run["unexpected"] == 0
    assert run["rows"] == run["events"]
    assert run["unconfirmed_after_drain"] == 0, "marks did not cover every event"
    assert run["entries"] > 0, "no access event reached the entries table"
    assert run["store_latency_ms"]["p99"] >= 0
    assert run["mark_latency_ms"]["p99"] > 0
    roles = run["cpu_us_per_message_by_role"]
    for role in ("centrals", "broker", "simulator"):
        assert roles[role] > 0, role
    if postgres.directory is not None:
        assert roles["postgresql"] > 0
    assert run["memory_mib"]["fleet-1"]["rss_mib"] > 50
    assert run["bytes_per_million_events"] > 0
    flood = run["flood"]
    assert flood["gateways"] == 1
    assert flood["added_events"] > 100, "the flood published (almost) nothing"
    assert flood["flooding_generated"] > flood["added_events"]
    assert flood["flooding_stored"] == flood["flooding_generated"]
    assert flood["flooding_lost"] == 0
    assert flood["flooding_events"] >= flood["added_events"] * 0.8
    assert flood["flooding_store_latency_ms"]["p99"] >= 0
    assert flood["flooding_mark_latency_ms"]["p99"] > 0
    assert flood["others_events"] > 0
    assert flood["others_store_latency_ms"] is not None
