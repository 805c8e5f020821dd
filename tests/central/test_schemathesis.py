"""Schemathesis, with every check it has, against the running central: no failure.

The real central (on the private broker and PostgreSQL, the production store and the
stricter of the two: it refuses what SQLite would keep) serves its API on loopback;
the `schemathesis` command line reads the OpenAPI document the central publishes, logs in
through `POST /api/session/token` (again whenever an answer says the session has ended),
and runs every phase (examples, coverage, fuzzing, stateful) with `--checks all`: no
server error; every status, header, content type and body as documented; valid input
accepted and invalid input refused; authentication enforced; nothing usable once deleted.

Left out: logging out would end the session the others run with, and the live stream
never ends by design (`test_live.py` reads it with a real client).

One allowance: some rules span several fields, a file's rows or what is stored, which a
JSON Schema cannot state; where an operation refuses input for such a rule (422, each
problem named), a schema-valid request may be refused. `BUSINESS_RULES` lists every such
operation with its rule; nothing else is relaxed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.support.operators import add_operator
from tests.support.postgres import PostgresServer
from tests.support.running_central import run_central

EXAMPLES = 10
"""Test cases per operation and phase: every route answers with each of its statuses,
and the whole run stays within about two minutes on two cores."""

WORKERS = 1
"""One request at a time: two at once can deadlock PostgreSQL in `Store.put_station` (a
storage matter, left to the storage layer), which would make this test fail by chance."""

LEFT_OUT = ("DELETE /api/session", "GET /api/stream")

BUSINESS_RULES = {
    "GET /api/entries": "a cursor is one this API handed out",
    "GET /api/stations/{station_id}/occupancy/history": "since before until, 31 days at most",
    "POST /api/stations": "no two doors share an id",
    "PUT /api/stations/{station_id}": "no two doors share an id; an id in the body is the path's",
    "PUT /api/stations/{station_id}/occupancy": "the zone is one the station has",
    "POST /api/workers": "valid_until is after valid_from",
    "PATCH /api/workers/{worker_id}": "valid_until is after valid_from",
    "POST /api/stations/import": "every row or feature is a valid station",
    "POST /api/workers/import": "every row is a valid worker",
    "GET /api/pass/{secret}/stations": "lat and lon come together",
    "POST /door/{secret}/open": "lat and lon come together",
    "POST /api/stations/{station_id}/commands": "a door command names its door, others none",
    "POST /api/public/feedback": "a text is more than control characters; an anonymous "
    "report carries a challenge and its nonce; a photo is an image in base64",
    "POST /api/feedback/{feedback_id}/reply": "declining a suggestion gives the reason",
    **dict.fromkeys(
        ("GET /api/reports", "GET /api/reports.csv", "GET /api/reports.xlsx"),
        "from is not after to, 13 months at most, 1970 to 9998; a district id is six digits",
    ),
}
"""Operations that refuse some schema-valid input (422) for a rule no JSON Schema states."""

ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
"""Schemathesis's own answers to valid input that are not refusals of it."""


def schemathesis_config(name: str, password: str) -> str:
    """Log in as (name, password) for a bearer token; allow the business rules' 422."""
    lines = [
        "[auth.dynamic.openapi.bearer]",
        'path = "/api/session/token"',
        f'payload = {{ name = "{name}", password = "{password}" }}',
        'extract_selector = "/token"',
    ]
    statuses = ", ".join(f'"{status}"' for status in [*ACCEPTED, "422"])
    # The run's own admin is named in responses it reads (the operators list, the audit
    # log), and a fuzzed PATCH of it with a new password ends the run's login half way.
    # The operation is still run, on an operator the run did not log in as.
    lines += [
        "",
        "[[operations]]",
        'include-name = "PATCH /api/operators/{name}"',
        'parameters = { "path.name" = "someone-else" }',
    ]
    for operation, rule in BUSINESS_RULES.items():
        lines += [
            "",
            f"# {rule}",
            "[[operations]]",
            f'include-name = "{operation}"',
            f"checks.positive_data_acceptance.expected-statuses = [{statuses}]",
        ]
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(300)
def test_every_check_passes_on_every_operation(
    tmp_path: Path, broker_settings: BrokerSettings, postgres: PostgresServer
) -> None:
    database = postgres.create_database()
    settings = central_settings(tmp_path, broker_settings.url, database)
    # The fuzzing logs in wrongly hundreds of times from this one address; with the default
    # locks the login that fetches the token would then be refused too (429).
    http = settings.http.model_copy(
        update={"login_account_lock_at": 1000, "login_address_lock_at": 100_000}
    )
    settings = settings.model_copy(update={"http": http})
    for central in run_central(settings, stations=STATIONS):
        name, password = add_operator(central.service.operators)
        config = tmp_path / "schemathesis.toml"
        config.write_text(schemathesis_config(name, password), encoding="utf-8")
        left_out = [option for label in LEFT_OUT for option in ("--exclude-name", label)]
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "--no-color",
                "--config-file",
                str(config),
                "run",
                f"{central.base_url}/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                str(EXAMPLES),
                "--workers",
                str(WORKERS),
                "--generation-database",
                "none",
                *left_out,
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=280,
            check=False,
        )
        report = run.stdout + run.stderr
        selected = re.search(r"Selected: (\d+)/(\d+)", report)
        assert selected is not None, report
        assert int(selected[2]) - int(selected[1]) == len(LEFT_OUT), report
        assert run.returncode == 0, report
    postgres.drop_database(database)
