"""Pass links: unguessable, revocable, and strict about their query parameters."""

from __future__ import annotations

from tests.support.running_central import RunningCentral
from tests.workers.support import enroll


def test_a_revoked_link_stops_at_once_and_others_keep_working(central: RunningCentral) -> None:
    worker_id = enroll(central.http)["worker_id"]
    first = central.http.post(f"/api/workers/{worker_id}/pass-links").json()
    second = central.http.post(f"/api/workers/{worker_id}/pass-links").json()
    assert first["secret"] != second["secret"]
    assert central.http.get(f"/api/pass/{first['secret']}/tokens").status_code == 200
    revoked = central.http.delete(f"/api/pass-links/{first['id']}")
    assert revoked.json()["revoked_at"] is not None
    dead = central.http.get(f"/api/pass/{first['secret']}/tokens")
    assert dead.status_code == 404 and "detail" in dead.json()
    assert central.http.get(f"/api/pass/{second['secret']}/tokens").status_code == 200
    listed = central.http.get(f"/api/workers/{worker_id}/pass-links").json()
    assert [link["id"] for link in listed] == [second["id"], first["id"]]
    assert all("secret" not in link for link in listed)
    assert central.http.delete("/api/pass-links/999999").status_code == 404


def test_suspension_kills_links_and_the_page_says_so(central: RunningCentral) -> None:
    worker_id = enroll(central.http)["worker_id"]
    secret = central.http.post(f"/api/workers/{worker_id}/pass-links").json()["secret"]
    central.http.patch(f"/api/workers/{worker_id}", json={"status": "suspended"})
    assert central.http.get(f"/api/pass/{secret}/tokens").status_code == 404
    page = central.http.get(f"/pass/{secret}", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert "此通行链接已失效" in page.text and "link" not in page.text
    english = {"Accept": "text/html", "Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.5"}
    page = central.http.get(f"/pass/{secret}", headers=english)
    assert page.status_code == 404 and "no longer works" in page.text
    assert "通行" not in page.text.split("<title>")[1]
    assert central.http.get(f"/pass/{secret}").json()["detail"]


def test_a_worker_outside_the_validity_window_gets_no_tokens(central: RunningCentral) -> None:
    worker_id = enroll(central.http, valid_from="2099-01-01")["worker_id"]
    secret = central.http.post(f"/api/workers/{worker_id}/pass-links").json()["secret"]
    response = central.http.get(f"/api/pass/{secret}/tokens")
    assert response.status_code == 403
    assert "valid from" in response.json()["detail"]


def test_query_parameters_are_checked(central: RunningCentral) -> None:
    worker_id = enroll(central.http)["worker_id"]
    secret = central.http.post(f"/api/workers/{worker_id}/pass-links").json()["secret"]
    for params in ({"count": 21}, {"count": -1}, {"count": "many"}):
        response = central.http.get(f"/api/pass/{secret}/tokens", params=params)
        assert response.status_code == 422, params
    tokens = central.http.get(f"/api/pass/{secret}/tokens", params={"count": 20}).json()
    assert len(tokens["tokens"]) == 21
    stations = f"/api/pass/{secret}/stations"
    assert central.http.get(stations, params={"lat": 28.2}).status_code == 422
    assert central.http.get(stations, params={"lat": 91, "lon": 0}).status_code == 422
    near = central.http.get(stations, params={"lat": 22.5, "lon": 113.9}).json()
    assert near["sorted_by"] == "position"
    assert near["stations"][0]["id"] == "sz-0001"  # Shenzhen first when the phone is there
