"""Gateways' broker accounts, made and removed by the central: through Mosquitto's
dynamic security plugin, or in its password and ACL files. `[provisioning] mode` picks.

Both keep the ACL `servicekit.broker_accounts.gateway_acl` defines, so a gateway added
from the dashboard may do exactly what one added with `yizhan broker add-gateway` may.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from dashboard.core.config import ProvisioningSettings
from servicekit.broker_accounts import AccountKind, add_account, remove_account
from servicekit.dynsec import (
    DynsecClient,
    DynsecError,
    create_account_commands,
    remove_account_commands,
    set_password_command,
)
from servicekit.settings import BrokerSettings

log = logging.getLogger(__name__)


class BrokerUnavailableError(Exception):
    """The broker (or its files) could not be changed; nothing was given out."""


class GatewayAccounts(Protocol):
    """Where gateways' broker accounts are kept."""

    def start(self) -> None:
        """Connect, where there is something to connect to."""

    def stop(self) -> None:
        """Disconnect."""

    def create(self, username: str, acl: Sequence[str]) -> None:
        """Make (or make again, replacing) an account nobody knows the password of yet."""

    def set_password(self, username: str, password: str) -> None:
        """Give the account the password an enrolling gateway receives."""

    def remove(self, username: str) -> None:
        """Shut the account out now, disconnecting a client logged in with it."""


class DynsecAccounts:
    """Accounts through the dynamic security plugin: every change is live at once."""

    def __init__(self, broker: BrokerSettings, client_id: str) -> None:
        self.client = DynsecClient(broker, client_id)

    def start(self) -> None:
        """Connect with the admin account."""
        self.client.start()

    def stop(self) -> None:
        """Disconnect."""
        self.client.stop()

    def create(self, username: str, acl: Sequence[str]) -> None:
        """Delete what is left of an earlier account of that name, then make it afresh."""
        try:
            self.client.require(remove_account_commands(username), missing_ok=True)
            self.client.require(create_account_commands(username, acl))
        except DynsecError as exc:
            raise BrokerUnavailableError(str(exc)) from None

    def set_password(self, username: str, password: str) -> None:
        """`setClientPassword`."""
        try:
            self.client.require([set_password_command(username, password)])
        except DynsecError as exc:
            raise BrokerUnavailableError(str(exc)) from None

    def remove(self, username: str) -> None:
        """`disableClient` (which disconnects it), `deleteClient`, `deleteRole`."""
        try:
            self.client.require(remove_account_commands(username), missing_ok=True)
        except DynsecError as exc:
            raise BrokerUnavailableError(str(exc)) from None


class PasswordFileAccounts:
    """Accounts in Mosquitto's password and ACL files, for brokers without the plugin.

    Mosquitto reads the files on reload: `reload_command` runs after each change, and
    until it has, a new password does not work and a removed account stays connected.
    """

    def __init__(self, directory: Path, reload_command: Sequence[str]) -> None:
        self.directory = directory
        self.reload_command = list(reload_command)

    def start(self) -> None:
        """Nothing to connect to."""

    def stop(self) -> None:
        """Nothing to disconnect."""

    def create(self, username: str, acl: Sequence[str]) -> None:
        """Write the account with a random password nobody is told."""
        self._write(lambda: add_account(self.directory, username, list(acl), AccountKind.GATEWAY))

    def set_password(self, username: str, password: str) -> None:
        """Rewrite the account's hash (its ACL block stays as `create` wrote it)."""
        acl_path = self.directory / "acl"
        text = acl_path.read_text("utf-8") if acl_path.exists() else ""
        block = _acl_block(text, username)
        self._write(
            lambda: add_account(self.directory, username, block, AccountKind.GATEWAY, password)
        )

    def remove(self, username: str) -> None:
        """Delete the account's hash and ACL block."""
        self._write(lambda: remove_account(self.directory, username))

    def _write(self, change: Callable[[], object]) -> None:
        try:
            change()
        except (OSError, ValueError) as exc:
            raise BrokerUnavailableError(f"cannot write Mosquitto's files: {exc}") from None
        if self.reload_command:
            result = subprocess.run(
                self.reload_command, capture_output=True, text=True, timeout=30, check=False
            )
            if result.returncode != 0:
                raise BrokerUnavailableError(
                    f"{' '.join(self.reload_command)} failed: {result.stderr.strip()}"
                )


def _acl_block(acl_text: str, username: str) -> list[str]:
    lines: list[str] = []
    inside = False
    for line in acl_text.splitlines():
        if line.startswith(f"# >>> {username} ") or line == f"# >>> {username}":
            inside = True
        elif line == f"# <<< {username}":
            break
        elif inside and line.startswith("topic "):
            lines.append(line)
    return lines


def gateway_accounts(
    settings: ProvisioningSettings, broker: BrokerSettings, central_id: str
) -> GatewayAccounts | None:
    """The accounts of the configured mode; None when provisioning is off."""
    if settings.mode == "dynsec":
        admin = broker.model_copy(
            update={
                "username": settings.admin_username,
                "password": settings.admin_password,
                "client_id": None,
            }
        )
        return DynsecAccounts(admin, f"yz-central-{central_id}-dynsec")
    if settings.mode == "password_file":
        return PasswordFileAccounts(settings.password_dir, settings.reload_command)
    return None
