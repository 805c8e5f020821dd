"""`yizhan central` and `yizhan gateway` as child processes, to be stopped, killed and restarted."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


class ServiceProcess:
    """One `python -m yizhan.cli KIND --config FILE` process; its output goes to `log`."""

    def __init__(self, kind: str, config: Path, log: Path, ready: str) -> None:
        self.kind = kind
        self.config = config
        self.log = log
        self.ready = ready
        self.process: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str] = queue.Queue()

    def start(self, timeout: float = 30) -> None:
        """Start and return once the service prints its ready line."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "GPIOZERO_PIN_FACTORY": "mock"}
        self._lines = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "yizhan.cli", self.kind, "--config", str(self.config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._pump, args=(self.process, self._lines), daemon=True).start()
        self._wait_for(self.ready, timeout)

    def _pump(self, process: subprocess.Popen[str], lines: queue.Queue[str]) -> None:
        assert process.stdout is not None
        with self.log.open("a", encoding="utf-8") as out:
            for line in process.stdout:
                out.write(line)
                out.flush()
                lines.put(line)
        lines.put("")

    def _wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if text in line:
                return
            if line == "":
                break
        raise AssertionError(f"{self.kind} never printed {text!r}; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, like a power cut of the process."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self.process = None
        return code
