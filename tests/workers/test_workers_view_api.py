"""What the operator UI's workers view and station page call: searching workers, revoking
with a reason, pass links with their QR code, CSV files from Chinese Excel, and who is
inside a station now. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx

from contract.payloads import utc_now
from tests.central.support import Gateway
from tests.support.operators import add_operator, bearer
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral
from tests.support.waiting import wait_until
from tests.workers.support import enroll

CSV = {"Content-Type": "text/csv"}


def test_search_by_name_id_card_and_face(central: RunningCentral) -> None:
    http = central.http
    li = enroll(http, display_name="李明", card_numbers=["12345678"])
    wang = enroll(http, display_name="Wang Fang", platform="didi", face_ids=["F-77"])
    erased = enroll(http, display_name="李四")
    assert http.delete(f"/api/workers/{erased['worker_id']}").status_code == 204

    def found(q: str) -> list[str]:
        response = http.get("/api/workers", params={"q": q})
        assert response.status_code == 200, response.text
        return [w["worker_id"] for w in response.json()]

    assert found("李") == [li["worker_id"]]  # the erased 李四 is gone for good
    assert found("wang f") == [wang["worker_id"]]  # any case
    assert found(li["worker_id"]) == [li["worker_id"]]
    assert found(li["worker_id"][1:]) == [li["worker_id"]]
    assert found("3456") == [li["worker_id"]]  # a part of a card number
    assert found("f-7") == [wang["worker_id"]]
    assert found("%") == []  # a wildcard is a character like any other
    assert found("_") == []
    assert http.get("/api/workers", params={"q": "x" * 101}).status_code == 422


def test_revoking_keeps_the_reason_shows_it_and_audits_it(central: RunningCentral) -> None:
    worker = enroll(central.http)
    path = f"/api/workers/{worker['worker_id']}/revoke"
    revoked = central.http.post(path, json={"reason": "lent the pass to a friend"})
    assert revoked.status_code == 200, revoked.text
    body = revoked.json()
    assert body["status"] == "revoked"
    assert body["revocation"]["reason"] == "lent the pass to a friend"
    assert body["revocation"]["revoked_by"] == central.operator
    # Shown wherever the worker is: one by one and in lists.
    again = central.http.get(f"/api/workers/{worker['worker_id']}").json()
    assert again["revocation"] == body["revocation"]
    listed = central.http.get("/api/workers", params={"status": "revoked"}).json()
    assert [w["revocation"]["reason"] for w in listed] == ["lent the pass to a friend"]
    # A second revocation changes nothing, its reason included.
    second = central.http.post(path, json={"reason": "another"}).json()
    assert second["revocation"]["reason"] == "lent the pass to a friend"
    audit = central.http.get("/api/audit").json()
    assert any(
        row["target"] == path and "lent the pass to a friend" in row["detail"] for row in audit
    )
    assert central.http.post(path, json={"reason": "x" * 501}).status_code == 422
    assert central.http.post(path, json={"why": "x"}).status_code == 422


def test_a_viewer_may_search_but_not_revoke(central: RunningCentral) -> None:
    worker = enroll(central.http)
    name, password = add_operator(central.service.operators, "viewer")
    with httpx.Client(base_url=central.base_url, timeout=10) as viewer:
        viewer.headers.update(bearer(viewer, name, password))
        assert viewer.get("/api/workers", params={"q": "李"}).status_code == 200
        path = f"/api/workers/{worker['worker_id']}/revoke"
        assert viewer.post(path, json={"reason": "no"}).status_code == 403
    assert central.http.get(f"/api/workers/{worker['worker_id']}").json()["status"] == "active"


def test_a_new_pass_link_carries_its_address_as_a_qr_code(central: RunningCentral) -> None:
    worker = enroll(central.http)
    link = central.http.post(f"/api/workers/{worker['worker_id']}/pass-links").json()
    # An SVG document (a page shows it as an image) sized by its viewBox only, so a
    # printed card can scale it; the browser test reads it back from the card as a
    # phone's camera would.
    svg = ElementTree.fromstring(link["qr_svg"])
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "viewBox" in svg.attrib and "width" not in svg.attrib
    assert link["url"].endswith("/pass/" + link["secret"])
    # The list of links never shows a secret, its address or its code.
    listed = central.http.get(f"/api/workers/{worker['worker_id']}/pass-links").json()
    assert not {"qr_svg", "secret", "url"} & set(listed[0])


def test_gbk_and_bom_csv_files_import_with_their_names_intact(central: RunningCentral) -> None:
    text = "display_name,platform,groups\r\n李明,meituan,delivery\r\n阿卜杜·热合曼,eleme,\r\n"
    gbk = central.http.post("/api/workers/import", content=text.encode("gbk"), headers=CSV)
    assert gbk.status_code == 201, gbk.text
    assert [w["display_name"] for w in gbk.json()["workers"]] == ["李明", "阿卜杜·热合曼"]
    bom = central.http.post(
        "/api/workers/import", content=("\ufeff" + text).encode("utf-8"), headers=CSV
    )
    assert bom.status_code == 201, bom.text
    assert [w["display_name"] for w in bom.json()["workers"]] == ["李明", "阿卜杜·热合曼"]
    names = {w["display_name"] for w in central.http.get("/api/workers").json()}
    assert names == {"李明", "阿卜杜·热合曼"}


def test_a_latin1_csv_is_refused_not_stored_garbled(central: RunningCentral) -> None:
    data = "display_name,platform\r\nJosé,didi\r\n".encode("latin-1")
    response = central.http.post("/api/workers/import", content=data, headers=CSV)
    assert response.status_code == 422
    (problem,) = response.json()["errors"]
    assert "neither UTF-8 nor Chinese GBK" in problem["problem"]
    assert "CSV UTF-8" in problem["problem"]
    assert central.http.get("/api/workers").json() == []


def test_inside_now_lists_entries_without_a_matching_exit(
    central: RunningCentral, probe: MqttProbe
) -> None:
    li = enroll(central.http, display_name="李明")
    wang = enroll(central.http, display_name="王芳")
    zhao = enroll(central.http, display_name="赵六")
    sun = enroll(central.http, display_name="孙七")
    door = Gateway(probe, "cs-0001", "gw-1")
    other = Gateway(probe, "cs-0002", "gw-9")
    now = utc_now()

    def at(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    door.access("in", worker=li["worker_id"], at=at(50))
    # 王芳 came in and scanned out again.
    door.access("in", worker=wang["worker_id"], at=at(40))
    door.access("out", worker=wang["worker_id"], at=at(30))
    # 赵六 came in here, then at another station: the later entry ends this visit.
    door.access("in", worker=zhao["worker_id"], at=at(35))
    other.access("in", worker=zhao["worker_id"], at=at(20))
    # 孙七 was refused: never inside.
    door.access("in", decision="denied", worker=sun["worker_id"], at=at(10))
    # An exit button names nobody: it ends no one's visit.
    door.crossing("rex")
    # A worker unknown here (another central's card) is listed by id.
    door.access("in", worker="w424242", at=at(5))
    # A day-old entry without an exit is past the look-back.
    door.access("in", worker=sun["worker_id"], at=at(60 * 25))

    def inside(station: str, **params: int) -> dict[str, Any]:
        response = central.http.get(f"/api/stations/{station}/inside", params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def ids(body: dict[str, Any]) -> list[str]:
        return [w["worker_id"] for w in body["workers"]]

    # Two inside is not yet the answer: 赵六 is inside until his entry elsewhere is stored.
    expected = ["w424242", li["worker_id"]]
    wait_until(lambda: ids(inside("cs-0001")) == expected, what="李明 and w424242 inside")
    body = inside("cs-0001")
    assert body["count"] == 2
    assert body["time_zone"] == "Asia/Shanghai"
    workers = body["workers"]
    assert [(w["worker_id"], w["display_name"]) for w in workers] == [
        ("w424242", None),
        (li["worker_id"], "李明"),
    ]
    # The time in is the station's: Asia/Shanghai is UTC+8.
    entered = workers[1]
    assert entered["entered_at_local"].endswith("+08:00")
    assert entered["entered_at_local"][11:13] == f"{(at(50).hour + 8) % 24:02d}"
    assert entered["door_id"] == "main" and entered["credential"] == "qr"
    assert ids(inside("cs-0002")) == [zhao["worker_id"]]
    # A longer look-back finds 孙七's day-old entry, refused scans aside (published last,
    # it may be stored after the others were listed).
    wait_until(
        lambda: sun["worker_id"] in ids(inside("cs-0001", hours=48)),
        what="孙七's day-old entry within 48 hours",
    )
    # 李明 scans out: no longer inside.
    door.access("out", worker=li["worker_id"], at=at(1))
    wait_until(lambda: inside("cs-0001")["count"] == 1, what="李明 gone")
    assert central.http.get("/api/stations/nowhere/inside").status_code == 404
    assert central.http.get("/api/stations/cs-0001/inside?hours=0").status_code == 422
