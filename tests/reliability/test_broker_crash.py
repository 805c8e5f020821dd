"""The kill -9 drill: Mosquitto crashes while the central is away, and nothing is lost.

A broker with the shipped persistence settings saves what it holds every
`autosave_interval` (10 s); what it acknowledged after its last save is gone when it is
killed. A gateway that deleted events on the broker's acknowledgement lost them with it;
one that keeps them until the central's stored mark publishes them again. Everything
runs as real processes: the broker, the central and a gateway with a scanner on a
pseudo-terminal, as in `test_faults`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from contract.topics import event_topic
from tests.reliability.site import STATION, Site
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"
BURST = 300
KILL_AFTER_S = 3.0
"""How long after the burst the broker dies: the scenario's timing, not a wait for an event."""


def shipped_persistence() -> str:
    """The shipped config's save settings (the test broker saves in its own directory)."""
    lines = [
        line for line in SHIPPED.read_text("utf-8").splitlines() if line.startswith("autosave_")
    ]
    assert "autosave_interval 10" in lines, "the shipped config no longer saves every 10 s"
    return "\n".join(lines) + "\n"


def wait_for_a_save(broker: MosquittoBroker, timeout: float) -> int:
    """Wait until the broker writes its persistence file again; when it did."""
    before = broker.saved_at
    deadline = time.monotonic() + timeout
    while (saved := broker.saved_at) == before or saved is None:
        assert time.monotonic() < deadline, "the broker did not save within its interval"
        # A file's modification time is the only sign of a save Mosquitto gives.
        time.sleep(0.05)
    return saved


def test_mosquitto_killed_after_a_burst_while_the_central_is_away_loses_nothing(
    tmp_path: Path,
) -> None:
    site = Site.build(
        tmp_path / "site", ["gw-1"], replay_rate=1000, broker_config=shipped_persistence()
    )
    (gateway,) = site.gateways
    watcher: MqttProbe | None = None
    try:
        site.start()
        gateway.scan(20)
        site.wait_delivered(30)
        site.central.stop()
        watcher = MqttProbe(site.broker.url, [event_topic(STATION, "gw-1", "access")])

        # Right after a save, so the kill comes about 5 s after it and before the next.
        saved = wait_for_a_save(site.broker, timeout=15)
        gateway.scan(BURST)
        for _ in range(BURST):
            # The broker has taken each of them (and acknowledged it to the gateway).
            message = watcher.wait_for(lambda m: True, timeout=30)
            assert json.loads(message.payload)["worker_id"] in gateway.scanned
        time.sleep(KILL_AFTER_S)
        assert site.broker.saved_at == saved, "the broker saved the burst: nothing to lose"
        site.broker.kill()

        site.broker.start()
        site.central.start()
        site.wait_delivered(40)
        site.check_exact()
    finally:
        if watcher is not None:
            watcher.close()
        site.close()
