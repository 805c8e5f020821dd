"""What a maintainer asks a gateway about itself: host figures and its last errors.

Host figures come from /proc and /sys as a Raspberry Pi (or any Linux) has them; a
figure that is not available is None rather than a guess. `RecentErrors` is a logging
handler that keeps the last WARNING-or-worse records in a ring, so `diagnostics` can
show what went wrong without a shell on the Pi.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contract.payloads import format_utc

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def _read(path: Path) -> str | None:
    try:
        return path.read_text("ascii")
    except (OSError, UnicodeDecodeError):
        return None


def cpu_temp_c(path: Path = THERMAL_ZONE) -> float | None:
    """The SoC temperature in °C (the kernel gives millidegrees), or None without a sensor."""
    text = _read(path)
    try:
        return None if text is None else round(int(text.strip()) / 1000, 1)
    except ValueError:
        return None


def load_1m(path: Path = Path("/proc/loadavg")) -> float | None:
    """The one-minute load average."""
    text = _read(path)
    try:
        return None if text is None else float(text.split()[0])
    except (ValueError, IndexError):
        return None


def memory_available_mb(path: Path = Path("/proc/meminfo")) -> float | None:
    """MemAvailable in MiB: what new work can still use without swapping."""
    text = _read(path) or ""
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            try:
                return round(int(line.split()[1]) / 1024, 1)
            except (ValueError, IndexError):
                return None
    return None


def host_uptime_s(path: Path = Path("/proc/uptime")) -> float | None:
    """Seconds since the machine booted."""
    text = _read(path)
    try:
        return None if text is None else float(text.split()[0])
    except (ValueError, IndexError):
        return None


def disk_free_mb(path: Path) -> float | None:
    """Free space in MiB on the file system holding `path` (the state directory)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return round(shutil.disk_usage(probe).free / 2**20, 1)
    except OSError:
        return None


def host_figures(state_dir: Path) -> dict[str, float | None]:
    """Every host figure at once, keyed as in the `health/1` payload."""
    return {
        "host_uptime_s": host_uptime_s(),
        "cpu_temp_c": cpu_temp_c(),
        "load_1m": load_1m(),
        "memory_available_mb": memory_available_mb(),
        "disk_free_mb": disk_free_mb(state_dir),
    }


class RecentErrors(logging.Handler):
    """Keeps the last `size` records of WARNING or worse, for the `diagnostics` command."""

    def __init__(self, size: int = 20) -> None:
        super().__init__(level=logging.WARNING)
        self._records: deque[dict[str, Any]] = deque(maxlen=size)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Remember one record (called by logging)."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        entry = {
            "at": format_utc(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": message[:300],
        }
        with self._guard:
            self._records.append(entry)

    def recent(self) -> list[dict[str, Any]]:
        """Oldest first."""
        with self._guard:
            return list(self._records)


def process_id() -> int:
    """This process's id, shown so a maintainer can match the journal."""
    return os.getpid()
