"""Every route of the central's application is reached, with a successful answer, by some
test on SQLite and by some test on PostgreSQL.

The requests are the ones the other tests of this session made to their real centrals
(`tests/support/route_coverage.py` notes them); `tests/conftest.py` runs this test after
all others. It needs the route-calling tests in the same run: run it with the whole of
`tests/central` and `tests/workers`. With the tests spread over pytest-xdist workers, no
worker sees every request: the test skips, and the controlling process makes the same
check over every worker's requests once all are done (`RoutesAcrossWorkers` in
`tests/conftest.py`), failing the run on a gap.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.route_coverage import (
    central_routes,
    dumped,
    gaps,
    merge,
    missing_route_tests,
    reached,
)


def test_every_route_is_reached_on_both_backends(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    missing = missing_route_tests(Path(str(item.path)) for item in request.session.items)
    if missing:
        pytest.skip(f"needs the route-calling tests in the same run; not selected: {missing}")
    if hasattr(request.config, "workerinput"):
        pytest.skip(
            "the tests are spread over workers: the check runs at the session's end over "
            "every worker's requests (tests/conftest.py)"
        )
    routes = central_routes(tmp_path)
    assert len(routes) > 50, routes  # the application's routes were found at all
    found = gaps(routes, reached)
    assert not found, "routes no test reached successfully on both backends:\n" + "\n".join(found)


def test_what_workers_noted_is_merged_before_the_check() -> None:
    routes = [("GET", "/api/a"), ("POST", "/api/b"), ("GET", "/api/c")]
    one = [["GET", "/api/a", ["sqlite"]], ["POST", "/api/b", ["postgresql", "sqlite"]]]
    two = [["GET", "/api/a", ["postgresql"]]]
    noted: dict[tuple[str, str], set[str]] = defaultdict(set)
    merge(noted, one)
    assert gaps(routes, noted) == [
        "GET /api/a: not on ['postgresql']",
        "GET /api/c: not on ['postgresql', 'sqlite']",
    ]
    merge(noted, two)
    assert gaps(routes, noted) == ["GET /api/c: not on ['postgresql', 'sqlite']"]
    # What this process noted travels as JSON and comes back the same.
    again: dict[tuple[str, str], set[str]] = defaultdict(set)
    merge(again, dumped())
    assert again == {key: value for key, value in reached.items() if value}
