"""`yizhan demo`: what a maintainer sees with mosquitto_sub, and a clean stop."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from dashboard.core.config import CentralSettings, DatabaseSettings
from dashboard.core.stations import StationInput
from dashboard.services.credentials import Credentials
from dashboard.storage.store import Store
from tests.support.demo_process import DemoProcess
from tests.support.mosquitto import INSTALL_HINT, MosquittoBroker, free_port
from tests.support.operators import bearer
from tests.support.schemas import validate_published
from yizhan.demo import demo_workers, token_source


def test_demo_on_a_real_broker_publishes_only_documented_valid_payloads(
    own_broker: MosquittoBroker, tmp_path: Path
) -> None:
    # A broker of its own: retained births of other tests' gateways would otherwise
    # show up as extra stations.
    mosquitto = own_broker
    assert shutil.which("mosquitto_sub"), INSTALL_HINT
    port = free_port()
    demo = DemoProcess(
        [
            "--broker",
            mosquitto.url,
            "--http",
            f"127.0.0.1:{port}",
            "--stations",
            "3",
            "--db",
            str(tmp_path / "demo.db"),
            "--seed",
            "7",
            "--arrival-s",
            "0.1",
        ],
        tmp_path,
    )
    try:
        login = demo.wait_for_line("dashboard login: admin / ")
        password = login.split(" / ", 1)[1].split(" ", 1)[0]
        demo.wait_for_line("dashboard at")
        # Exactly what a maintainer would type, bounded by count and time for the test.
        sub = subprocess.run(
            [
                "mosquitto_sub",
                "-h",
                "127.0.0.1",
                "-p",
                str(mosquitto.port),
                "-v",
                "-t",
                "yz/#",
                "-C",
                "60",
                "-W",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        lines = [line for line in sub.stdout.splitlines() if line]
        assert len(lines) == 60, f"expected 60 messages, got {sub.stdout!r} {sub.stderr!r}"
        families = set()
        for line in lines:
            topic, payload = line.split(" ", 1)
            document = validate_published(topic, payload.encode())
            families.add(document["schema"])
        assert {"access/1", "availability/1", "occupancy/1"} <= families
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            # The API refuses without a login, and the printed demo admin gets in.
            assert http.get("/api/stations").status_code == 401
            stations = http.get("/api/stations", headers=bearer(http, "admin", password)).json()
        assert [s["id"] for s in stations] == ["demo-01", "demo-02", "demo-03"]
        assert all(s["online"] for s in stations)
    finally:
        code = demo.terminate()
    assert code == 0, "".join(demo.output)
    assert "yizhan demo stopped" in demo.output[-1]


def test_demo_without_a_broker_starts_its_own(tmp_path: Path) -> None:
    port = free_port()
    demo = DemoProcess(
        ["--http", f"127.0.0.1:{port}", "--stations", "2", "--arrival-s", "0.2"], tmp_path
    )
    try:
        demo.wait_for_line("embedded MQTT broker on mqtt://")
        url_line = demo.wait_for_line("dashboard at")
        assert f"http://127.0.0.1:{port}/" in url_line
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert health["broker_connected"] is True
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200
        assert "stations" in page.text
        assert (tmp_path / "yizhan-data" / "demo.db").exists()
    finally:
        code = demo.terminate()
    assert code == 0, "".join(demo.output)


def test_a_demo_stopped_while_it_starts_stops_every_part(tmp_path: Path) -> None:
    port = free_port()
    demo = DemoProcess(
        ["--http", f"127.0.0.1:{port}", "--stations", "3", "--arrival-s", "0.2"], tmp_path
    )
    try:
        # Printed once SIGTERM is handled, before the central and the stations start: the
        # signal comes while they start, and each must be stopped all the same.
        demo.wait_for_line("embedded MQTT broker on mqtt://")
    finally:
        code = demo.terminate()
    assert code == 0, "".join(demo.output)
    demo.wait_for_line("yizhan demo stopped", timeout=5)


def _demo_stations(port: int, headers: dict[str, str]) -> list[tuple[object, ...]]:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        listed = http.get("/api/stations", headers=headers).json()
    fields = ("id", "name", "number", "region_code", "lat", "lon", "capacity")
    return [tuple(s[f] for f in fields) for s in listed]


def _pass_works(line: str) -> None:
    # The demo's log lines share its output and may run into this one: the secret is
    # 32 characters (24 random bytes).
    found = re.search(r"(http://\S+?)/pass/([A-Za-z0-9_-]{32})", line)
    assert found is not None, line
    base, secret = found.groups()
    answer = httpx.get(f"{base}/api/pass/{secret}/tokens", timeout=10)
    assert answer.status_code == 200, answer.text


def test_a_restarted_demo_keeps_its_stations_and_says_how_to_reset_the_password(
    tmp_path: Path,
) -> None:
    database = tmp_path / "kept" / "demo.db"
    port = free_port()
    args = ["--http", f"127.0.0.1:{port}", "--stations", "3", "--db", str(database)]
    first = DemoProcess([*args, "--seed", "1", "--arrival-s", "0.2"], tmp_path)
    try:
        login = first.wait_for_line("dashboard login: admin / ")
        password = login.split(" / ", 1)[1].split(" ", 1)[0]
        _pass_works(first.wait_for_line("pass of a worker at demo-01"))
        first.wait_for_line("dashboard at")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            before = _demo_stations(port, bearer(http, "admin", password))
    finally:
        assert first.terminate() == 0, "".join(first.output)
    assert [s[0] for s in before] == ["demo-01", "demo-02", "demo-03"]
    assert [s[2] for s in before] == [1, 2, 3]

    # Another traffic seed: the same stations, places and capacities all the same.
    second = DemoProcess([*args, "--seed", "2", "--arrival-s", "0.2"], tmp_path)
    try:
        second.wait_for_line("to set a new one")
        line = second.wait_for_line("operators passwd")
        # Cut out of the line: a log line of the demo may run into it.
        start, end = line.index("YIZHAN_"), line.index("--name admin") + len("--name admin")
        command = line[start:end].split()
        _pass_works(second.wait_for_line("pass of a worker at demo-01"))
        second.wait_for_line("dashboard at")
        assert command == [
            f"YIZHAN_DATABASE__PATH={database}",
            "yizhan",
            "operators",
            "passwd",
            "--name",
            "admin",
        ]
        variable, value = command[0].split("=", 1)
        reset = subprocess.run(
            [sys.executable, "-m", "yizhan.cli", *command[2:], "--password-stdin"],
            input="a-fresh-password\n",
            env={**os.environ, variable: value},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert reset.returncode == 0, reset.stderr
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            after = _demo_stations(port, bearer(http, "admin", "a-fresh-password"))
    finally:
        assert second.terminate() == 0, "".join(second.output)
    assert after == before
    assert not any("(shown once)" in line for line in second.output)


def test_a_worker_whose_station_is_gone_shows_no_code_instead_of_stopping_the_station(
    tmp_path: Path,
) -> None:
    settings = CentralSettings(database=DatabaseSettings(path=tmp_path / "c.db"))
    store = Store.open(settings.database.resolved_url)
    store.put_station(StationInput(id="demo-01", name="五一广场驿站"))
    credentials = Credentials(settings, database=store.db)
    try:
        (number,) = demo_workers(credentials, "demo-01")[:1]
        codes = token_source(credentials)
        assert codes(number) is not None
        store.delete_station("demo-01")
        assert codes(number) is None
    finally:
        credentials.stop()
