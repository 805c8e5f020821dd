"""Mosquitto's dynamic security plugin: accounts and ACLs changed at run time over MQTT.

An admin account publishes JSON commands (`createClient`, `createRole`, `addRoleACL`,
`setClientPassword`, `disableClient`, `deleteClient`, ...) on
`$CONTROL/dynamic-security/v1` and reads the answers on `.../response`; the broker
applies them at once, writes its JSON file, and disconnects a client whose account is
disabled or deleted. Nothing needs a reload, unlike the password and ACL files
(`servicekit.broker_accounts`).

The command builders here are pure; `DynsecClient` is the one piece that talks to the
broker, through `MqttLink` like every other connection.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Sequence
from typing import Any

from servicekit.mqtt_link import Message, MqttLink
from servicekit.settings import BrokerSettings

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"

Command = dict[str, Any]


class DynsecError(Exception):
    """The broker refused a command, or did not answer in time."""


def role_acls(acl_lines: Sequence[str]) -> list[Command]:
    """The plugin's ACL entries for the lines of an ACL file block (`topic read X`,
    `topic write X`, `topic readwrite X`): reading is a subscription the broker allows and
    messages it delivers, writing is a publish it accepts. The plugin's default already
    delivers what a client may subscribe to, so a read needs only its subscription."""
    entries: list[Command] = []
    for line in acl_lines:
        words = line.split(maxsplit=2)
        if len(words) != 3 or words[0] != "topic" or words[1] not in ("read", "write", "readwrite"):
            raise ValueError(f"not an ACL line this translates: {line!r}")
        access, topic = words[1], words[2]
        if access in ("read", "readwrite"):
            entries.append({"acltype": "subscribePattern", "topic": topic, "allow": True})
            entries.append({"acltype": "publishClientReceive", "topic": topic, "allow": True})
        if access in ("write", "readwrite"):
            entries.append({"acltype": "publishClientSend", "topic": topic, "allow": True})
    return entries


def create_account_commands(username: str, acl_lines: Sequence[str]) -> list[Command]:
    """Commands that make `username` with a role of the same name holding `acl_lines`.

    Its password is random and shown to nobody: the account works only once
    `setClientPassword` gives it one that someone knows."""
    return [
        {"command": "createRole", "rolename": username},
        *(
            {"command": "addRoleACL", "rolename": username, **entry}
            for entry in role_acls(acl_lines)
        ),
        {
            "command": "createClient",
            "username": username,
            "password": secrets.token_urlsafe(32),
            "roles": [{"rolename": username}],
        },
    ]


def remove_account_commands(username: str) -> list[Command]:
    """Commands that shut `username` out at once (a disabled client is disconnected) and
    then delete its account and role."""
    return [
        {"command": "disableClient", "username": username},
        {"command": "deleteClient", "username": username},
        {"command": "deleteRole", "rolename": username},
    ]


def set_password_command(username: str, password: str) -> Command:
    """Give `username` a new password (its sessions keep running until they reconnect)."""
    return {"command": "setClientPassword", "username": username, "password": password}


def is_missing(error: str) -> bool:
    """Whether a refusal only says the client or role is not there (harmless when deleting)."""
    return "not found" in error.lower()


class DynsecClient:
    """Sends command batches to the plugin and waits for each batch's answers.

    One connection with the broker's admin account; batches run one at a time.
    """

    def __init__(self, broker: BrokerSettings, client_id: str) -> None:
        self._answers: dict[str, list[Command]] = {}
        self._waiting: set[str] = set()
        self._arrived = threading.Condition()
        self._one_at_a_time = threading.Lock()
        self.link = MqttLink(
            client_id,
            broker,
            subscriptions=[(RESPONSE_TOPIC, 1)],
            on_message=self._answer,
            clean_session=True,
        )

    def start(self) -> None:
        """Connect in the background."""
        self.link.start()

    def stop(self) -> None:
        """Disconnect."""
        self.link.stop()

    def run(self, commands: Sequence[Command], timeout: float = 10.0) -> list[Command]:
        """Send `commands` as one batch; the broker's answer to each, in order (an answer
        with `error` is a refusal). `DynsecError` if the broker is unreachable or silent."""
        if not commands:
            return []
        batch = uuid.uuid4().hex
        tagged = [{**c, "correlationData": f"{batch}:{i}"} for i, c in enumerate(commands)]
        with self._one_at_a_time:
            with self._arrived:
                self._waiting.add(batch)
            try:
                return self._send(batch, tagged, timeout)
            finally:
                with self._arrived:
                    self._waiting.discard(batch)
                    self._answers.pop(batch, None)

    def _send(self, batch: str, tagged: list[Command], timeout: float) -> list[Command]:
        if not self.link.wait_connected(timeout):
            raise DynsecError("the broker's dynamic security plugin cannot be reached")
        payload = json.dumps({"commands": tagged}).encode()
        self.link.publish_as(CONTROL_TOPIC, payload, qos=1, retain=False)
        with self._arrived:
            if not self._arrived.wait_for(lambda: batch in self._answers, timeout):
                raise DynsecError("the broker did not answer a dynamic security command")
            return self._answers[batch]

    def require(self, commands: Sequence[Command], missing_ok: bool = False) -> None:
        """Run `commands`; `DynsecError` naming the first refusal (one that only says the
        account is not there counts as done with `missing_ok`)."""
        for command, answer in zip(commands, self.run(commands), strict=True):
            error = answer.get("error")
            if error and not (missing_ok and is_missing(str(error))):
                raise DynsecError(f"{command['command']} refused by the broker: {error}")

    def _answer(self, message: Message) -> None:
        try:
            responses = json.loads(message.payload)["responses"]
            batch = str(responses[0]["correlationData"]).partition(":")[0]
        except (ValueError, KeyError, IndexError, TypeError):
            return  # another admin's answer, without our correlation
        with self._arrived:
            if batch in self._waiting:
                self._answers[batch] = list(responses)
                self._arrived.notify_all()
