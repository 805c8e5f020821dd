"""`yizhan demo` as a child process, as a person would start it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


class DemoProcess:
    """Starts `yizhan demo` with the given arguments and reads its output as it comes."""

    def __init__(self, args: list[str], workdir: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "yizhan.cli", "demo", *args],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 30) -> str:
        """The first output line containing `text`; fails with the output so far."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if text in line:
                return line
        raise AssertionError(f"demo never printed {text!r}; output:\n{''.join(self.output)}")

    def terminate(self, timeout: float = 30) -> int:
        """Send SIGTERM and return the exit code; a demo that does not stop within
        `timeout` is killed, and the failure shows what it printed while stopping."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
            tail = "".join(self.output[-40:])
            raise AssertionError(
                f"demo did not stop within {timeout:g} s of SIGTERM; its last output:\n{tail}"
            ) from None
