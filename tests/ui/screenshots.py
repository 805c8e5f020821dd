"""Screenshots of the dashboard for the README: `python -m tests.ui.screenshots`.

Starts a central (no broker needed) with the UI tests' stations, gives them counts, an
alarm and a few entries, logs Chromium in, and writes the map, a station page and the
alerts panel in English and Chinese to `docs/screenshots/` (1280×800 PNG).
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from contract.payloads import AccessEvent, AlarmEvent, Availability, utc_now
from dashboard.config import CentralSettings, DatabaseSettings, HttpSettings
from dashboard.operators import Role
from dashboard.service import Central, serve_in_thread
from tests.central.conftest import STATIONS
from tests.ui.conftest import ARGS, CHROMIUM, spread_stations

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def populate(central: Central) -> None:
    """Counts, gateways online, one alarm and a few entries, straight into the store."""
    rng = random.Random(3)
    events: list[object] = []
    for station in central.store.stations():
        events.append(Availability(station_id=station.id, gateway_id="gw-1", online=True))
    for seq, station in enumerate(central.store.stations()[:30], start=1):
        for n in range(rng.randrange(0, (station.capacity or 4) + 1)):
            events.append(
                AccessEvent(
                    station_id=station.id,
                    gateway_id="gw-1",
                    seq=seq * 100 + n,
                    at=utc_now(),
                    door_id="main",
                    direction="in",
                    credential="qr",
                    worker_id=f"w{1000 + n}",
                    decision="granted",
                    reason="granted",
                )
            )
    events.append(
        AlarmEvent(
            station_id="cs-0002",
            gateway_id="gw-1",
            seq=9999,
            at=utc_now(),
            door_id="main",
            alarm="held_open",
            active=True,
        )
    )
    central.store.record(events)  # type: ignore[arg-type]


def main() -> int:
    """Write the six screenshots."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        central = Central(
            CentralSettings(
                http=HttpSettings(port=0),
                database=DatabaseSettings(path=Path(tmp) / "shots.db"),
                stations=[*STATIONS, *spread_stations(38)],
            )
        )
        populate(central)
        central.operators.add("operator", "screenshot-pass", Role.OPERATOR)
        login = central.operators.login("operator", "screenshot-pass")
        assert login is not None
        server = central.http_server(port=0)
        serve_in_thread(server)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=ARGS
                )
                for lang in ("en", "zh-CN"):
                    context = browser.new_context(viewport={"width": 1280, "height": 800})
                    context.add_cookies([{"name": "yz_session", "value": login[0], "url": base}])
                    context.add_init_script(f"localStorage.setItem('yz-lang', '{lang}')")
                    page = context.new_page()
                    page.goto(f"{base}/ui/#map")
                    page.wait_for_function("window.yzMap && window.yzMap.drawn")
                    page.wait_for_function("window.yzMap.station('cs-0002').state === 'alarm'")
                    page.screenshot(path=str(OUT / f"map-{lang}.png"))
                    page.goto(f"{base}/ui/#station/cs-0001")
                    expect(page.locator("#station-doors li")).to_have_count(2)
                    expect(page.locator("#station-gateways li")).to_have_count(1)
                    page.screenshot(path=str(OUT / f"station-{lang}.png"))
                    page.goto(f"{base}/ui/#alerts")
                    expect(page.locator("#alerts tr[data-alert]").first).to_be_visible()
                    page.screenshot(path=str(OUT / f"alerts-{lang}.png"))
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
            central.store.close()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
