"""Which HTTP routes the tests reached, on which database.

`run_central` installs `RouteRecorder` on every test central's application: each request
that a route answers without an error (status below 400) is noted as (method, route
template, backend). `tests/central/test_route_coverage.py`, run after every other test of
the session, checks that each route of the application was reached on both backends; when
the tests are spread over several processes (pytest-xdist), each hands what it noted to
the controlling process, which makes the same check over all of them at the session's end
(`tests/conftest.py`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BACKENDS = ("sqlite", "postgresql")

reached: dict[tuple[str, str], set[str]] = defaultdict(set)
"""(method, route path template) → the backends it answered successfully on, this session."""


TESTS = Path(__file__).resolve().parents[1]
ROUTE_TESTS = ("central", "workers")
"""The directories whose tests, together, must reach every route on both backends."""


def missing_route_tests(selected: Iterable[Path]) -> list[str]:
    """The route-calling test modules not among `selected`: without all of them in the
    run, routes go unreached for want of their tests, and no check is made."""
    expected = {path for folder in ROUTE_TESTS for path in (TESTS / folder).glob("test_*.py")}
    expected.discard(TESTS / "central" / "test_route_coverage.py")
    return sorted(str(path.relative_to(TESTS)) for path in expected - set(selected))


def central_routes(directory: Path) -> list[tuple[str, str]]:
    """Every route of the central's application (one made, never started, in `directory`)."""
    from dashboard.central import Central
    from dashboard.core.config import CentralSettings, DatabaseSettings

    central = Central(CentralSettings(database=DatabaseSettings(path=directory / "c.db")))
    try:
        return routes_of(central.app)
    finally:
        # Never started: only what the constructor opened is closed.
        central.credentials.stop()
        central.store.close()


def dumped() -> list[list[Any]]:
    """What this process noted, as JSON can carry it between processes."""
    return [[method, path, sorted(backends)] for (method, path), backends in reached.items()]


def merge(into: dict[tuple[str, str], set[str]], noted: list[list[Any]]) -> None:
    """Add what another process noted (`dumped()`) to `into`."""
    for method, path, backends in noted:
        into[(method, path)].update(backends)


def gaps(routes: Iterable[tuple[str, str]], noted: dict[tuple[str, str], set[str]]) -> list[str]:
    """Each route not reached successfully on every backend, and on which it was not."""
    return [
        f"{method} {path}: not on {sorted(set(BACKENDS) - noted.get((method, path), set()))}"
        for method, path in routes
        if not set(BACKENDS) <= noted.get((method, path), set())
    ]


def backend_of(database_url: str) -> str:
    """`sqlite` or `postgresql`, from a database URL."""
    return "sqlite" if database_url.startswith("sqlite") else "postgresql"


def routes_of(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path template) the application routes, static mounts aside."""
    found: list[tuple[str, str]] = []

    def walk(routes: Iterable[BaseRoute], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Route):
                # HEAD is answered by the GET route; it is not a route of its own.
                methods = sorted((route.methods or set()) - {"HEAD"})
                found.extend((method, prefix + route.path) for method in methods)
            elif hasattr(route, "original_router"):
                # FastAPI keeps an included router whole (`_IncludedRouter`) rather than
                # copying its routes into the application's list.
                included: Any = route
                walk(included.original_router.routes, prefix + included.include_context.prefix)

    walk(app.routes, "")
    return found


class RouteRecorder:
    """ASGI middleware: notes which route answered a request, and whether it succeeded."""

    def __init__(self, app: ASGIApp, backend: str, plain: list[Route]) -> None:
        self.app = app
        self.backend = backend
        self.plain = plain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def noting(message: Message) -> None:
            # The router has put the route that matched in the (shared) scope by now. The
            # status line is the first message; a streamed answer (the live stream)
            # counts from it, since such a route never finishes by itself.
            route = scope.get("route") or next(
                # FastAPI names the route in the scope for its own routes only; the
                # application's plain Starlette routes (the API docs) are matched here.
                (r for r in self.plain if r.matches(scope)[0] is Match.FULL),
                None,
            )
            started = message["type"] == "http.response.start"
            if started and isinstance(route, Route) and message["status"] < 400:
                reached[(scope["method"], route.path)].add(self.backend)
            await send(message)

        await self.app(scope, receive, noting)


def record_routes(app: FastAPI, database_url: str) -> None:
    """Note every successful request `app` answers, under the backend of `database_url`.

    Called before the application serves its first request (middleware cannot be added
    once it has started)."""
    plain = [route for route in app.routes if type(route) is Route]
    app.add_middleware(RouteRecorder, backend=backend_of(database_url), plain=plain)
