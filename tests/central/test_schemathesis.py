"""Schemathesis generates requests from the OpenAPI document: none may end in a server error.

Runs in-process against the whole application (every router) over a real SQLite store,
with a bounded number of examples per operation. The live stream never ends by design and
is tested with a real client in `test_live.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from dashboard.central import Central
from dashboard.core.config import CentralSettings, DatabaseSettings
from tests.central.conftest import STATIONS
from tests.support.operators import add_operator

EXAMPLES = 60


def test_no_operation_answers_with_a_server_error(tmp_path: Path) -> None:
    central = Central(
        CentralSettings(database=DatabaseSettings(path=tmp_path / "c.db"), stations=STATIONS)
    )
    schema = (
        schemathesis.openapi.from_asgi("/openapi.json", central.app)
        .exclude(path="/api/stream")
        # Logging out would end the session the other operations run with.
        .exclude(path="/api/session", method="DELETE")
    )
    # An admin may call every operation: the generated requests reach the routes.
    name, password = add_operator(central.operators)
    login = central.operators.login(name, password)
    assert login is not None
    headers = {"Authorization": f"Bearer {login[0]}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def call(case: Any) -> None:
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the test client re-raises what the app did not handle
                failures.append(f"{case.method} {case.formatted_path}: {exc!r}")
                return
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} "
                    f"{response.text[:200]}  <- {case.as_curl_command()}"
                )

        call()
    central.store.close()
    assert operations >= 25, "every router's operations are in the schema"
    assert failures == []
