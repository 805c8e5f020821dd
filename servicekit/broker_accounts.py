"""Broker accounts for Mosquitto: who may do what (the ACLs), password hashes, and the files.

`yizhan broker add-gateway` and `yizhan broker add-central` call `add_account`, which
writes a user's password hash into Mosquitto's password file and the user's ACL block
into its ACL file, replacing any earlier entry of the same user (so running it again
rotates a password). Mosquitto reads both files at start and on SIGHUP
(`systemctl reload mosquitto`).

A gateway's username is `{station_id}.{gateway_id}` (ids are slugs without dots, so the
split is unambiguous), a central's `central.{central_id}`; a person's (maintainer or
viewer) has no dot, so it can never name a gateway or a central. Each ACL block records
its account's kind, and an account is only ever replaced by one of the same kind: adding
a maintainer can rotate that maintainer's password, never a gateway's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from contract.payloads import SLUG_PATTERN
from contract.topics import (
    ALL_CENTRAL_CLOCKS,
    ALL_CENTRALS,
    KEYS_TOPIC,
    REVOCATIONS_TOPIC,
    ROOT,
    clock_topic,
    credentials_topic,
    occupancy_topic,
)
from contract.topics import home_assistant_node_id as node_id

PBKDF2_ITERATIONS = 101
"""What `mosquitto_passwd` uses for its `$7$` (PBKDF2-SHA512) hashes."""

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"

_SLUG = re.compile(SLUG_PATTERN)
_PERSON = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class AccountKind(StrEnum):
    """Who a broker account is for; it decides the ACL and who may replace the account."""

    GATEWAY = "gateway"
    CENTRAL = "central"
    MAINTAINER = "maintainer"
    VIEWER = "viewer"


def person_username(name: str) -> str:
    """A maintainer's or viewer's username, after checking it cannot name a gateway or a
    central (no dot) and holds nothing a password or ACL file would misread."""
    if not _PERSON.match(name):
        raise ValueError(
            f"name {name!r} must be 1-64 letters, digits, '-' or '_' (no dots, spaces or "
            "control characters), starting with a letter or digit"
        )
    return name


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
    config, health and Home Assistant discovery; read its own commands, desired config and
    stored mark, the centrals' availability and clock ticks, its station's occupancy, its
    station's access events and the credentials it decides by. It may not write a stored
    mark, not even its own: a mark makes a gateway delete events, so only a central may
    say one."""
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
        f"topic read {own}/stored",
        f"topic read {occupancy_topic(station_id)}",
        # The station's grants, so a token used at one of its gateways is used at all.
        f"topic read {ROOT}/st/{station_id}/gw/+/event/access",
        f"topic write {home_assistant_prefix}/+/{node_id(station_id, gateway_id)}/+/config",
        f"topic read {home_assistant_prefix}/status",
        f"topic read {ALL_CENTRALS}",
        f"topic read {ALL_CENTRAL_CLOCKS}",
        f"topic read {KEYS_TOPIC}",
        f"topic read {REVOCATIONS_TOPIC}",
        f"topic read {credentials_topic(station_id)}",
    ]


