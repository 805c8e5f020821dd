"""What ships in deploy/: units systemd accepts, scripts shellcheck passes, and a gateway
that tells systemd it is ready and keeps its watchdog fed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.mosquitto import MosquittoBroker

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
SCRIPTS = [ROOT / "deploy" / "install.sh", *sorted((ROOT / "scripts").iterdir()), ROOT / ".ci/run"]


def require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is required: apt-get install -y {package} (scripts/test does this)"
    return path


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    analyze = require("systemd-analyze", "systemd")
    # verify checks that ExecStart exists: point it at this checkout's yizhan.
    yizhan = Path(sys.executable).parent / "yizhan"
    text = unit.read_text("utf-8").replace("/opt/yizhan/venv/bin/yizhan", str(yizhan))
    copy = tmp_path / unit.name
    copy.write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "yizhan" not in result.stderr, result.stderr
    assert "Type=notify" in text and "WatchdogSec=" in text and "Restart=always" in text


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_passes(script: Path) -> None:
    shellcheck = require("shellcheck", "shellcheck")
    result = subprocess.run(
        [shellcheck, "-x", str(script)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stdout


def test_the_gateway_notifies_systemd_and_feeds_the_watchdog(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(notify_path))
        listener.settimeout(20)
        # A board without serial devices: with the shipped profile the gateway would first
        # wait ten seconds for scanners that are not plugged in here.
        board = tmp_path / "board.toml"
        board.write_text(
            '[board]\nmodel = "watchdog test"\n\n[[doors]]\nid = "main"\n'
            '[doors.relay]\npin = 17\npolarity = "fail_safe"\n[doors.contact]\npin = 27\n',
            encoding="utf-8",
        )
        config = tmp_path / "gateway.toml"
        config.write_text(
            f'station_id = "cs-0001"\ngateway_id = "gw-1"\nprofile = "{board}"\n'
            f'[broker]\nurl = "{mosquitto.url}"\n',
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(notify_path),
            "WATCHDOG_USEC": "200000",
            "GPIOZERO_PIN_FACTORY": "mock",
        }
        gateway = subprocess.Popen(
            [sys.executable, "-m", "yizhan.cli", "gateway", "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            seen: list[str] = []
            while seen.count("WATCHDOG=1") < 3:
                seen.append(listener.recv(1024).decode())
            assert seen[0] == "READY=1"
            gateway.send_signal(signal.SIGTERM)
            while seen[-1] != "STOPPING=1":
                seen.append(listener.recv(1024).decode())
            assert gateway.wait(20) == 0
        finally:
            if gateway.poll() is None:
                gateway.kill()
                gateway.wait()
