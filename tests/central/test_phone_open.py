"""Opening a door from a phone, end to end: the door sticker's page, the worker's pass
session, the central's decision, the signed `phone_open` through a real Mosquitto, the
gateway's relay on mock pins and its access event; and every way it is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from contract.payloads import AccessEvent, CredentialKind, Decision
from dashboard.core.config import DoorSettings as CentralDoorSettings
from servicekit.settings import BrokerSettings
from tests.phone.support import (
    DOOR,
    SILENT,
    STATION,
    STATION_LAT,
    STATION_LON,
    PhoneSite,
    run_phone_site,
)
from tests.support.waiting import wait_until


@pytest.fixture()
def site(tmp_path: Path, broker_settings: BrokerSettings, database_url: str) -> Iterator[PhoneSite]:
    """On SQLite, then on PostgreSQL."""
    yield from run_phone_site(tmp_path, broker_settings, database_url)


@pytest.fixture()
def sqlite_site(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[PhoneSite]:
    yield from run_phone_site(tmp_path, broker_settings, f"sqlite:///{tmp_path / 'c.db'}")


def door_path(url: str) -> str:
    return "/door/" + url.rsplit("/door/", 1)[1]


def phone_opens(site: PhoneSite) -> list[dict[str, object]]:
    log = site.central.http.get("/api/audit", params={"limit": 100}).json()
    return [row for row in log if row["action"] == "PHONE_OPEN"]


def test_the_sticker_opens_the_door_as_the_workers_entry(site: PhoneSite) -> None:
    worker_id, secret = site.worker()
    sticker = door_path(site.sticker())
    phone = site.phone(secret)
    cookie = next(c for c in phone.cookies.jar if c.name == "yz_pass")
    assert cookie.path == "/door"
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert (cookie.get_nonstandard_attr("SameSite") or "").lower() == "lax"
    assert not cookie.secure  # the test central has no https public_url

    page = phone.get(sticker, headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'src="/static/pages/door.js"' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    about = phone.get(f"{sticker}/about").json()
    assert about == {
        "station_id": STATION,
        "station_name": "五一广场驿站",
        "door_id": DOOR,
        "has_pass": True,
        "geofence": False,
    }
    seen = len(site.relay_states)
    answer = phone.post(f"{sticker}/open", json={})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "opened", body
    assert body["reason"] == "granted"
    assert site.relay_released_after(seen)

    event = site.events.wait_for(AccessEvent, lambda e: e.credential is CredentialKind.PHONE)
    assert (event.worker_id, event.door_id, event.decision) == (worker_id, DOOR, Decision.GRANTED)
    # The central stores it as the worker's entry and counts them in.
    wait_until(
        lambda: site.central.http.get(f"/api/stations/{STATION}").json()["occupancy"] == 1,
        what="the phone open to count as an entry",
    )
    # The station page lists the sticker, shows its QR code and a page to print it from.
    http = site.central.http
    listed = http.get(f"/api/stations/{STATION}/stickers").json()
    assert [(s["door_id"], door_path(s["url"])) for s in listed] == [(DOOR, sticker)]
    svg = http.get(f"/api/stations/{STATION}/doors/{DOOR}/sticker.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml") and "<svg" in svg.text
    printable = http.get(f"/api/stations/{STATION}/doors/{DOOR}/sticker/print")
    assert "扫码开门" in printable.text and "<svg" in printable.text
    audited = phone_opens(site)
    assert len(audited) == 1
    assert audited[0]["actor"] == worker_id
    assert audited[0]["target"] == f"{STATION}/{DOOR}"
    assert "127.0.0.1" in str(audited[0]["detail"])


def test_a_full_station_refuses_and_the_relay_stays(sqlite_site: PhoneSite) -> None:
    site = sqlite_site
    _, secret = site.worker()
    sticker = door_path(site.sticker())
    site.set_count(5)
    seen = len(site.relay_states)
    body = site.phone(secret).post(f"{sticker}/open", json={}).json()
    assert (body["outcome"], body["reason"]) == ("full", "full")
    assert not site.relay_released_after(seen)
    # Decided at the central: no command went to the gateway.
    commands = site.central.http.get(f"/api/stations/{STATION}/commands").json()
    assert [c for c in commands if c["command"] == "phone_open"] == []


def test_a_rotated_sticker_is_refused_with_a_clear_page(sqlite_site: PhoneSite) -> None:
    site = sqlite_site
    _, secret = site.worker()
    old = door_path(site.sticker())
    new = door_path(site.sticker())
    assert old != new
    phone = site.phone(secret)
    page = phone.get(old, headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "此贴纸已失效" in page.text and "no longer works" in page.text
    seen = len(site.relay_states)
    assert phone.post(f"{old}/open", json={}).status_code == 404
    assert not site.relay_released_after(seen)
    assert phone_opens(site) == []
    assert phone.get(new, headers={"Accept": "text/html"}).status_code == 200


def test_a_phone_without_a_pass_session_sends_nothing(sqlite_site: PhoneSite) -> None:
    site = sqlite_site
    sticker = door_path(site.sticker())
    phone = site.phone(None)
    assert phone.get(f"{sticker}/about").json()["has_pass"] is False
    assert phone.post(f"{sticker}/open", json={}).json()["outcome"] == "no_pass"
    # A revoked pass link ends the session at once.
    worker_id, secret = site.worker()
    phone = site.phone(secret)
    links = site.central.http.get(f"/api/workers/{worker_id}/pass-links").json()
    assert site.central.http.delete(f"/api/pass-links/{links[0]['id']}").status_code == 200
    assert phone.post(f"{sticker}/open", json={}).json()["outcome"] == "no_pass"


def test_a_suspended_workers_phone_no_longer_opens(sqlite_site: PhoneSite) -> None:
    site = sqlite_site
    worker_id, secret = site.worker()
    sticker = door_path(site.sticker())
    phone = site.phone(secret)
    answer = site.central.http.patch(f"/api/workers/{worker_id}", json={"status": "suspended"})
    assert answer.status_code == 200, answer.text
    seen = len(site.relay_states)
    # Suspension ends the pass links, and with them the phone's session.
    assert phone.post(f"{sticker}/open", json={}).json()["outcome"] == "no_pass"
    assert not site.relay_released_after(seen)


def test_a_silent_gateway_gives_no_answer(tmp_path: Path, broker_settings: BrokerSettings) -> None:
    doors = CentralDoorSettings(phone_answer_s=0.5)
    for site in run_phone_site(tmp_path, broker_settings, f"sqlite:///{tmp_path / 'c.db'}", doors):
        _, secret = site.worker()
        sticker = door_path(site.sticker(station=SILENT))
        body = site.phone(secret).post(f"{sticker}/open", json={}).json()
        assert body["outcome"] == "no_answer", body


def test_the_rate_limit_and_the_geofence(tmp_path: Path, broker_settings: BrokerSettings) -> None:
    doors = CentralDoorSettings(phone_opens_per_minute=3, geofence_m=300)
    for site in run_phone_site(tmp_path, broker_settings, f"sqlite:///{tmp_path / 'c.db'}", doors):
        _, secret = site.worker()
        sticker = door_path(site.sticker())
        phone = site.phone(secret)
        assert phone.get(f"{sticker}/about").json()["geofence"] is True
        seen = len(site.relay_states)
        far = phone.post(f"{sticker}/open", json={"lat": STATION_LAT + 0.01, "lon": STATION_LON})
        assert far.json()["outcome"] == "too_far"  # about 1.1 km away
        assert not site.relay_released_after(seen)
        near = phone.post(f"{sticker}/open", json={"lat": STATION_LAT + 0.001, "lon": STATION_LON})
        assert near.json()["outcome"] == "opened"  # about 110 m away
        unshared = phone.post(f"{sticker}/open", json={})
        assert unshared.json()["outcome"] in ("opened", "refused")  # anti-passback is off
        limited = phone.post(f"{sticker}/open", json={})
        assert limited.json()["outcome"] == "rate_limited"
        statuses = [row["status"] for row in phone_opens(site)]
        assert 429 in statuses and 403 in statuses
        # Another worker is not held up by the first one's taps.
        _, other = site.worker(display_name="王芳")
        assert site.phone(other).post(f"{sticker}/open", json={}).json()["outcome"] == "opened"


def test_taps_at_the_same_moment_still_keep_to_the_rate_limit(
    tmp_path: Path, broker_settings: BrokerSettings
) -> None:
    doors = CentralDoorSettings(phone_opens_per_minute=3)
    for site in run_phone_site(tmp_path, broker_settings, f"sqlite:///{tmp_path / 'c.db'}", doors):
        _, secret = site.worker()
        sticker = door_path(site.sticker())
        outcomes = tap_together(site.phone(secret), f"{sticker}/open", 6)
        assert sorted(outcomes).count("rate_limited") == 3, outcomes


def tap_together(phone: httpx.Client, url: str, taps: int) -> list[str]:
    """The outcomes of `taps` posts to `url` let go at the same moment."""
    start = threading.Barrier(taps)

    def tap(_: int) -> str:
        start.wait(10)
        return str(phone.post(url, json={}).json()["outcome"])

    with ThreadPoolExecutor(taps) as pool:
        return list(pool.map(tap, range(taps)))
