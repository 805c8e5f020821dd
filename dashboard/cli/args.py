"""The command line of `yizhan workers|keys|stations ...`, without their work.

Kept apart from `dashboard.cli.workers` so that building the `yizhan` parser (also on a
gateway) loads nothing of the central.
"""

from __future__ import annotations

import argparse
from pathlib import Path

STATUSES = ("active", "suspended", "revoked")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `workers`, `keys` and `stations` to the `yizhan` command line."""
    workers = commands.add_parser("workers", help="enroll, list and revoke workers")
    sub = workers.add_subparsers(dest="workers_command", required=True)

    add = sub.add_parser("add", help="enroll one worker")
    config_option(add)
    add.add_argument("--name", required=True, help="display name (stays in the central)")
    add.add_argument("--platform", required=True, help="meituan, eleme, sf_express, didi, ...")
    add.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    add.add_argument("--valid-from", help="date or time; local time unless it has an offset")
    add.add_argument("--valid-until", help="a date alone includes that whole day")
    add.add_argument("--scope", default="any", help="any, region:430102 or station:cs-0001")
    add.add_argument("--face-id", action="append", default=[], help="face terminal person id")
    add.add_argument("--card", action="append", default=[], help="card number in decimal")

    imp = sub.add_parser("import", help="enroll every row of a CSV file, or none")
    config_option(imp)
    imp.add_argument("file", type=Path, help="CSV file; see docs/credentials.md")

    listing = sub.add_parser("list", help="list workers")
    config_option(listing)
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=1000)

    revoke = sub.add_parser("revoke", help="revoke a worker for good")
    config_option(revoke)
    revoke.add_argument("worker_id", help="w<number>")
    revoke.add_argument("--reason", help="why (kept with the worker, shown in the dashboard)")

    link = sub.add_parser("pass-link", help="issue a personal pass link")
    config_option(link)
    link.add_argument("worker_id", help="w<number>")

    keys = commands.add_parser("keys", help="token signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    stations = commands.add_parser("stations", help="the central's station registry")
    stations_sub = stations.add_subparsers(dest="stations_command", required=True)
    seed = stations_sub.add_parser(
        "import", help="create or replace the stations of a file, all or none"
    )
    config_option(seed)
    seed.add_argument(
        "file", type=Path, help="CSV, GeoJSON (.geojson/.json) or TOML [[stations]] tables"
    )
    config_option(stations_sub.add_parser("list", help="list stations with their numbers"))

    config_option(keys_sub.add_parser("list", help="list signing keys"))
    config_option(
        keys_sub.add_parser("rotate", help="add a key; the oldest retires after an overlap")
    )


def config_option(parser: argparse.ArgumentParser) -> None:
    """`--config FILE`, the central's configuration, as a path."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="the central's TOML file (YIZHAN_* variables override it)",
    )
