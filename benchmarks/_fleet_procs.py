"""The fleet benchmark's processes: central replicas started as `yizhan central`, and what
each process (with its children) costs in CPU and memory, read from /proc.

A process's CPU is its own user and system time plus that of its children: the live ones
(a central's writer process, PostgreSQL's backends) read one by one, the ended ones from
the parent's `cutime`/`cstime`, which the kernel adds up once the parent has reaped them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.support.mosquitto import free_port
from tests.support.processes import stat_fields, tree
from tests.support.service_process import ServiceProcess

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by `pid` and its children, live or ended."""
    total = 0
    for member in tree(pid):
        fields = stat_fields(member)
        if fields is not None:
            # utime, stime, cutime, cstime: fields 14-17 of stat(5), 11-14 after the name.
            total += sum(int(value) for value in fields[11:15])
    return total / _TICK


def _status_kib(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text("ascii")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def memory_mib(pid: int) -> dict[str, float]:
    """Resident memory of `pid` and its live children now (`rss_mib`) and the sum of each
    one's peak (`peak_mib`, from `VmHWM`)."""
    members = tree(pid)
    return {
        "rss_mib": sum(_status_kib(m, "VmRSS") for m in members) / 1024,
        "peak_mib": sum(_status_kib(m, "VmHWM") for m in members) / 1024,
    }


@dataclass
class Replica:
    """One central replica, a process of its own."""

    central_id: str
    port: int
    service: ServiceProcess

    @property
    def pid(self) -> int:
        """The replica's process id."""
        assert self.service.process is not None
        return self.service.process.pid


def start_replica(
    directory: Path, number: int, broker_url: str, database_url: str, share_group: str | None
) -> Replica:
    """Write a replica's configuration and start it; returns once it listens. Replicas
    with a `share_group` split the gateways' events and health reports between them."""
    central_id = f"fleet-{number}"
    home = directory / central_id
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = home / "central.toml"
    config.write_text(
        f"""central_id = "{central_id}"

[broker]
url = "{broker_url}"

[http]
host = "127.0.0.1"
port = {port}

[database]
url = "{database_url}"
path = "{home / "unused.db"}"

[credentials]
# Replicas share their signing keys, as on a shared volume.
key_dir = "{directory / "keys"}"
"""
        + (f'\n[replicas]\nshare_group = "{share_group}"\n' if share_group else ""),
        encoding="utf-8",
    )
    service = ServiceProcess("central", config, home / "central.log", ready="central on")
    service.start(timeout=60)
    return Replica(central_id, port, service)
