"""Every route of the central's application is reached, with a successful answer, by some
test on SQLite and by some test on PostgreSQL.

The requests are the ones the other tests of this session made to their real centrals
(`tests/support/route_coverage.py` notes them); `tests/conftest.py` runs this test after
all others. It needs the route-calling tests in the same run: run it with the whole of
`tests/central` and `tests/workers`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.central import Central
from dashboard.core.config import CentralSettings, DatabaseSettings
from tests.support.route_coverage import BACKENDS, reached, routes_of

TESTS = Path(__file__).resolve().parents[1]
ROUTE_TESTS = ("central", "workers")
"""The directories whose tests, together, must reach every route on both backends."""


def test_every_route_is_reached_on_both_backends(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    selected = {Path(str(item.path)) for item in request.session.items}
    expected = {path for folder in ROUTE_TESTS for path in (TESTS / folder).glob("test_*.py")} - {
        Path(__file__)
    }
    missing_modules = sorted(str(path.relative_to(TESTS)) for path in expected - selected)
    if missing_modules:
        pytest.skip(
            f"needs the route-calling tests in the same run; not selected: {missing_modules}"
        )
    central = Central(CentralSettings(database=DatabaseSettings(path=tmp_path / "c.db")))
    try:
        routes = routes_of(central.app)
    finally:
        # Never started: only what the constructor opened is closed.
        central.credentials.stop()
        central.store.close()
    assert len(routes) > 50, routes  # the application's routes were found at all
    gaps = [
        f"{method} {path}: not on {sorted(set(BACKENDS) - reached[(method, path)])}"
        for method, path in routes
        if not set(BACKENDS) <= reached[(method, path)]
    ]
    assert not gaps, "routes no test reached successfully on both backends:\n" + "\n".join(gaps)
