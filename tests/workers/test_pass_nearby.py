"""What the pass page lists as nearby, and the files that make it installable: over
HTTP, on both databases."""

from __future__ import annotations

from typing import Any

from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.workers.support import bring_online, enroll, fill, pass_secret


def listed(central: RunningCentral, secret: str, **params: Any) -> dict[str, Any]:
    answer = central.http.get(f"/api/pass/{secret}/stations", params=params)
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def test_a_station_pass_lists_its_station_and_open_ones_nearby(
    central: RunningCentral, probe: MqttProbe
) -> None:
    bring_online(central, probe, "cs-0001", "cs-0002", "sz-0001")
    secret = pass_secret(central.http, enroll(central.http, scope="station:cs-0001")["worker_id"])

    # Without the phone's position: measured from the worker's own station, which is
    # named as such, with Yuelu (4 km off) as another place to rest; Shenzhen is too far.
    near = listed(central, secret)
    assert near["sorted_by"] == "station"
    ids = [s["id"] for s in near["stations"]]
    assert ids == ["cs-0001", "cs-0002"]
    home, other = near["stations"]
    assert home["home"] and home["pass_valid"] and home["status"] == "open"
    assert not other["home"] and not other["pass_valid"] and 3 < other["distance_km"] < 5

    # Full, the home station is still listed and says so, after the one with room.
    fill(central, "cs-0001", 12)
    near = listed(central, secret)
    assert [(s["id"], s["status"]) for s in near["stations"]] == [
        ("cs-0002", "open"),
        ("cs-0001", "full"),
    ]

    # From the phone's position in Shenzhen: the station there first, the home one kept.
    near = listed(central, secret, lat=22.52, lon=113.95)
    assert near["sorted_by"] == "position"
    assert [s["id"] for s in near["stations"]] == ["sz-0001", "cs-0001"]
    assert near["stations"][0]["distance_km"] < 2


def test_a_pass_good_anywhere_lists_the_emptiest_first_without_a_position(
    central: RunningCentral, probe: MqttProbe
) -> None:
    bring_online(central, probe, "cs-0001", "cs-0002", "sz-0001")
    fill(central, "sz-0001", 10)
    secret = pass_secret(central.http, enroll(central.http, scope="any")["worker_id"])
    near = listed(central, secret)
    assert near["sorted_by"] == "free"
    assert [s["id"] for s in near["stations"]] == ["cs-0001", "cs-0002", "sz-0001"]
    assert near["stations"][-1]["status"] == "full"
    assert all(s["pass_valid"] and s["distance_km"] is None for s in near["stations"])


def test_the_pass_is_installable(central: RunningCentral) -> None:
    secret = pass_secret(central.http, enroll(central.http)["worker_id"])
    page = central.http.get(f"/pass/{secret}", headers={"Accept": "text/html"})
    manifest_url = f"/pass/{secret}/manifest.webmanifest"
    assert f'<link rel="manifest" href="{manifest_url}">' in page.text
    manifest = central.http.get(manifest_url)
    assert manifest.status_code == 200
    assert manifest.headers["content-type"] == "application/manifest+json"
    assert manifest.headers["referrer-policy"] == "no-referrer"
    body = manifest.json()
    assert body["start_url"] == f"/pass/{secret}" and body["scope"] == "/pass/"
    assert body["display"] == "standalone" and body["icons"]

    worker = central.http.get("/pass/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/pass/"
    assert worker.headers["cache-control"] == "no-cache"
    assert 'addEventListener("fetch"' in worker.text

    # A dead link has no manifest either.
    assert central.http.get(f"/pass/{'x' * 32}/manifest.webmanifest").status_code == 404


def test_a_pass_not_valid_yet_names_its_reason(central: RunningCentral) -> None:
    secret = pass_secret(central.http, enroll(central.http, valid_from="2099-01-01")["worker_id"])
    answer = central.http.get(f"/api/pass/{secret}/tokens")
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["reason"] == "not_yet"
