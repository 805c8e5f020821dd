"""Mosquitto with the dynamic security plugin, run from the shipped
`deploy/mosquitto/dynsec.conf` with only its ports and file paths changed.

The plugin's file is made by `mosquitto_ctrl dynsec init`, as docs/security.md says, with
an admin account; `add_account` gives the test's central (or anyone) an account with the
ACL lines it would have in the ACL file.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from servicekit.dynsec import DynsecClient, create_account_commands, set_password_command
from servicekit.settings import BrokerSettings
from tests.support.mosquitto import INSTALL_HINT, free_port, run_as_current_user, wait_for_port
from tests.support.tls import make_tls

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "dynsec.conf"
ADMIN = "yizhan-admin"


def plugin_path() -> Path:
    """Where Debian's mosquitto package put the plugin."""
    listing = subprocess.run(
        ["dpkg", "-L", "mosquitto"], capture_output=True, text=True, check=False
    ).stdout
    for line in listing.splitlines():
        if line.endswith("mosquitto_dynamic_security.so"):
            return Path(line)
    raise RuntimeError("the dynamic security plugin was not found: " + INSTALL_HINT)


@dataclass
class DynsecBroker:
    """A running broker with the plugin, a plain listener and a TLS one."""

    directory: Path
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=lambda: uuid.uuid4().hex)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The plain listener."""
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        """The TLS listener, by the name its certificate carries."""
        return f"mqtts://localhost:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the broker's certificate."""
        return self.directory / "tls" / "ca.crt"

    def start(self) -> None:
        """Make the plugin's file and the certificates, and start the broker."""
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        assert Path(binary).exists(), INSTALL_HINT
        make_tls(self.directory / "tls")
        state = self.directory / "dynamic-security.json"
        subprocess.run(
            ["mosquitto_ctrl", "dynsec", "init", str(state), ADMIN, self.admin_password],
            check=True,
            capture_output=True,
        )
        config = SHIPPED.read_text("utf-8")
        for old, new in (
            ("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so", str(plugin_path())),
            ("/var/lib/mosquitto/dynamic-security.json", str(state)),
            ("/etc/mosquitto/yizhan/", f"{self.directory}/"),
            ("/var/lib/mosquitto/", f"{self.directory}/"),
            ("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1"),
            ("listener 8883", f"listener {self.tls_port} 127.0.0.1"),
        ):
            assert old in config, f"the shipped dynsec config no longer has {old!r}"
            config = config.replace(old, new)
        path = self.directory / "mosquitto.conf"
        path.write_text(config + "log_dest stderr\n" + run_as_current_user(), encoding="utf-8")
        with (self.directory / "mosquitto.log").open("ab") as log:
            self.process = subprocess.Popen([binary, "-c", str(path)], stdout=log, stderr=log)
        if not (wait_for_port(self.port, 10) and wait_for_port(self.tls_port, 10)):
            self.stop()
            raise RuntimeError((self.directory / "mosquitto.log").read_text())

    def admin(self) -> BrokerSettings:
        """The plugin's admin account on the plain listener."""
        return BrokerSettings(url=self.url, username=ADMIN, password=self.admin_password)

    def add_account(self, username: str, acl: Sequence[str]) -> BrokerSettings:
        """An account with `acl` (ACL file lines) and a known password; its settings."""
        password = uuid.uuid4().hex
        client = DynsecClient(self.admin(), f"test-admin-{uuid.uuid4().hex[:6]}")
        client.start()
        try:
            client.require(create_account_commands(username, acl))
            client.require([set_password_command(username, password)])
        finally:
            client.stop()
        return BrokerSettings(url=self.url, username=username, password=password)

    def stop(self) -> None:
        """Stop the broker."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
