"""The station page's gateway controls: an admin adds a gateway and sees its one-time code
and QR code, and removes it; other roles see neither. The central here writes Mosquitto's
password and ACL files (`[provisioning] mode = "password_file"`), the path for brokers
without the dynamic security plugin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from contract.enrollment import normalise_code
from dashboard.core.config import ProvisioningSettings
from servicekit.broker_accounts import AccountKind, account_kind, gateway_acl
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.support.running_central import RunningCentral, run_central
from tests.ui.support import logged_in_page


@pytest.fixture()
def files_central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'central.db'}",
        provisioning=ProvisioningSettings(mode="password_file", password_dir=tmp_path / "mq"),
    )
    yield from run_central(settings, stations=STATIONS)


def test_an_admin_adds_a_gateway_sees_its_code_once_and_removes_it(
    browser: Browser, files_central: RunningCentral, tmp_path: Path
) -> None:
    for role in ("viewer", "operator"):
        page = logged_in_page(browser, files_central, role)
        page.goto(page.url.split("#")[0] + "#station/cs-0001")
        expect(page.locator("#station-gateways li")).to_have_count(1)
        expect(page.locator("#station-provisioning")).to_be_hidden()
        assert page.locator("[data-remove-gateway]").count() == 0
        page.context.close()

    admin = logged_in_page(browser, files_central, "admin")
    admin.goto(admin.url.split("#")[0] + "#station/cs-0001")
    expect(admin.locator("#station-gateways li")).to_have_count(1)
    admin.fill("#add-gateway input[name=gateway_id]", "gw-5")
    admin.click("#add-gateway button[type=submit]")
    expect(admin.locator("#provision-message")).to_have_text("Gateway added")
    expect(admin.locator("#station-gateways li[data-gateway=gw-5]")).to_have_count(1)
    code = admin.locator("#enrollment-code").text_content() or ""
    normalise_code(code)
    expect(admin.locator("#enrollment-command")).to_have_text(
        re.compile(rf"^yizhan gateway enroll {code} --central http://")
    )
    assert (admin.locator("#enrollment-qr").get_attribute("src") or "").startswith(
        "data:image/png;base64,"
    )
    acl = (tmp_path / "mq" / "acl").read_text("utf-8")
    assert account_kind(acl, "cs-0001.gw-5") is AccountKind.GATEWAY
    assert all(line in acl for line in gateway_acl("cs-0001", "gw-5"))
    assert "cs-0001.gw-5:$7$" in (tmp_path / "mq" / "passwd").read_text("utf-8")

    # Adding it again is refused with the reason, until "replace" is ticked.
    admin.fill("#add-gateway input[name=gateway_id]", "gw-5")
    admin.click("#add-gateway button[type=submit]")
    expect(admin.locator("#provision-message")).to_contain_text("replace")

    admin.once("dialog", lambda dialog: dialog.accept())
    admin.click("[data-remove-gateway=gw-5]")
    expect(admin.locator("#provision-message")).to_have_text("Gateway removed")
    expect(admin.locator("#station-gateways li[data-gateway=gw-5]")).to_have_count(0)
    assert account_kind((tmp_path / "mq" / "acl").read_text("utf-8"), "cs-0001.gw-5") is None
    assert "cs-0001.gw-5" not in (tmp_path / "mq" / "passwd").read_text("utf-8")
    # The code shown before no longer works.
    assert files_central.http.post("/api/enroll", json={"code": code}).status_code == 409
    admin.context.close()
