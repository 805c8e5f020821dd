"""Talking to systemd: readiness, watchdog pings and stopping, over `NOTIFY_SOCKET`.

The protocol is a datagram of `KEY=value` lines to the socket systemd names in the
environment (sd_notify(3)); outside systemd the variable is absent and every call here
does nothing, so the same code runs on a laptop.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

WATCHDOG_FRACTION = 0.5
"""Ping at half the watchdog timeout, as sd_watchdog_enabled(3) recommends."""


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` (e.g. `READY=1`); False when not running under systemd."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pings, or None when systemd set no watchdog for us."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1_000_000 * WATCHDOG_FRACTION
    except ValueError:
        return None
