"""`yizhan broker add-gateway`: Mosquitto-format hashes, one ACL block per user, rotation."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

from servicekit.broker_accounts import hash_password


def test_hashes_are_mosquittos_pbkdf2_sha512_format() -> None:
    text = hash_password("secret", salt=b"0123456789ab")
    _, seven, iterations, salt, digest = text.split("$")
    assert (seven, iterations, base64.b64decode(salt)) == ("7", "101", b"0123456789ab")
    expected = hashlib.pbkdf2_hmac("sha512", b"secret", b"0123456789ab", 101)
    assert base64.b64decode(digest) == expected


def add(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yizhan.cli", "broker", *args, "--dir", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_adding_twice_rotates_the_password_and_keeps_one_acl_block(tmp_path: Path) -> None:
    first = add(tmp_path, "add-gateway", "--station", "cs-0001", "--gateway", "gw-1")
    assert first.returncode == 0, first.stderr
    add(tmp_path, "add-gateway", "--station", "cs-0002", "--gateway", "gw-1")
    second = add(tmp_path, "add-gateway", "--station", "cs-0001", "--gateway", "gw-1")
    assert "username = 'cs-0001.gw-1'" in second.stdout
    assert first.stdout != second.stdout, "a new password each time"
    passwd = (tmp_path / "passwd").read_text().splitlines()
    assert [line.split(":")[0] for line in passwd] == ["cs-0002.gw-1", "cs-0001.gw-1"]
    acl = (tmp_path / "acl").read_text()
    assert acl.count("user cs-0001.gw-1") == 1
    assert "topic write yz/v1/st/cs-0002/gw/gw-1/event/+" in acl
    assert (tmp_path / "passwd").stat().st_mode & 0o007 == 0, "no one else may read hashes"


def test_a_bad_id_is_a_clear_error(tmp_path: Path) -> None:
    result = add(tmp_path, "add-gateway", "--station", "CS 1", "--gateway", "gw-1")
    assert result.returncode == 2
    assert "lower-case slug" in result.stderr
    assert not (tmp_path / "passwd").exists()
