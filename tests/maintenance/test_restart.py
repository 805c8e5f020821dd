"""`restart` over MQTT: the real `yizhan gateway` process answers, then exits with the
documented code (75) so that systemd's `Restart=always` starts it again."""

from __future__ import annotations

import json
from pathlib import Path

from contract.tokens import SigningKey
from gateway.service import RESTART_EXIT_CODE
from tests.reliability.site import STATION, SiteGateway
from tests.support.mosquitto import MosquittoBroker
from tests.support.probe import MqttProbe
from tests.support.service_process import ServiceProcess
from tests.support.signing import OPERATOR, command


def test_restart_replies_then_exits_with_the_restart_code(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    site = SiteGateway("gw-r", tmp_path, mosquitto.port, 1, SigningKey.generate(200), 100)
    config = site.write_config()
    with config.open("a", encoding="utf-8") as out:
        out.write(f'\n[maintenance.operators]\n{OPERATOR.name} = "{OPERATOR.public_key}"\n')
    service = ServiceProcess("gateway", config, tmp_path / "gw.log", ready="running")
    base = f"yz/v1/st/{STATION}/gw/gw-r"
    probe = MqttProbe(mosquitto.url, [f"{base}/reply/#", f"{base}/availability"])
    service.start()
    try:
        assert service.process is not None
        # Its birth message follows its subscriptions: from then on it hears commands.
        probe.wait_for(lambda m: b'"online":true' in m.payload)
        unsigned = json.loads(command("restart", "r-0", to=(STATION, "gw-r"), key=None))
        probe.publish(f"{base}/command", json.dumps(unsigned).encode())
        refused = probe.wait_for(lambda m: m.topic == f"{base}/reply")
        assert json.loads(refused.payload)["status"] == "unauthorised"
        assert service.process.poll() is None, "an unsigned restart stopped the gateway"

        probe.publish(f"{base}/command", command("restart", "r-1", to=(STATION, "gw-r")))
        reply = json.loads(probe.wait_for(lambda m: m.topic == f"{base}/reply").payload)
        assert reply["status"] == "ok" and "exits with code 75" in reply["message"]
        assert service.process.wait(20) == RESTART_EXIT_CODE
        # It stopped cleanly and said it was going, so the map shows it offline at once.
        probe.wait_for(lambda m: b'"online":false' in m.payload)
        log = (tmp_path / "gw.log").read_text("utf-8")
        assert "restarting on request (exit code 75)" in log
    finally:
        if service.process is not None and service.process.poll() is None:
            service.stop()
        probe.publish(f"{base}/availability", b"", retain=True)
        probe.close()
        site.scanner.close()
