"""The command line of `yizhan workers ...` and `yizhan keys ...`, without their work.

Kept apart from `dashboard.cli.workers` so that building the `yizhan` parser (also on a
gateway) loads nothing of the central.
"""

from __future__ import annotations

import argparse
from pathlib import Path

STATUSES = ("active", "suspended", "revoked")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `workers` and `keys` to the `yizhan` command line."""
    workers = commands.add_parser("workers", help="enroll, list and revoke workers")
    sub = workers.add_subparsers(dest="workers_command", required=True)

    add = sub.add_parser("add", help="enroll one worker")
    _config(add)
    add.add_argument("--name", required=True, help="display name (stays in the central)")
    add.add_argument("--platform", required=True, help="meituan, eleme, sf_express, didi, ...")
    add.add_argument("--group", action="append", default=[], help="a group (repeatable)")
    add.add_argument("--valid-from", help="date or time; local time unless it has an offset")
    add.add_argument("--valid-until", help="a date alone includes that whole day")
    add.add_argument("--scope", default="any", help="any, region:430102 or station:cs-0001")
    add.add_argument("--face-id", action="append", default=[], help="face terminal person id")
    add.add_argument("--card", action="append", default=[], help="card number in decimal")

    imp = sub.add_parser("import", help="enroll every row of a CSV file, or none")
    _config(imp)
    imp.add_argument("file", type=Path, help="CSV file; see docs/credentials.md")

    listing = sub.add_parser("list", help="list workers")
    _config(listing)
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=1000)

    revoke = sub.add_parser("revoke", help="revoke a worker for good")
    _config(revoke)
    revoke.add_argument("worker_id", help="w<number>")

    link = sub.add_parser("pass-link", help="issue a personal pass link")
    _config(link)
    link.add_argument("worker_id", help="w<number>")

    keys = commands.add_parser("keys", help="token signing keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    _config(keys_sub.add_parser("list", help="list signing keys"))
    _config(keys_sub.add_parser("rotate", help="add a key; the oldest retires after an overlap"))


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="the central's TOML file")
