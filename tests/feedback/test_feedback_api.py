"""Workers' reports and suggestions through a running central, on SQLite and PostgreSQL:
a problem opens one alert per category and shows the worker its alert's status; a
suggestion gets a status and a public reply; every limit and every bad input refused."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from dashboard.core.config import FeedbackSettings
from dashboard.core.worker_voice import solve
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.feedback.support import jpeg_with_gps
from tests.support.running_central import RunningCentral, run_central
from tests.workers.support import enroll, pass_secret

FEEDBACK = "/api/public/feedback"


@pytest.fixture()
def central(
    tmp_path: Path, broker_settings: BrokerSettings, database_url: str
) -> Iterator[RunningCentral]:
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        database_url,
        feedback=FeedbackSettings(proof_of_work_bits=10, photo_dir=tmp_path / "photos"),
    )
    yield from run_central(settings, stations=STATIONS)


def report(http: httpx.Client, secret: str, **fields: Any) -> httpx.Response:
    body = {
        "kind": "problem",
        "station_id": "cs-0001",
        "category": "door",
        "text": "门打不开",
        "pass_secret": secret,
        **fields,
    }
    return http.post(FEEDBACK, json=body)


def anonymous(http: httpx.Client, **fields: Any) -> httpx.Response:
    puzzle = http.get("/api/public/feedback/challenge").json()
    body = {
        "kind": "suggestion",
        "station_id": "cs-0001",
        "category": "other",
        "text": "希望加一个头盔架",
        "challenge": puzzle["challenge"],
        "nonce": solve(puzzle["challenge"], puzzle["bits"]),
        **fields,
    }
    return http.post(FEEDBACK, json=body)


def own(http: httpx.Client, secret: str) -> list[dict[str, Any]]:
    answer = http.get(f"/api/pass/{secret}/feedback")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def report_alerts(http: httpx.Client) -> list[dict[str, Any]]:
    answer = http.get("/api/alerts", params={"kind": "worker_report", "include_resolved": "true"})
    found: list[dict[str, Any]] = answer.json()
    return found


def test_reports_of_one_kind_join_one_alert_and_the_worker_sees_it_handled(
    central: RunningCentral,
) -> None:
    http = central.http
    secret = pass_secret(http, enroll(http)["worker_id"])
    public = httpx.Client(base_url=central.base_url, timeout=10)
    first = report(public, secret)
    assert first.status_code == 201, first.text
    assert "worker_number" not in first.json()
    assert report(public, secret, text="门锁卡住").status_code == 201
    assert report(public, secret, category="water", text="没水了").status_code == 201
    alerts = report_alerts(http)
    assert sorted(a["subject"] for a in alerts) == ["door", "water"]
    door = next(a for a in alerts if a["subject"] == "door")
    assert door["station_id"] == "cs-0001"
    assert door["detail"].startswith("2 worker reports: door") and "门锁卡住" in door["detail"]
    assert {r["status"] for r in own(public, secret)} == {"received"}

    assert http.post(f"/api/alerts/{door['id']}/acknowledge", json={}).status_code == 200
    statuses = {r["text"]: r["status"] for r in own(public, secret)}
    assert statuses == {"门打不开": "in_progress", "门锁卡住": "in_progress", "没水了": "received"}
    resolved = http.post(f"/api/alerts/{door['id']}/resolve", json={"note": "换了门锁"})
    assert resolved.status_code == 200
    assert {r["text"]: r["status"] for r in own(public, secret)}["门打不开"] == "done"

    # Resolved: the next door report opens a new alert.
    assert report(public, secret, text="又坏了").status_code == 201
    doors = [a for a in report_alerts(http) if a["subject"] == "door"]
    assert len(doors) == 2 and sorted(a["status"] for a in doors) == ["open", "resolved"]

    # A wrong count names what the station shows, for the operator to correct.
    assert report(public, secret, category="occupancy", text="显示有空位但满了").status_code == 201
    (occupancy,) = [a for a in report_alerts(http) if a["subject"] == "occupancy"]
    assert "the station shows 0 of 12" in occupancy["detail"]

    listed = http.get("/api/feedback", params={"kind": "problem", "status": "done"}).json()
    assert [r["text"] for r in listed] == ["门锁卡住", "门打不开"]
    assert all(r["worker_number"] is not None for r in listed), "operators see who"


def test_a_suggestion_is_answered_and_the_public_sees_what_changed(
    central: RunningCentral,
) -> None:
    http = central.http
    public = httpx.Client(base_url=central.base_url, timeout=10)
    made = anonymous(public)
    assert made.status_code == 201, made.text
    item = made.json()
    assert item["status"] == "received"
    listed = http.get("/api/feedback", params={"kind": "suggestion"}).json()
    assert [(r["id"], r["worker_number"]) for r in listed] == [(item["id"], None)]
    # A district filter is a six-digit code; this station has none.
    assert http.get("/api/feedback", params={"region_code": "430102"}).json() == []
    assert http.get("/api/feedback", params={"region_code": ""}).status_code == 422

    declined = http.post(f"/api/feedback/{item['id']}/reply", json={"status": "declined"})
    assert declined.status_code == 422 and "reason" in declined.json()["detail"]
    done = http.post(
        f"/api/feedback/{item['id']}/reply", json={"status": "done", "reply": "已安装头盔架"}
    )
    assert done.status_code == 200, done.text
    assert done.json()["replied_by"] == central.operator
    changes = public.get("/api/public/stations/cs-0001/changes").json()
    assert changes == [
        {
            "category": "other",
            "suggestion": "希望加一个头盔架",
            "reply": "已安装头盔架",
            "done_at": done.json()["replied_at"],
        }
    ]
    assert public.get("/api/public/stations/cs-0002/changes").json() == []
    # A problem's status is its alert's: it takes no reply.
    secret = pass_secret(http, enroll(http)["worker_id"])
    problem = report(public, secret).json()
    assert (
        http.post(
            f"/api/feedback/{problem['id']}/reply", json={"status": "done", "reply": "x"}
        ).status_code
        == 409
    )
    # Operators only: the list and the replies need a login.
    assert public.get("/api/feedback").status_code == 401
    assert public.post(
        f"/api/feedback/{item['id']}/reply", json={"status": "done"}
    ).status_code in (
        401,
        403,
    )


def test_bad_reports_are_refused_with_a_reason(central: RunningCentral) -> None:
    http = central.http
    public = httpx.Client(base_url=central.base_url, timeout=10)
    secret = pass_secret(http, enroll(http)["worker_id"])

    def detail(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        text: str = response.json()["detail"]
        return text

    assert "no station" in detail(report(public, secret, station_id="cs-9999"), 404)
    assert "does not work" in detail(report(public, "not-a-secret"), 404)
    assert report(public, secret, text="x" * 501).status_code == 422
    assert report(public, secret, text=" \u0000 ").status_code == 422
    assert report(public, secret, category="weather").status_code == 422
    assert "challenge" in detail(
        public.post(
            FEEDBACK,
            json={"kind": "problem", "station_id": "cs-0001", "category": "door", "text": "x"},
        ),
        422,
    )
    puzzle = public.get("/api/public/feedback/challenge").json()
    unsolved = anonymous(public, challenge=puzzle["challenge"], nonce="no")
    assert "not solved" in detail(unsolved, 403)
    not_an_image = base64.b64encode(b"MZ\x90\x00 this is an exe").decode()
    assert "not an image" in detail(report(public, secret, photo_base64=not_an_image), 422)
    assert "base64" in detail(report(public, secret, photo_base64="%%%"), 422)
    huge = base64.b64encode(b"\xff" * (2 * 1024 * 1024 + 1)).decode()
    assert report(public, secret, photo_base64=huge).status_code == 413
    # Script in the text is kept as text, never turned into anything else.
    script = "<img src=x onerror=alert(1)><script>alert(2)</script>"
    assert report(public, secret, text=script).json()["text"] == script
    # Nothing refused was stored.
    assert [r["text"] for r in own(public, secret)] == [script]


def test_a_photo_is_kept_shrunk_without_its_position_and_goes_with_its_report(
    central: RunningCentral, tmp_path: Path
) -> None:
    http = central.http
    public = httpx.Client(base_url=central.base_url, timeout=10)
    secret = pass_secret(http, enroll(http)["worker_id"])
    photo = base64.b64encode(jpeg_with_gps(2400, 1800)).decode()
    made = report(public, secret, photo_base64=photo)
    assert made.status_code == 201, made.text
    item = http.get(f"/api/feedback/{made.json()['id']}").json()
    assert item["has_photo"] is True
    kept = http.get(f"/api/feedback/{item['id']}/photo")
    assert kept.status_code == 200 and kept.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(kept.content))
    assert image.size == (1600, 1200) and len(image.getexif()) == 0
    assert public.get(f"/api/feedback/{item['id']}/photo").status_code == 401
    files = list((tmp_path / "photos").iterdir())
    assert len(files) == 1 and files[0].read_bytes() == kept.content

    assert central.service.voice.expire_photos() == 0, "not yet 90 days old"
    assert http.delete(f"/api/feedback/{item['id']}").status_code == 204
    assert list((tmp_path / "photos").iterdir()) == [], "deleted with its report"
    assert http.get(f"/api/feedback/{item['id']}").status_code == 404


def test_limits_hold_a_flood_back(central: RunningCentral, database_url: str) -> None:
    http = central.http
    public = httpx.Client(base_url=central.base_url, timeout=10)
    secret = pass_secret(http, enroll(http)["worker_id"])
    answers = [report(public, secret, text=f"第{n}次").status_code for n in range(11)]
    assert answers == [201] * 10 + [429], "ten an hour for a pass holder"

    # Anonymous: five an hour from one address. A flood of ten thousand reports with one
    # solved challenge gets nothing more in, and each refusal is cheap.
    accepted = [anonymous(public, text=f"建议{n}").status_code for n in range(5)]
    assert accepted == [201] * 5
    sixth = anonymous(public)
    assert sixth.status_code == 429 and int(sixth.headers["retry-after"]) > 0
    if not database_url.startswith("sqlite"):
        return
    puzzle = public.get("/api/public/feedback/challenge").json()
    body = {
        "kind": "problem",
        "station_id": "cs-0001",
        "category": "safety",
        "text": "flood",
        "challenge": puzzle["challenge"],
        "nonce": solve(puzzle["challenge"], puzzle["bits"]),
    }

    def send(_: int) -> int:
        return public.post(FEEDBACK, json=body).status_code

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(send, range(10_000)))
    assert 201 not in statuses and set(statuses) <= {403, 429}
    assert len(http.get("/api/feedback", params={"limit": 1000}).json()) == 15
    assert not [a for a in report_alerts(http) if a["subject"] == "safety"]
