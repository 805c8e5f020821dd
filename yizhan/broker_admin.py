"""Broker accounts for Mosquitto: password hashes, per-user ACL blocks, and the files.

`yizhan broker add-gateway` and `yizhan broker add-central` call `add_account`, which
writes a user's password hash into Mosquitto's password file and the user's ACL block
into its ACL file, replacing any earlier entry of the same user (so running it again
rotates a password). Mosquitto reads both files at start and on SIGHUP
(`systemctl reload mosquitto`).

A gateway's username is `{station_id}.{gateway_id}` (ids are slugs without dots, so the
split is unambiguous). Its ACL lets it write only under its own station and gateway
and read only its own commands and the centrals' availability.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from contract.payloads import SLUG_PATTERN
from contract.topics import (
    ALL_CENTRALS,
    KEYS_TOPIC,
    REVOCATIONS_TOPIC,
    ROOT,
    credentials_topic,
    occupancy_topic,
)

PBKDF2_ITERATIONS = 101
"""What `mosquitto_passwd` uses for its `$7$` (PBKDF2-SHA512) hashes."""

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"

_SLUG = re.compile(SLUG_PATTERN)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A Mosquitto `$7$` hash: PBKDF2-SHA512, 101 iterations, 12-byte salt, base64."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    return (
        f"$7${PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def gateway_username(station_id: str, gateway_id: str) -> str:
    """`station.gateway`, after checking both are slugs."""
    for name, value in (("station id", station_id), ("gateway id", gateway_id)):
        if not _SLUG.match(value):
            raise ValueError(f"{name} {value!r} must be a lower-case slug (a-z, 0-9, - and _)")
    return f"{station_id}.{gateway_id}"


def gateway_acl(
    station_id: str, gateway_id: str, home_assistant_prefix: str = "homeassistant"
) -> list[str]:
    """What one gateway may do: write its own events, availability, replies, reported
    config, health and Home Assistant discovery; read its own commands and desired config,
    the centrals' availability, its station's occupancy and the credentials it decides by."""
    own = f"{ROOT}/st/{station_id}/gw/{gateway_id}"
    return [
        f"topic write {own}/event/+",
        f"topic write {own}/availability",
        f"topic write {own}/reply",
        f"topic write {own}/reply/#",
        f"topic write {own}/config/reported",
        f"topic write {own}/health",
        f"topic read {own}/command",
        f"topic read {own}/config/desired",
        f"topic read {occupancy_topic(station_id)}",
        f"topic write {home_assistant_prefix}/+/yz_{station_id}_{gateway_id}/+/config",
        f"topic read {home_assistant_prefix}/status",
        f"topic read {ALL_CENTRALS}",
        f"topic read {KEYS_TOPIC}",
        f"topic read {REVOCATIONS_TOPIC}",
        f"topic read {credentials_topic(station_id)}",
    ]


def central_acl(central_id: str) -> list[str]:
    """What a central replica may do: read everything gateways say, publish occupancy,
    commands, credentials and its own availability."""
    if not _SLUG.match(central_id):
        raise ValueError(f"central id {central_id!r} must be a lower-case slug")
    return [
        f"topic read {ROOT}/st/+/gw/+/event/+",
        f"topic read {ROOT}/st/+/gw/+/availability",
        f"topic read {ROOT}/st/+/gw/+/reply/#",
        f"topic read {ROOT}/st/+/gw/+/reply",
        f"topic write {ROOT}/st/+/occupancy",
        f"topic write {ROOT}/st/+/gw/+/command",
        f"topic write {ROOT}/st/+/gw/+/config/desired",
        f"topic read {ROOT}/st/+/gw/+/config/reported",
        f"topic read {ROOT}/st/+/gw/+/health",
        f"topic write {KEYS_TOPIC}",
        f"topic write {REVOCATIONS_TOPIC}",
        f"topic write {ROOT}/st/+/credentials",
        f"topic readwrite {ROOT}/central/{central_id}/availability",
    ]


def maintainer_acl() -> list[str]:
    """A person with `mosquitto_sub`/`mosquitto_pub`: read everything, send commands and
    desired config."""
    return [
        f"topic read {ROOT}/#",
        f"topic write {ROOT}/st/+/gw/+/command",
        f"topic write {ROOT}/st/+/gw/+/config/desired",
    ]


def viewer_acl() -> list[str]:
    """Someone who watches (a wall display, a support desk): read everything, write nothing."""
    return [f"topic read {ROOT}/#"]


@dataclass(frozen=True, slots=True)
class Account:
    """A new or rotated broker account; the password is shown once and not stored."""

    username: str
    password: str


def add_account(
    directory: Path, username: str, acl: list[str], password: str | None = None
) -> Account:
    """Write (or replace) `username`'s password hash and ACL block in `directory`."""
    if not username or any(c in username for c in ":\n# ") or len(username) > 128:
        raise ValueError(f"username {username!r} may not contain ':', '#', spaces or newlines")
    password = password or secrets.token_urlsafe(24)
    directory.mkdir(parents=True, exist_ok=True)
    passwd = directory / PASSWORD_FILE
    lines = passwd.read_text("utf-8").splitlines() if passwd.exists() else []
    lines = [line for line in lines if line.split(":", 1)[0] != username]
    lines.append(f"{username}:{hash_password(password)}")
    _write_private(passwd, "\n".join(lines) + "\n")

    acl_path = directory / ACL_FILE
    text = acl_path.read_text("utf-8") if acl_path.exists() else ""
    begin, end = f"# >>> {username}", f"# <<< {username}"
    text = re.sub(rf"\n?{re.escape(begin)}\n.*?{re.escape(end)}\n", "\n", text, flags=re.S)
    block = "\n".join([begin, f"user {username}", *acl, end])
    text = text.strip("\n")
    _write_private(acl_path, (text + "\n\n" if text else "") + block + "\n")
    return Account(username, password)


def _write_private(path: Path, text: str) -> None:
    # Written beside and renamed over, so Mosquitto never reads half a file; the
    # hashes are secrets worth guarding, so only the owner (and group) may read.
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o640)
    temporary.replace(path)
