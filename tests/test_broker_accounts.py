"""`yizhan broker add-*`: an account is replaced only by one of its own kind, and names that
a password or ACL file would misread are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from servicekit import broker_accounts
from servicekit.broker_accounts import AccountKind
from yizhan.cli import main


def broker(directory: Path, *args: str) -> int:
    return main(["broker", *args, "--dir", str(directory)])


def hashes(directory: Path) -> dict[str, str]:
    lines = (directory / "passwd").read_text("utf-8").splitlines()
    return {name: digest for name, digest in (line.split(":", 1) for line in lines)}


def test_a_maintainer_cannot_take_over_a_gateway_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert broker(tmp_path, "add-gateway", "--station", "cs-0009", "--gateway", "gw-1") == 0
    before_hashes = hashes(tmp_path)
    before_acl = (tmp_path / "acl").read_text("utf-8")
    capsys.readouterr()

    assert broker(tmp_path, "add-maintainer", "--name", "cs-0009.gw-1") == 2
    assert "no dots" in capsys.readouterr().err
    assert hashes(tmp_path) == before_hashes, "the gateway's password was rotated"
    assert (tmp_path / "acl").read_text("utf-8") == before_acl, "the gateway's ACL changed"


@pytest.mark.parametrize("name", ["alice\r", "ali ce", "al\x00ice", "a:b", "#x", "", "ali.ce"])
def test_names_a_file_would_misread_are_refused(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert broker(tmp_path, "add-viewer", "--name", name) == 2
    assert "must be 1-64 letters" in capsys.readouterr().err
    assert not (tmp_path / "passwd").exists()


def test_the_same_kind_rotates_and_another_kind_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert broker(tmp_path, "add-maintainer", "--name", "alice") == 0
    first = hashes(tmp_path)["alice"]
    assert broker(tmp_path, "add-maintainer", "--name", "alice") == 0
    assert hashes(tmp_path)["alice"] != first, "running it again rotates the password"
    capsys.readouterr()

    assert broker(tmp_path, "add-viewer", "--name", "alice") == 2
    assert "already a maintainer account" in capsys.readouterr().err
    assert "topic write" in (tmp_path / "acl").read_text("utf-8"), "still a maintainer"

    assert broker(tmp_path, "remove", "--name", "alice") == 0
    assert "alice" not in hashes(tmp_path)
    assert broker_accounts.account_kind((tmp_path / "acl").read_text("utf-8"), "alice") is None
    assert broker(tmp_path, "add-viewer", "--name", "alice") == 0
    assert broker(tmp_path, "remove", "--name", "nobody") == 1


def test_blocks_written_before_kinds_were_recorded_are_still_told_apart(tmp_path: Path) -> None:
    (tmp_path / "acl").write_text(
        "# >>> cs-0001.gw-1\nuser cs-0001.gw-1\ntopic write yz/v1/st/cs-0001/gw/gw-1/event/+\n"
        "# <<< cs-0001.gw-1\n\n# >>> wall\nuser wall\ntopic read yz/v1/#\n# <<< wall\n",
        "utf-8",
    )
    text = (tmp_path / "acl").read_text("utf-8")
    assert broker_accounts.account_kind(text, "cs-0001.gw-1") is AccountKind.GATEWAY
    assert broker_accounts.account_kind(text, "wall") is AccountKind.VIEWER
    with pytest.raises(ValueError, match="already a viewer"):
        broker_accounts.add_account(
            tmp_path, "wall", broker_accounts.maintainer_acl(), AccountKind.MAINTAINER
        )
