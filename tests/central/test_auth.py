"""Operators and roles, enforced by the API itself (not only by the UI)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from contract.payloads import Command
from contract.signing import verify
from contract.topics import ROOT
from tests.support.operators import add_operator, bearer
from tests.support.probe import MqttProbe
from tests.support.running_central import RunningCentral


@contextmanager
def client(central: RunningCentral, role: str | None) -> Iterator[httpx.Client]:
    """A fresh client, logged in as a new operator of `role` (bearer), or anonymous."""
    with httpx.Client(base_url=central.base_url, timeout=10) as http:
        if role is not None:
            name, password = add_operator(central.service.operators, role)
            http.headers.update(bearer(http, name, password))
        yield http


def test_anonymous_reads_nothing_but_the_public_routes(any_central: RunningCentral) -> None:
    central = any_central
    with client(central, None) as anon:
        for path in ("/api/stations", "/api/entries", "/api/alerts", "/api/workers"):
            answer = anon.get(path)
            assert answer.status_code == 401, path
            assert "log in" in answer.json()["detail"]
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/feed/gbfs.json").status_code == 200
        # The workers' public map and the pass page's service worker are for anyone.
        assert 'id="stations"' in anon.get("/map", headers={"accept": "text/html"}).text
        assert anon.get("/pass/sw.js").status_code == 200
        # A browser sent to the UI without a session gets the page, which shows the login.
        moved = anon.get("/ui", follow_redirects=False)
        assert moved.status_code == 307 and moved.headers["location"] == "/ui/"
        assert 'id="login"' in anon.get("/ui/").text
        # Any other page a browser asks for without a session leads to the login too;
        # the API keeps answering 401 JSON, also to a browser.
        page = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        for path in ("/login", "/station/cs-0001"):
            sent = anon.get(path, headers=page, follow_redirects=False)
            assert (sent.status_code, sent.headers.get("location")) == (303, "/ui/"), path
        assert anon.get("/login", follow_redirects=False).status_code == 401
        assert anon.get("/api/stations", headers=page).status_code == 401
        icon = anon.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert icon.content.startswith(b"<svg")
        bad = anon.post("/api/session", json={"name": "nobody", "password": "wrong-password"})
        assert bad.status_code == 401


def test_a_viewer_cannot_unlock_a_door_but_an_operator_can(
    any_central: RunningCentral, probe: MqttProbe
) -> None:
    central = any_central
    station = central.http.get("/api/stations/cs-0001").json()
    assert station["doors"], "the test station has a door"
    door = station["doors"][0]["id"]
    path = f"/api/stations/cs-0001/doors/{door}/unlock"
    with client(central, "viewer") as viewer:
        assert viewer.get("/api/stations").status_code == 200
        refused = viewer.post(path)
        assert refused.status_code == 403
        assert "operator" in refused.json()["detail"]
        assert viewer.post("/api/alerts/1/acknowledge", json={"by": "x"}).status_code == 403
        assert viewer.post("/api/keys/rotate").status_code == 403
    with client(central, "operator") as operator:
        assert operator.post("/api/keys/rotate").status_code == 403, "keys are for admins"
        sent = operator.post(path)
        assert sent.status_code == 202, sent.text
        body = sent.json()
    command = probe.wait_for(lambda m: m.topic == body["topic"])
    payload = json.loads(command.payload)
    assert payload["command"] == "unlock" and payload["args"] == {"door": door}
    # Gateways open doors only for signed commands: this one carries the central's key.
    key = central.service.operator_key
    signed = Command.model_validate(payload)
    assert signed.sender == key.name
    assert verify(signed, {key.name: key.private_key.public_key()}) is None
    assert body["topic"].startswith(f"{ROOT}/st/cs-0001/gw/")
    audit = central.http.get("/api/audit").json()
    actions = [(row["actor"], row["target"], row["status"]) for row in audit]
    assert (body["by"], path, 202) in actions
    # Refused requests never reach a route: the viewer's attempt is not an action taken.
    assert all(status != 403 for _, target, status in actions if target == path)


def test_cookie_sessions_need_the_csrf_header(any_central: RunningCentral) -> None:
    central = any_central
    name, password = add_operator(central.service.operators, "operator")
    with client(central, None) as browser:
        login = browser.post("/api/session", json={"name": name, "password": password})
        assert login.status_code == 200
        cookie = login.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookie if c.startswith("yz_session="))
        assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
        csrf = login.json()["csrf"]
        assert browser.get("/api/session").json()["name"] == name
        path = "/api/stations/cs-0001/occupancy"
        change = {"count": 3}
        refused = browser.put(path, json=change)
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        wrong = browser.put(path, json=change, headers={"X-CSRF-Token": "x" + csrf})
        assert wrong.status_code == 403
        done = browser.put(path, json=change, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200, done.text
        assert browser.delete("/api/session", headers={"X-CSRF-Token": csrf}).status_code == 204
        browser.cookies.clear()
        assert browser.get("/api/stations").status_code == 401


def test_admins_manage_operators(any_central: RunningCentral) -> None:
    central = any_central
    http = central.http
    made = http.post(
        "/api/operators", json={"name": "li", "password": "long-enough-1", "role": "viewer"}
    )
    assert made.status_code == 201 and made.json()["role"] == "viewer"
    again = http.post(
        "/api/operators", json={"name": "li", "password": "long-enough-1", "role": "viewer"}
    )
    assert again.status_code == 409
    short = http.post("/api/operators", json={"name": "x", "password": "short", "role": "admin"})
    assert short.status_code == 422
    assert http.patch("/api/operators/li", json={"role": "operator"}).json()["role"] == "operator"
    assert http.patch("/api/operators/nobody", json={"role": "viewer"}).status_code == 404
    with client(central, "operator") as operator:
        assert operator.get("/api/operators").status_code == 403
    li = {"name": "li", "password": "long-enough-1"}
    assert http.post("/api/session/token", json=li).status_code == 200
    assert http.patch("/api/operators/li", json={"disabled": True}).status_code == 200
    assert http.post("/api/session/token", json=li).status_code == 401
    assert http.delete("/api/operators/li").status_code == 204
    assert "li" not in [o["name"] for o in http.get("/api/operators").json()]
