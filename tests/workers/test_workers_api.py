"""Workers through the HTTP API: enroll, read, change, suspend, revoke, erase."""

from __future__ import annotations

import itertools
import re

from tests.support.running_central import RunningCentral
from tests.workers.support import enroll


def test_enroll_read_and_list(central: RunningCentral) -> None:
    created = enroll(
        central.http,
        groups=["delivery", "night"],
        valid_from="2026-01-01",
        valid_until="2026-12-31",
        scope="region:430100",
        face_ids=["F-1001"],
        card_numbers=["0012345678"],
    )
    assert re.fullmatch(r"w[1-9]\d*", created["worker_id"])
    assert created["status"] == "active"
    # Dates alone are days in Asia/Shanghai; "until 31 December" includes that day.
    assert created["valid_from"] == "2025-12-31T16:00:00Z"
    assert created["valid_until"] == "2026-12-31T16:00:00Z"
    assert created["card_numbers"] == ["12345678"]  # as card readers report it
    fetched = central.http.get(f"/api/workers/{created['worker_id']}").json()
    assert fetched == created
    listed = central.http.get("/api/workers").json()
    assert [w["worker_id"] for w in listed] == [created["worker_id"]]


def test_worker_numbers_are_random_not_sequential(central: RunningCentral) -> None:
    numbers = [int(enroll(central.http)["worker_id"][1:]) for _ in range(5)]
    steps = {b - a for a, b in itertools.pairwise(numbers)}
    assert steps != {1}
    assert len(set(numbers)) == 5


def test_bad_input_is_a_json_error_naming_each_field(central: RunningCentral) -> None:
    response = central.http.post(
        "/api/workers",
        json={"display_name": "", "platform": "uber", "scope": "city:changsha", "extra": 1},
    )
    assert response.status_code == 422
    columns = {error["column"] for error in response.json()["errors"]}
    assert columns == {"display_name", "platform", "scope", "extra"}
    assert central.http.post("/api/workers", content=b"{").status_code == 422
    assert central.http.post("/api/workers", json=[1]).status_code == 422
    window = central.http.post(
        "/api/workers",
        json={
            "display_name": "a",
            "platform": "didi",
            "valid_from": "2026-02-01",
            "valid_until": "2026-01-01",
        },
    )
    assert window.status_code == 422
    assert "after valid_from" in window.text


def test_unknown_workers_and_ids_are_404(central: RunningCentral) -> None:
    for worker_id in ("w12345", "bob", "w012", "w99999999999"):
        response = central.http.get(f"/api/workers/{worker_id}")
        assert response.status_code == 404, worker_id
        assert "detail" in response.json()


def test_a_card_or_face_belongs_to_one_worker(central: RunningCentral) -> None:
    first = enroll(central.http, card_numbers=["777"], face_ids=["F-7"])
    response = central.http.post(
        "/api/workers", json={"display_name": "b", "platform": "eleme", "card_numbers": ["777"]}
    )
    assert response.status_code == 409
    assert first["worker_id"] in response.json()["errors"][0]["problem"]
    # Giving it to the same worker again is no conflict.
    again = central.http.patch(f"/api/workers/{first['worker_id']}", json={"card_numbers": ["777"]})
    assert again.status_code == 200, again.text


def test_a_station_scope_needs_a_known_numbered_station(central: RunningCentral) -> None:
    response = central.http.post(
        "/api/workers", json={"display_name": "a", "platform": "didi", "scope": "station:nowhere"}
    )
    assert response.status_code == 409
    assert "unknown station" in response.text
    ok = enroll(central.http, scope="station:cs-0002")
    assert ok["scope"] == "station:cs-0002"


def test_suspend_and_reactivate_but_revocation_is_final(central: RunningCentral) -> None:
    worker_id = enroll(central.http)["worker_id"]
    suspended = central.http.patch(f"/api/workers/{worker_id}", json={"status": "suspended"})
    assert suspended.json()["status"] == "suspended"
    active = central.http.patch(f"/api/workers/{worker_id}", json={"status": "active"})
    assert active.json()["status"] == "active"
    revoked = central.http.post(f"/api/workers/{worker_id}/revoke")
    assert revoked.json()["status"] == "revoked"
    back = central.http.patch(f"/api/workers/{worker_id}", json={"status": "active"})
    assert back.status_code == 409
    assert central.http.get(f"/api/workers/{worker_id}").json()["status"] == "revoked"


def test_erase_forgets_the_worker_and_keeps_the_number_revoked(central: RunningCentral) -> None:
    worker_id = enroll(central.http, card_numbers=["5"], face_ids=["F-5"])["worker_id"]
    assert central.http.delete(f"/api/workers/{worker_id}").status_code == 204
    for method, path in (
        ("GET", f"/api/workers/{worker_id}"),
        ("PATCH", f"/api/workers/{worker_id}"),
        ("DELETE", f"/api/workers/{worker_id}"),
        ("GET", f"/api/workers/{worker_id}/pass-links"),
    ):
        gone = central.http.request(method, path, json={} if method == "PATCH" else None)
        assert gone.status_code == 404, (method, path)
    assert worker_id not in [w["worker_id"] for w in central.http.get("/api/workers").json()]
    store = central.service.credentials.store
    number = int(worker_id[1:])
    assert number in store.refused_numbers(), "the number stays on the revocation list"
    assert store.get(number).display_name == "", "no personal data is kept"
    # The card is free for someone else now.
    assert enroll(central.http, card_numbers=["5"])["card_numbers"] == ["5"]


def test_list_filters_and_validates_its_query(central: RunningCentral) -> None:
    a = enroll(central.http)["worker_id"]
    b = enroll(central.http)["worker_id"]
    central.http.post(f"/api/workers/{b}/revoke")
    active = central.http.get("/api/workers", params={"status": "active"}).json()
    assert [w["worker_id"] for w in active] == [a]
    assert central.http.get("/api/workers", params={"status": "gone"}).status_code == 422
    assert central.http.get("/api/workers", params={"limit": 0}).status_code == 422
