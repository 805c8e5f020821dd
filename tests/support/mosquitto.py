"""A private Mosquitto broker on a free loopback port, started with the project's settings."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "Mosquitto is required for these tests and was not found on PATH. "
    "Install it with: apt-get update && apt-get install -y mosquitto mosquitto-clients "
    "(scripts/test does this for you)."
)


# Ports for test servers come from below the kernel's ephemeral range (32768 and up on
# Debian): a port the kernel handed out by `bind(0)` and released again can be taken by
# the next outgoing connection (to the broker, to PostgreSQL) before the server binds it.
_ALL_SERVER_PORTS = range(20000, 32768)


def _ports_of_this_worker() -> range:
    """Under pytest-xdist, a slice of the range of its own per worker: two workers picking
    at the same moment can never be given the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2:
        return _ALL_SERVER_PORTS
    size = len(_ALL_SERVER_PORTS) // count
    start = _ALL_SERVER_PORTS.start + int(worker[2:]) * size
    return range(start, start + size)


_SERVER_PORTS = _ports_of_this_worker()
_pick = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and that no outgoing
    connection will be given meanwhile."""
    for _ in range(200):
        port = _pick.choice(_SERVER_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_SERVER_PORTS} after 200 tries")


def wait_for_port(port: int, timeout: float) -> bool:
    """True once something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            # Polling a port is the only readiness signal Mosquitto offers.
            time.sleep(0.02)
    return False


def run_as_current_user() -> str:
    """Config line that keeps a root-started broker from dropping to the `mosquitto` user,
    who could not read or write the test's private directories."""
    return "user root\n" if os.geteuid() == 0 else ""


@dataclass
class MosquittoBroker:
    """A running private broker; `stop()` and `start()` again to simulate an outage."""

    directory: Path
    port: int
    extra_config: str = ""
    persistence: bool = False
    """Keep sessions and queued messages across a stop (written on a clean stop)."""
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """`mqtt://127.0.0.1:port`."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or restart) the broker on the same port."""
        binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        config = self.directory / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Without it QoS 1 crawls at tens of messages a second on loopback.
            "set_tcp_nodelay true\n"
            + (
                f"persistence true\npersistence_location {self.directory}/\n"
                if self.persistence
                else "persistence false\n"
            )
            + "max_inflight_messages 100\n"
            + run_as_current_user()
            + "max_queued_messages 100000\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n" + self.extra_config,
            encoding="utf-8",
        )
        log = (self.directory / "mosquitto.log").open("ab")
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=log)
        if not wait_for_port(self.port, timeout=10):
            self.stop()
            raise RuntimeError(f"mosquitto did not start; see {self.directory / 'mosquitto.log'}")

    @property
    def saved_at(self) -> int | None:
        """When the broker last wrote its persistence file (ns), None before the first."""
        try:
            return (self.directory / "mosquitto.db").stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def kill(self) -> None:
        """SIGKILL: no save, no goodbye, like a power cut of the broker's machine."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        """Stop the broker and wait for it to exit."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