def central_acl(central_id: str) -> list[str]:
    """What a central replica may do: read everything gateways say (the events and health
    reports also through a shared subscription, in any group), publish occupancy, stored
    marks, commands, credentials, its own availability and its clock ticks."""
    if not _SLUG.match(central_id):
        raise ValueError(f"central id {central_id!r} must be a lower-case slug")
    return [
        f"topic read {ROOT}/st/+/gw/+/event/+",
        # Replicas share events and health through `$share/<group>/...`. The ACL file lets every
        # subscription through and checks deliveries on the real topic, so it needs only
        # the line above; the dynamic security plugin checks the SUBSCRIBE with its
        # `$share/<group>/` prefix, which no pattern without a leading `$` matches.
        f"topic read $share/+/{ROOT}/st/+/gw/+/event/+",
        f"topic read {ROOT}/st/+/gw/+/availability",
        f"topic read {ROOT}/st/+/gw/+/reply/#",
        f"topic read {ROOT}/st/+/gw/+/reply",
        f"topic write {ROOT}/st/+/occupancy",
        f"topic write {ROOT}/st/+/gw/+/stored",
        f"topic write {ROOT}/st/+/gw/+/command",
        f"topic write {ROOT}/st/+/gw/+/config/desired",
        f"topic read {ROOT}/st/+/gw/+/config/reported",
        f"topic read {ROOT}/st/+/gw/+/health",
        f"topic read $share/+/{ROOT}/st/+/gw/+/health",
        f"topic write {KEYS_TOPIC}",
        f"topic write {REVOCATIONS_TOPIC}",
        f"topic write {ROOT}/st/+/credentials",
        f"topic readwrite {ROOT}/central/{central_id}/availability",
        f"topic write {clock_topic(central_id)}",
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
    directory: Path,
    username: str,
    acl: list[str],
    kind: AccountKind,
    password: str | None = None,
) -> Account:
    """Write (or, for an account of the same kind, replace) `username`'s password hash and
    ACL block in `directory`; `ValueError` if the name is unsafe or taken by another kind."""
    if (
        not username
        or len(username) > 128
        or any(c in ":#" or c.isspace() or not c.isprintable() for c in username)
    ):
        raise ValueError(
            f"username {username!r} may not contain ':', '#', spaces or control characters"
        )
    acl_path = directory / ACL_FILE
    text = acl_path.read_text("utf-8") if acl_path.exists() else ""
    existing = account_kind(text, username)
    if existing is not None and existing != kind:
        raise ValueError(
            f"{username!r} is already a {existing} account; adding a {kind} of that name "
            f"would replace its password and ACL (remove it with "
            f"`yizhan broker remove --name {username}` first, or pick another name)"
        )
    password = password or secrets.token_urlsafe(24)
    directory.mkdir(parents=True, exist_ok=True)
    _write_passwords(directory, username, f"{username}:{hash_password(password)}")
    block = "\n".join([f"# >>> {username} kind={kind}", f"user {username}", *acl, _end(username)])
    text = _without_block(text, username).strip("\n")
    _write_private(acl_path, (text + "\n\n" if text else "") + block + "\n")
    return Account(username, password)


def remove_account(directory: Path, username: str) -> bool:
    """Delete `username`'s password hash and ACL block; whether there was one."""
    acl_path = directory / ACL_FILE
    text = acl_path.read_text("utf-8") if acl_path.exists() else ""
    passwd = directory / PASSWORD_FILE
    known = account_kind(text, username) is not None or (
        passwd.exists()
        and any(
            line.split(":", 1)[0] == username for line in passwd.read_text("utf-8").splitlines()
        )
    )
    if known:
        _write_passwords(directory, username, None)
        _write_private(acl_path, _without_block(text, username).strip("\n") + "\n")
    return known


def account_kind(acl_text: str, username: str) -> AccountKind | None:
    """The kind of `username`'s account in an ACL file's text, None if it has none.

    Blocks written before kinds were recorded are told apart by their name's shape and by
    whether they may write anything."""
    match = re.search(
        rf"^# >>> {re.escape(username)}(?: kind=(\w+))?\n(.*?)^{re.escape(_end(username))}$",
        acl_text,
        flags=re.S | re.M,
    )
    if match is None:
        return None
    if match.group(1) in set(AccountKind):
        return AccountKind(match.group(1))
    if "." in username:
        return AccountKind.CENTRAL if username.startswith("central.") else AccountKind.GATEWAY
    return AccountKind.MAINTAINER if "topic write" in match.group(2) else AccountKind.VIEWER


def _end(username: str) -> str:
    return f"# <<< {username}"


def _without_block(acl_text: str, username: str) -> str:
    return re.sub(
        rf"\n?^# >>> {re.escape(username)}(?: kind=\w+)?\n.*?^{re.escape(_end(username))}\n",
        "\n",
        acl_text,
        flags=re.S | re.M,
    )


def _write_passwords(directory: Path, username: str, line: str | None) -> None:
    passwd = directory / PASSWORD_FILE
    lines = passwd.read_text("utf-8").splitlines() if passwd.exists() else []
    lines = [kept for kept in lines if kept.split(":", 1)[0] != username]
    if line is not None:
        lines.append(line)
    _write_private(passwd, "\n".join(lines) + "\n" if lines else "")


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed over, so Mosquitto never reads half a file; the
    # hashes are secrets worth guarding, so only the owner (and group) may read.
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o640)
    temporary.replace(path)
