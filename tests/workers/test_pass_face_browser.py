"""Withdrawing face consent on the pass page, in a real headless Chromium: the page lists
the terminals that hold the worker's face, the button asks, withdraws, and the central
sends the gateway the removal."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Dialog, expect

from tests.central.support import Gateway
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.workers.support import enroll


def test_the_worker_sees_where_their_face_is_kept_and_withdraws(
    browser: Browser, central: RunningCentral, probe: MqttProbe
) -> None:
    worker = enroll(central.http, scope="station:cs-0001")
    worker_id = worker["worker_id"]
    link = central.http.post(f"/api/workers/{worker_id}/pass-links").json()
    Gateway(probe).face_paired("zk-main", worker_id)
    wait_until(
        lambda: central.http.get(f"/api/workers/{worker_id}/faces").json(), 10, "the pairing"
    )

    page = browser.new_page(viewport={"width": 412, "height": 915})
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    try:
        page.goto(link["url"])
        expect(page.locator("#face")).to_be_visible(timeout=10_000)
        expect(page.locator("#face-list li")).to_contain_text("cs-0001")
        expect(page.locator("#face-list li")).to_contain_text("zk-main")
        page.click("#face-withdraw")
        expect(page.locator("#face-status")).to_contain_text("已撤回同意")
        expect(page.locator("#face-list li")).to_contain_text("正在删除")
        expect(page.locator("#face-withdraw")).to_be_hidden()
        assert asked and "通行码仍可正常使用" in asked[0]
    finally:
        page.close()
    sent = probe.wait_for(
        lambda m: (
            m.topic == "yz/v1/st/cs-0001/gw/gw-1/command"
            and json.loads(m.payload)["command"] == "face_person_remove"
        )
    )
    assert json.loads(sent.payload)["args"]["cause"] == "withdrawn"
    rows = central.http.get(f"/api/workers/{worker_id}/faces").json()
    assert [r["state"] for r in rows] == ["removal_pending"]
