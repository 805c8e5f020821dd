"""`yizhan central` as a child process on SQLite, with its HTTP port and memory in view."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.mosquitto import free_port
from tests.support.service_process import ServiceProcess


def resident_kib(pid: int) -> int:
    """The resident set of a process (`VmRSS` in `/proc/<pid>/status`), in KiB."""
    text = Path(f"/proc/{pid}/status").read_text("ascii")
    found = re.search(r"^VmRSS:\s+(\d+) kB$", text, re.MULTILINE)
    assert found, "no VmRSS in /proc: not Linux?"
    return int(found.group(1))


@contextmanager
def central_process(directory: Path, broker_url: str, extra: str = "") -> Iterator[tuple[int, int]]:
    """A central started as `yizhan central --config`; yields (pid, HTTP port). `extra` is
    added to its configuration file."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = directory / "central.toml"
    config.write_text(
        f"""
central_id = "central-{port}"

[broker]
url = "{broker_url}"

[http]
host = "127.0.0.1"
port = {port}

[database]
path = "{directory / "central.db"}"
{extra}
""",
        encoding="utf-8",
    )
    process = ServiceProcess("central", config, directory / "central.log", ready="central on")
    process.start()
    try:
        assert process.process is not None
        yield process.process.pid, port
    finally:
        process.stop()
