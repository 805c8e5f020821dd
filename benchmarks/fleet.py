"""A fleet of gateways against the real central: how many stations one, two or three
central replicas hold with every event stored once and in time.

`python -m benchmarks.fleet [--stations N] [--replicas 1 2 3] [--duration S] [--speed X]
[--ramp] [--flood K [--flood-factor F]]`

Everything runs for real on this machine, each a process of its own: a Mosquitto of the
benchmark's own on a free port, a throwaway PostgreSQL cluster, the central replicas as
`yizhan central --config FILE` on one database (beyond one replica, sharing the
gateways' events and health reports through an MQTT shared subscription, one holding
the leader lease; see docs/scale.md), and
the simulated gateways (`benchmarks._fleet_sim`: one connection, client id and sequence
of numbers each, events kept until the central's stored mark covers them) spread over a
few processes. The stations are registered first, as a real fleet's are.

The day is the demo's (`benchmarks._fleet_day`), `--visits-per-day` per station, with
the simulated clock `--speed` times faster than the real one and the run centred on the
lunch peak: N stations at speed X carry the load of N × X stations at the same hour, on
N connections. With the defaults (1,000 stations, 100 visits a day, speed 10) that is
about 650 messages a second, half of them health reports (1,000 / 30 s × 10 = 333/s).

Held means: nothing lost (every event the gateways generated is in the database exactly
once: compared by event id with what they generated), and the time from each event's
`at` (the gateway's clock) to its row's `received_at` (the central's clock when it wrote
the batch, on the same machine) under 2 s at the 99th percentile. Beside it: the time
from an event's first publish until the stored mark covering it reached its gateway,
which includes the central's coalescing of marks (at most two a second per gateway).
`--ramp` grows N from `--stations` (by half each step) until a run is not held. The
latency that decides is that of events after the first ten seconds (`WARMUP_S`), when
the central has met every gateway; the whole run's is reported beside it.

`--flood K` (off by default) makes K gateways publish F times (`--flood-factor`, 100) a
station's normal event rate during the middle third of the run: refused scans, as from
a reader stuck on one code, on top of their visits, numbered and kept until stored like
every event, from a simulator process of their own. Each flood run comes after the same
run without the flood (a baseline on the machine as it is then): the figures are the
other gateways' store latency during the flood window against the same window of the
baseline (p50, p99, the ratio), and the flooders' own: events added, stored of those
they generated, their store and mark latency. Nothing may be lost for any gateway; the
drain after a flood waits up to `FLOOD_DRAIN_S` for the backlog. See docs/scale.md, "A
gateway that floods".

CPU is in microseconds per message the gateways published (events, copies sent again,
health and birth messages), per process and its children, read from /proc before and
after the run (traffic and drain): each central replica (with its writer process), the
broker, the PostgreSQL server (every backend), the simulator processes. Memory is each
replica's resident set at the end and its peak. Database size is that of the `events`
and `entries` partitions per million events. The machine is shared: figures are noisy,
and the simulator shares its two cores with what it measures.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._fleet_day import Day, parse_time_of_day, start_of_peak
from benchmarks._fleet_procs import (
    Replica,
    cpu_s,
    memory_mib,
    start_replica,
)
from benchmarks._fleet_sim import Fleet, Flood, Result
from benchmarks.report import machine, percentiles, write_results
from dashboard.core.stations import StationInput
from dashboard.storage.migrations import open_database
from dashboard.storage.store import Store
from tests.support.mosquitto import MosquittoBroker, free_port
from tests.support.postgres import PostgresServer
from yizhan.simulated_station import HOURLY_RATE

STATIONS = 1_000
SPEED = 10.0
DURATION_S = 45.0
VISITS_PER_DAY = 100.0
DRAIN_S = 30.0
WARMUP_S = 10.0
"""Events of the run's first seconds are stored and checked like the others, but left out
of the latency that decides whether the fleet held: the central meets every gateway for
the first time then (its rows in the registry, its sequence, its counts), a cost a fleet
pays once when it comes up, not at every peak."""
FLOOR_P99_MS = 2000.0
GATEWAYS_PER_SIM_PROCESS = 1_500
BROKER_INFLIGHT = 100
"""`max_inflight_messages` of the shipped broker configuration."""
FLOOD_FACTOR = 100.0
FLOOD_DRAIN_S = 120.0
"""With a flood, the longest wait after the traffic for every event to be marked stored:
a flood beyond what the central can take leaves a backlog it works off afterwards (the
wait ends as soon as every gateway's outbox is empty)."""


def station_ids(count: int) -> list[str]:
    """The fleet's station ids."""
    return [f"fl-{number:06d}" for number in range(count)]


def register(database_url: str, stations: list[str]) -> None:
    """Put the stations into the registry (and the schema into the database)."""
    database = open_database(database_url)
    try:
        Store(database).put_stations(
            [StationInput(id=sid, name=f"驿站 {sid}", capacity=40) for sid in stations]
        )
    finally:
        database.close()


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def wait_heard(database_url: str, stations: int, timeout: float) -> None:
    """Until the central has stored every gateway's birth message: the traffic starts on
    a central that knows its fleet."""
    database = open_database(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with database.connection() as db:
                heard = int(
                    db.execute("SELECT count(*) FROM gateways WHERE online = 1").fetchone()[0]
                )
            if heard >= stations:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the central heard {heard} of {stations} gateways")
            # Reading the registry is the only way to see it; a fifth of a second is
            # nothing beside starting thousands of connections.
            time.sleep(0.2)
    finally:
        database.close()


def stored_figures(
    database_url: str,
    generated: list[str],
    steady_from: float,
    flooding: frozenset[str] = frozenset(),
    window: tuple[float, float] | None = None,
    flood_generated: list[str] | None = None,
) -> dict[str, Any]:
    """What the database holds against what the gateways generated, the store latency
    (of every event, and of those from `steady_from`, epoch seconds), and the size of the
    event tables. With a `window` (epoch seconds), also the latency during it of the
    stations that do not flood and of those in `flooding`, and how many of the events
    those generated (`flood_generated`) are stored."""
    database = open_database(database_url)
    try:
        with database.connection() as db:
            rows = db.execute("SELECT event_id, at, received_at, station_id FROM events").fetchall()
            entries = int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
            size = int(
                db.execute(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i"
                    " JOIN pg_class c ON c.oid = i.inhrelid"
                    " JOIN pg_class p ON p.oid = i.inhparent"
                    " WHERE p.relname IN ('events', 'entries')"
                ).fetchone()[0]
            )
            database_bytes = int(
                db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            )
    finally:
        database.close()
    stored = [str(row[0]) for row in rows]
    wanted, have = set(generated), set(stored)
    latency = [(_utc(row[2]) - _utc(row[1])) * 1000 for row in rows]
    steady = [ms for row, ms in zip(rows, latency, strict=True) if _utc(row[1]) >= steady_from]
    # By ten seconds of the run: a transient (the start, a neighbour's burst on the
    # machine) shows apart from a load the central cannot carry.
    first = min((_utc(row[1]) for row in rows), default=0.0)
    windows: dict[int, list[float]] = {}
    for row, ms in zip(rows, latency, strict=True):
        windows.setdefault(int((_utc(row[1]) - first) // 10), []).append(ms)
    figures: dict[str, Any] = {
        "rows": len(stored),
        "entries": entries,
        "lost": len(wanted - have),
        "unexpected": len(have - wanted),
        "duplicates": len(stored) - len(have),
        "store_latency_ms": percentiles(steady) if len(steady) > 1 else None,
        "store_latency_ms_with_warmup": percentiles(latency) if len(latency) > 1 else None,
        "store_p99_ms_by_10_s": [
            round(percentiles(windows[w])["p99"]) if len(windows[w]) > 1 else None
            for w in sorted(windows)
        ],
        "event_tables_bytes": size,
        "database_bytes": database_bytes,
        "bytes_per_million_events": size / len(stored) * 1e6 if stored else None,
        # The access log's rows alone, which the figures of entries per day are about.
        "bytes_per_million_entries": size / entries * 1e6 if entries else None,
    }
    if window is not None:
        figures["window"] = _window_figures(rows, latency, flooding, window)
        theirs = set(flood_generated or ())
        figures["window"]["flooding_stored"] = len(theirs & have)
        figures["window"]["flooding_lost"] = len(theirs - have)
    return figures


def _window_figures(
    rows: list[Any], latency: list[float], flooding: frozenset[str], window: tuple[float, float]
) -> dict[str, Any]:
    """Store latency during `window` (by the event's `at`) of the stations that do not
    flood, and of those that do, with their events in the window counted."""
    others: list[float] = []
    flooders: list[float] = []
    for row, ms in zip(rows, latency, strict=True):
        if window[0] <= _utc(row[1]) < window[1]:
            (flooders if str(row[3]) in flooding else others).append(ms)
    return {
        "others_events": len(others),
        "others_store_latency_ms": percentiles(others) if len(others) > 1 else None,
        "flooding_events": len(flooders),
        "flooding_store_latency_ms": percentiles(flooders) if len(flooders) > 1 else None,
    }


def _postmaster(server: PostgresServer) -> dict[str, int]:
    """The server's postmaster, when the cluster is this process's own (a configured
    server may be on another machine)."""
    if server.directory is None:
        return {}
    pid = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    return {"postgresql": pid}


def run_once(
    server: PostgresServer,
    directory: Path,
    stations: int,
    replicas: int,
    day: Day,
    duration_s: float,
    sim_processes: int,
    inflight: int = BROKER_INFLIGHT,
    flood: int = 0,
    flood_factor: float = FLOOD_FACTOR,
) -> dict[str, Any]:
    """One fleet of `stations` against `replicas` centrals, on a fresh database and broker
    whose in-flight window per client is `inflight`. With `flood`, that many of the
    gateways publish `flood_factor` times their normal event rate during the run's middle
    third, from a simulator process of their own; a factor of 1 is the same run without
    the flood (the same gateways apart, for a baseline)."""
    ids = station_ids(stations)
    flooding = Flood(tuple(ids[:flood]), flood_factor, duration_s / 3, duration_s * 2 / 3)
    work = directory / f"r{replicas}-n{stations}-f{flood}x{flood_factor:g}"
    work.mkdir(parents=True)
    database_url = server.create_database()
    register(database_url, ids)
    drain_s = FLOOD_DRAIN_S if flood else DRAIN_S
    broker = MosquittoBroker(
        work,
        free_port(),
        # The shipped broker's queue and window (deploy/mosquitto/mosquitto.conf) unless
        # the window is asked otherwise: the central acknowledges a message only once it
        # is committed, so the window bounds how much one replica has in hand.
        extra_config=f"max_queued_messages 1000000\nmax_inflight_messages {inflight}\n",
    )
    broker.start()
    started: list[Replica] = []
    fleet: Fleet | None = None
    try:
        # The gateways connect while the centrals start, as a fleet that is already up
        # when its centrals come: the two startups overlap instead of adding up.
        fleet = Fleet(
            "127.0.0.1",
            broker.port,
            ids,
            day,
            sim_processes,
            drain_s,
            seed=stations + replicas,
            flood=flooding if flood else None,
        )
        share_group = "fleet" if replicas > 1 else None
        for number in range(1, replicas + 1):
            started.append(start_replica(work, number, broker.url, database_url, share_group))
        fleet.wait_ready(60 + stations / 50)
        wait_heard(database_url, stations, 60 + stations / 50)
        assert broker.process is not None
        watched = {
            **{r.central_id: r.pid for r in started},
            "broker": broker.process.pid,
            **_postmaster(server),
            **{f"simulator-{n}": pid for n, pid in enumerate(fleet.pids)},
        }
        before = {name: cpu_s(pid) for name, pid in watched.items()}
        began = time.time() + 0.5
        fleet.go(began, duration_s)
        result = fleet.results(duration_s + drain_s + 120)
        elapsed = time.time() - began
        after = {name: cpu_s(pid) for name, pid in watched.items()}
        memory = {r.central_id: memory_mib(r.pid) for r in started}
    finally:
        if fleet is not None:
            fleet.stop()
        for replica in started:
            replica.service.stop()
        broker.stop()
    figures = stored_figures(
        database_url,
        result.event_ids,
        began + min(WARMUP_S, duration_s / 2),
        frozenset(flooding.stations),
        (began + flooding.from_s, began + flooding.to_s) if flood else None,
        result.flood_event_ids,
    )
    server.drop_database(database_url)
    shutil.rmtree(work, ignore_errors=True)
    run = summarise(
        stations, replicas, day, duration_s, elapsed, result, figures, before, after, memory
    )
    if flood:
        run["flood"] = flood_figures(flooding, result, figures.pop("window"))
    return run


def flood_figures(flood: Flood, result: Result, window: dict[str, Any]) -> dict[str, Any]:
    """What the gateways that flooded published and got stored, and the latency of every
    gateway's events during the flood."""
    return {
        "gateways": len(flood.stations),
        "factor": flood.factor,
        "window_s": [flood.from_s, flood.to_s],
        "added_events": result.flood_events,
        "flooding_generated": len(result.flood_event_ids),
        "flooding_mark_latency_ms": percentiles(result.flood_mark_latency_ms)
        if len(result.flood_mark_latency_ms) > 1
        else None,
        **window,
    }


def summarise(
    stations: int,
    replicas: int,
    day: Day,
    duration_s: float,
    elapsed_s: float,
    result: Result,
    figures: dict[str, Any],
    before: dict[str, float],
    after: dict[str, float],
    memory: dict[str, dict[str, float]],
) -> dict[str, Any]:
    """One run's figures, and whether the fleet was held."""
    # Birth messages went out before the CPU was first read (the run starts once the
    # central has heard every gateway); the few of reconnections are left out too.
    messages = max(result.publishes - result.births, 1)
    cpu = {name: (after[name] - before[name]) / messages * 1e6 for name in before}
    groups = {
        "centrals": sum(v for k, v in cpu.items() if k.startswith("fleet-")),
        "broker": cpu["broker"],
        "postgresql": cpu.get("postgresql"),
        "simulator": sum(v for k, v in cpu.items() if k.startswith("simulator-")),
    }
    store = figures["store_latency_ms"]
    marks = percentiles(result.mark_latency_ms) if len(result.mark_latency_ms) > 1 else None
    lost = figures["lost"] + figures["unexpected"] + figures["duplicates"]
    held = (
        lost == 0 and result.unconfirmed == 0 and store is not None and store["p99"] < FLOOR_P99_MS
    )
    return {
        "stations": stations,
        "replicas": replicas,
        "speed": day.speed,
        "load_of_stations": stations * day.speed,
        "duration_s": duration_s,
        "elapsed_s": elapsed_s,
        "simulated_from": _clock(day.time_of_day(0)),
        "simulated_to": _clock(day.time_of_day(duration_s)),
        "events": result.events,
        "health": result.health,
        "resent": result.resent,
        "reconnects": result.reconnects,
        "published": result.publishes,
        "messages_per_s": messages / duration_s,
        "events_per_s": result.events / duration_s,
        "marks_received": result.marks,
        "unconfirmed_after_drain": result.unconfirmed,
        **figures,
        "mark_latency_ms": marks,
        "cpu_us_per_message": cpu,
        "cpu_us_per_message_by_role": groups,
        "memory_mib": memory,
        "floor_p99_ms": FLOOR_P99_MS,
        "held": held,
    }


def _clock(seconds: float) -> str:
    return f"{int(seconds // 3600):02d}:{int(seconds % 3600 // 60):02d}"


def _ms(figures: dict[str, float] | None, key: str) -> str:
    return "-" if figures is None else f"{figures[key]:.0f}"


def print_table(runs: list[dict[str, Any]]) -> None:
    """The runs, one line each."""
    header = (
        f"{'repl':>4} {'stations':>8} {'load of':>8} {'msg/s':>6} {'events':>7} {'lost':>4}"
        f" {'dup':>3} {'store p50/p99 ms':>16} {'mark p99':>8}"
        f" {'µs/msg central/broker/pg/sim':>29} {'RSS/replica MiB':>16}"
        f" {'B/M events':>10} {'held':>4}"
    )
    print(header)
    for r in runs:
        roles = r["cpu_us_per_message_by_role"]
        cpu = "/".join(
            "-" if roles[k] is None else f"{roles[k]:.0f}"
            for k in ("centrals", "broker", "postgresql", "simulator")
        )
        rss = "/".join(f"{m['rss_mib']:.0f}" for m in r["memory_mib"].values())
        per_million = r["bytes_per_million_events"]
        store = r["store_latency_ms"]
        print(
            f"{r['replicas']:>4} {r['stations']:>8,} {r['load_of_stations']:>8,.0f}"
            f" {r['messages_per_s']:>6.0f} {r['events']:>7,} {r['lost']:>4} {r['duplicates']:>3}"
            f" {_ms(store, 'p50') + '/' + _ms(store, 'p99'):>16}"
            f" {_ms(r['mark_latency_ms'], 'p99'):>8} {cpu:>29} {rss:>16}"
            f" {'-' if per_million is None else f'{per_million / 1e6:.0f} MB':>10}"
            f" {'yes' if r['held'] else 'NO':>4}"
        )


def flood_comparison(baseline: dict[str, Any], flooded: dict[str, Any]) -> dict[str, Any]:
    """The other gateways' store latency during the flood against the same window of the
    run without it, and what the flooding gateways got."""
    during = flooded["flood"]["others_store_latency_ms"]
    without = baseline["flood"]["others_store_latency_ms"]
    ratio = (
        {key: during[key] / max(without[key], 1.0) for key in ("p50", "p99")}
        if during and without
        else None
    )
    return {
        "replicas": flooded["replicas"],
        "stations": flooded["stations"],
        "gateways": flooded["flood"]["gateways"],
        "factor": flooded["flood"]["factor"],
        "others_store_latency_ms": during,
        "others_store_latency_ms_without_flood": without,
        "others_ratio": ratio,
        "flooding": {
            key: flooded["flood"][key]
            for key in (
                "added_events",
                "flooding_generated",
                "flooding_stored",
                "flooding_lost",
                "flooding_store_latency_ms",
                "flooding_mark_latency_ms",
            )
        },
        "lost_any": flooded["lost"] + flooded["duplicates"] + flooded["unexpected"],
        "unconfirmed_after_drain": flooded["unconfirmed_after_drain"],
    }


def print_flood(comparison: dict[str, Any], window_s: float) -> None:
    """What the flood did to the others, and what the flooders got, in a few lines."""
    c, f = comparison, comparison["flooding"]
    during, without = c["others_store_latency_ms"], c["others_store_latency_ms_without_flood"]
    ratio = "-" if c["others_ratio"] is None else f"{c['others_ratio']['p99']:.2f}"
    theirs = f["flooding_store_latency_ms"]
    print(
        f"flood: {c['gateways']} gateway(s) at {c['factor']:g}x for {window_s:.0f} s added"
        f" {f['added_events']:,} events ({f['added_events'] / window_s:,.0f}/s);"
        f" stored {f['flooding_stored']:,} of their {f['flooding_generated']:,}"
        f" (lost {f['flooding_lost']}), their store p50/p99"
        f" {_ms(theirs, 'p50')}/{_ms(theirs, 'p99')}"
        f" ms, mark p99 {_ms(f['flooding_mark_latency_ms'], 'p99')} ms"
    )
    print(
        f"  others during the flood: store p50/p99 {_ms(during, 'p50')}/{_ms(during, 'p99')} ms;"
        f" same window without flood {_ms(without, 'p50')}/{_ms(without, 'p99')} ms;"
        f" p99 ratio {ratio};"
        f" lost in the run (any gateway) {c['lost_any']}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the fleet for each replica count, print the table, write
    `benchmarks/results/fleet.json`; 1 if the given N was not held on one replica count."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet")
    parser.add_argument("--stations", type=int, default=STATIONS, help="gateways, one each")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1])
    parser.add_argument("--duration", type=float, default=DURATION_S, help="real seconds")
    parser.add_argument("--speed", type=float, default=SPEED, help="simulated s per real s")
    parser.add_argument("--visits-per-day", type=float, default=VISITS_PER_DAY)
    parser.add_argument("--start", help="simulated time of day HH:MM; centred on 12:00")
    parser.add_argument("--ramp", action="store_true", help="grow N until not held")
    parser.add_argument("--ramp-factor", type=float, default=1.5, help="N's growth per step")
    parser.add_argument("--max-stations", type=int, default=64_000, help="where a ramp stops")
    parser.add_argument("--sim-processes", type=int, help="simulator processes (default by N)")
    parser.add_argument(
        "--broker-inflight",
        type=int,
        default=BROKER_INFLIGHT,
        help="the broker's max_inflight_messages (the shipped configuration's by default)",
    )
    parser.add_argument(
        "--flood",
        type=int,
        default=0,
        help="gateways that flood during the middle third (each run then has a baseline)",
    )
    parser.add_argument(
        "--flood-factor",
        type=float,
        default=FLOOD_FACTOR,
        help="the flooding gateways' event rate, times a station's normal one",
    )
    args = parser.parse_args(argv)
    if args.flood and args.ramp:
        parser.error("--flood measures one N against its baseline; it does not ramp")
    if args.flood >= args.stations or args.flood < 0 or args.flood_factor <= 1:
        parser.error("--flood is 0 or fewer than --stations; --flood-factor above 1")
    start = (
        parse_time_of_day(args.start) if args.start else start_of_peak(args.duration, args.speed)
    )
    day = Day(args.speed, start, args.visits_per_day, HOURLY_RATE)
    results: dict[str, Any] = {
        "machine": machine(),
        "visits_per_day": args.visits_per_day,
        "speed": args.speed,
        "duration_s": args.duration,
        "broker_inflight": args.broker_inflight,
        "latency": "event `at` (gateway clock) to the row's `received_at` (central clock, "
        "same machine); the stored mark's arrival at the gateway beside it",
        "cpu": "µs of CPU per message the gateways published, per process with children",
        "runs": [],
        "largest_held": {},
        "replicas": "beyond one, they share the gateways' events and health reports "
        "($share/fleet/...), the broker dealing them round robin (docs/scale.md)",
        "flood": [],
    }
    runs: list[dict[str, Any]] = results["runs"]
    with tempfile.TemporaryDirectory(prefix="yizhan-fleet-") as tmp:
        server = PostgresServer.throwaway()
        try:
            for replicas in args.replicas:
                stations = args.stations
                largest: int | None = None
                while True:
                    processes = args.sim_processes or max(
                        1, math.ceil(stations / GATEWAYS_PER_SIM_PROCESS)
                    )
                    print(
                        f"replicas {replicas}, {stations:,} stations at speed {args.speed:g}"
                        f" (peak ≈ {day.peak_messages_per_s(stations):,.0f} messages/s),"
                        f" {args.duration:g} s ...",
                        flush=True,
                    )
                    run_at = partial(
                        run_once,
                        server,
                        Path(tmp),
                        stations,
                        replicas,
                        day,
                        args.duration,
                        processes,
                        args.broker_inflight,
                        args.flood,
                    )
                    if args.flood:
                        # The same fleet without the flood first (the same gateways in a
                        # process apart, the same seed): the others' latency in the same
                        # window, on the machine as it is in this invocation.
                        baseline = run_at(1.0)
                        runs.append(baseline)
                        print_table([baseline])
                        print(f"... and with the flood ({args.flood_factor:g}x)", flush=True)
                    run = run_at(args.flood_factor)
                    runs.append(run)
                    print_table([run])
                    if args.flood:
                        comparison = flood_comparison(baseline, run)
                        results["flood"].append(comparison)
                        print_flood(comparison, args.duration / 3)
                    if run["held"]:
                        largest = stations
                    grown = round(stations * args.ramp_factor)
                    if not args.ramp or not run["held"] or grown > args.max_stations:
                        break
                    stations = grown
                results["largest_held"][str(replicas)] = largest
        finally:
            server.stop()
    print()
    print_table(runs)
    for replicas, largest in results["largest_held"].items():
        held = f"{largest:,} stations" if largest else "none of those tried"
        print(
            f"{replicas} replica(s): largest held {held} (p99 < {FLOOR_P99_MS:.0f} ms, none lost)"
        )
    for comparison in results["flood"]:
        print_flood(comparison, args.duration / 3)
    print(f"written to {write_results('fleet', results)}")
    wanted = [r for r in runs if r["stations"] == args.stations]
    return 0 if wanted and all(r["held"] for r in wanted) else 1


if __name__ == "__main__":
    sys.exit(main())
