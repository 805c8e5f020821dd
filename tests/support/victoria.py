"""Debian's `victoria-metrics` as a stand-in InfluxDB 2 server: it accepts influxdb-client's
`/api/v2/write` and gives the points back through its export API."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.mosquitto import wait_for_port

INSTALL_HINT = (
    "victoria-metrics is required for the InfluxDB export tests and was not found. Install "
    "it with: apt-get update && apt-get install -y victoria-metrics (scripts/test does this)."
)


@dataclass
class VictoriaMetrics:
    """A private server on a loopback port; `stop()` and `start()` to simulate an outage."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, as influxdb-client takes it."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or restart) on the same port and storage."""
        binary = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"
        if not Path(binary).exists():
            raise RuntimeError(INSTALL_HINT)
        log = (self.directory / "vm.log").open("ab")
        self.process = subprocess.Popen(
            [
                binary,
                f"-httpListenAddr=127.0.0.1:{self.port}",
                f"-storageDataPath={self.directory / 'data'}",
                # Points are searchable at once, not 30 s later.
                "-search.latencyOffset=0s",
                "-loggerLevel=ERROR",
            ],
            stdout=log,
            stderr=log,
        )
        if not wait_for_port(self.port, 20):
            self.stop()
            raise RuntimeError(f"victoria-metrics did not start; see {self.directory}/vm.log")

    def stop(self) -> None:
        """Stop the server and wait for it."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def export(self, match: str) -> list[dict[str, object]]:
        """Every series matching `match`, after flushing what was just written."""
        with httpx.Client(base_url=self.url, timeout=10) as http:
            http.get("/internal/force_flush")
            response = http.post("/api/v1/export", data={"match[]": match})
            response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]
