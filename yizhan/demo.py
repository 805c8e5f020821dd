"""`yizhan demo`: a broker, the central and simulated stations in one process tree."""

from __future__ import annotations

import logging
import math
import random
import socket
from dataclasses import dataclass
from pathlib import Path

from contract.payloads import utc_now
from dashboard.central import Central, serve_in_thread
from dashboard.core.config import (
    CentralSettings,
    CommandSettings,
    DatabaseSettings,
    HttpSettings,
)
from dashboard.core.stations import StationInput
from dashboard.core.workers import WorkerInput, WorkerStatus
from dashboard.services.credentials import Credentials
from dashboard.storage.stations import StationRow
from dashboard.storage.store import Store
from gateway.config import MaintenanceSettings, PolicySettings, ThrottleSettings
from servicekit.operator_keys import OperatorKey
from servicekit.settings import BrokerSettings
from yizhan.embedded_broker import EmbeddedBroker
from yizhan.simulated_station import DOOR, SimulatedStation, TokenSource, Traffic
from yizhan.stopping import stop_on_signals

log = logging.getLogger(__name__)

# Changsha: a city with hundreds of 24-hour stations; the demo scatters its stations there.
CITY_CENTRE = (28.2282, 112.9388)
DISTRICTS = (430102, 430103, 430104, 430105, 430111)
"""GB/T 2260 codes of Changsha's central districts, for the stations' region codes."""
DISTRICT_NAMES = {
    430102: "芙蓉区",
    430103: "天心区",
    430104: "岳麓区",
    430105: "开福区",
    430111: "雨花区",
}
"""The districts' names, written into the addresses, where the map's district filter
reads them."""
STREETS = ("五一大道", "黄兴路", "韶山路", "芙蓉路", "湘江中路", "人民路", "劳动路", "车站路")
AMENITY_SETS = (
    ["water", "microwave", "charging"],
    ["water", "charging", "shower"],
    ["water", "microwave", "charging", "shower", "laundry"],
    ["water", "charging", "medicine_box"],
)
"""What the demo's stations offer, in turn: every station has water and charging, some a
shower or laundry, so that the map's amenity filter has something to choose."""
STATION_NAMES = (
    "五一广场驿站",
    "橘子洲驿站",
    "岳麓山驿站",
    "火车站驿站",
    "梅溪湖驿站",
    "黄兴路驿站",
    "湘江新区驿站",
    "星沙驿站",
    "高铁南站驿站",
    "马栏山驿站",
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What `yizhan demo` was asked for."""

    stations: int = 5
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    broker_url: str | None = None
    database: Path = Path("yizhan-data/demo.db")
    seed: int | None = None
    mean_arrival_s: float = 6.0


LAYOUT_SEED = 2282
"""Where the demo's stations stand and how big they are does not depend on `--seed`
(which varies the traffic): a restart on the same database shows the same map."""


def demo_stations(count: int) -> list[StationInput]:
    """`count` stations around the city centre, with names, places and capacities; the
    same ones on every run. Their numbers are the registry's to give."""
    rng = random.Random(LAYOUT_SEED)
    stations = []
    for n in range(1, count + 1):
        name = STATION_NAMES[(n - 1) % len(STATION_NAMES)]
        if n > len(STATION_NAMES):
            name = f"{name} {n}"
        stations.append(
            StationInput(
                id=f"demo-{n:02d}",
                name=name,
                lat=round(CITY_CENTRE[0] + rng.uniform(-0.08, 0.08), 5),
                lon=round(CITY_CENTRE[1] + rng.uniform(-0.08, 0.08), 5),
                capacity=rng.choice((8, 10, 12, 16, 20)),
                region_code=DISTRICTS[(n - 1) % len(DISTRICTS)],
                address=(
                    f"长沙市{DISTRICT_NAMES[DISTRICTS[(n - 1) % len(DISTRICTS)]]}"
                    f"{STREETS[(n - 1) % len(STREETS)]} {n * 37 % 399 + 1} 号"
                ),
                amenities=AMENITY_SETS[(n - 1) % len(AMENITY_SETS)],
                doors=[{"id": DOOR, "gateway_id": "gw-1"}],
                gateways=["gw-1"],
            )
        )
    return stations


def seed_registry(store: Store, wanted: list[StationInput]) -> list[StationRow]:
    """Put the demo's stations that the registry lacks; the registry's rows of all of them.

    A station already there is left exactly as it is (an operator may have edited it in
    the dashboard): the demo never rewrites the registry, it only fills it once."""
    described = {row.id for row in store.stations() if row.registered}
    missing = [station for station in wanted if station.id not in described]
    if missing:
        store.put_stations(missing)
    rows = {row.id: row for row in store.stations()}
    return [rows[station.id] for station in wanted]


WORKERS_PER_STATION = 30
PLATFORMS = ("meituan", "eleme", "sf_express", "jd_logistics", "didi", "truck_freight")


def demo_workers(credentials: Credentials, station_id: str) -> list[int]:
    """The numbers of the station's simulated workers, enrolled in the central if new.

    They are found again by name on the next run, so a kept demo database does not grow.
    """
    prefix = f"演示 {station_id} "
    known = {
        worker.display_name: worker.number
        for worker in credentials.store.workers(WorkerStatus.ACTIVE, limit=100_000)
        if worker.display_name.startswith(prefix)
    }
    wanted = [f"{prefix}{n:03d}" for n in range(1, WORKERS_PER_STATION + 1)]
    missing = [name for name in wanted if name not in known]
    if missing:
        enrolled = credentials.enroll(
            [
                WorkerInput(
                    display_name=name,
                    platform=PLATFORMS[n % len(PLATFORMS)],
                    groups=["delivery"],
                    scope=f"station:{station_id}",
                )
                for n, name in enumerate(missing)
            ]
        )
        known.update((worker.display_name, worker.number) for worker in enrolled)
    return [known[name] for name in wanted]


def token_source(credentials: Credentials) -> TokenSource:
    """What a worker's phone shows now, asked of the central's credential service."""

    def current(worker_number: int) -> str | None:
        worker = credentials.store.get(worker_number)
        try:
            tokens = credentials.tokens(worker, utc_now(), ahead=0)
        except LookupError as exc:
            # As a phone whose pass page cannot get a code: the worker walks on; the
            # simulated station keeps running.
            log.warning("no code for worker %d: %s", worker_number, exc)
            return None
        return tokens[0].token if tokens else None

    return current


def gateway_policy(station: StationRow, mean_arrival_s: float) -> PolicySettings:
    """The station's gateway policy, as the central's registry has the station."""
    # Simulated people arrive faster than real ones when asked to; the door's throttle
    # limit scales with them, so that the demo's few forged codes do not lock the door.
    speed_up = max(1.0, Traffic().mean_arrival_s / mean_arrival_s)
    return PolicySettings(
        station_number=station.number,
        region_code=station.region_code,
        capacity=station.capacity,
        throttle=ThrottleSettings(per_door=math.ceil(ThrottleSettings().per_door * speed_up)),
    )


def free_port(host: str, preferred: int) -> int:
    """`preferred` if nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError(f"no free port on {host}")


OPERATOR_NAME = "demo-operator"


def demo_operator(directory: Path) -> tuple[Path, MaintenanceSettings]:
    """The demo's operator key (made once, beside the database) and gateway settings
    that trust it, so signed commands in docs/maintenance.md work against the demo."""
    path = directory / "operator.key"
    try:
        key = OperatorKey.load(path)
    except ValueError:
        key = OperatorKey.generate(OPERATOR_NAME)
        key.save(path)
    return path, MaintenanceSettings(operators={key.name: key.public_key})


def run_demo(options: DemoOptions) -> None:
    """Run until Ctrl-C or SIGTERM, then stop every part in order."""
    stop = stop_on_signals()
    broker: EmbeddedBroker | None = None
    broker_url = options.broker_url
    if broker_url is None:
        broker = EmbeddedBroker(port=free_port("127.0.0.1", 1883))
        broker.start()
        broker_url = broker.url
        print(f"embedded MQTT broker on {broker_url}", flush=True)
    broker_settings = BrokerSettings(url=broker_url)
    options.database.parent.mkdir(parents=True, exist_ok=True)
    operator_path, maintenance = demo_operator(options.database.parent)
    settings = CentralSettings(
        # The dashboard's unlock button signs with the same operator key the simulated
        # gateways trust, so it opens their doors.
        commands=CommandSettings(operator_key=operator_path),
        broker=broker_settings,
        http=HttpSettings(host=options.http_host, port=options.http_port),
        database=DatabaseSettings(path=options.database),
    )
    central = Central(settings)
    stations = seed_registry(central.store, demo_stations(options.stations))
    credentials = central.credentials
    workers = {station.id: demo_workers(credentials, station.id) for station in stations}
    simulated = [
        SimulatedStation(
            station.id,
            broker_settings,
            workers=workers[station.id],
            token_for=token_source(credentials),
            policy=gateway_policy(station, options.mean_arrival_s),
            traffic=Traffic(mean_arrival_s=options.mean_arrival_s),
            seed=None if options.seed is None else options.seed + n,
            maintenance=maintenance,
        )
        for n, station in enumerate(stations)
    ]
    server = central.http_server()
    try:
        central.start()
        for station in simulated:
            station.start()
        serve_in_thread(server)
        _demo_admin(central, options.database)
        first = stations[0].id
        _, secret = credentials.store.create_pass_link(workers[first][0])
        print(
            f"pass of a worker at {first} (open it on a phone): {credentials.pass_url(secret)}",
            flush=True,
        )
        print(f"operator key for signed commands: {operator_path}", flush=True)
        print(
            f"yizhan demo: {len(simulated)} stations; dashboard at "
            f"http://{options.http_host}:{options.http_port}/ ; Ctrl-C stops",
            flush=True,
        )
        stop.wait()
    finally:
        server.should_exit = True
        # Everyone stops walking at once: no station's traffic goes on (scans, faces,
        # doors) while the stations before it stop one by one.
        for station in simulated:
            station.halt()
        for station in simulated:
            station.stop()
        central.stop()
        if broker is not None:
            broker.stop()
        print("yizhan demo stopped", flush=True)


def _demo_admin(central: Central, database: Path) -> None:
    """Create the demo's admin and print its password once; on a restart, say how to set
    a new one."""
    import secrets
    import sys

    from dashboard.storage.operators import Role

    if any(o.name == "admin" for o in central.operators.all()):
        print(
            "dashboard login: admin (password printed when the demo database was made); "
            "to set a new one:\n"
            f"  YIZHAN_DATABASE__PATH={database} {_program(sys.argv[0])} operators passwd "
            "--name admin",
            flush=True,
        )
        return
    password = secrets.token_urlsafe(9)
    central.operators.add("admin", password, Role.ADMIN)
    print(f"dashboard login: admin / {password} (shown once)", flush=True)


def _program(argv0: str) -> str:
    """How to run `yizhan` again: the path it was started by, when that was the command."""
    return argv0 if Path(argv0).name == "yizhan" else "yizhan"
