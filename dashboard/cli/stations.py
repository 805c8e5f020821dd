"""`yizhan stations ...`: seed the central's station registry from a file, and list it.

The database is the one registry of stations; this is how a new installation (or one
whose configuration file still listed `[[stations]]`) puts its stations there. An import
creates the stations it lists and replaces those it names; it changes no other row.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from dashboard.cli.database import open_central_database
from dashboard.core.config import load_central_settings
from dashboard.services.station_import import parse_file
from dashboard.storage.store import StationNumberError, Store


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Carry out a `stations` command; 0 on success, 1 when the file is refused."""
    out, err = out or sys.stdout, err or sys.stderr
    settings = load_central_settings(args.config)
    store = Store(open_central_database(settings))
    try:
        if args.stations_command == "list":
            _list(store, out)
            return 0
        return _import(store, args, out, err)
    finally:
        store.close()


def _import(store: Store, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        err.write(f"yizhan: cannot read {args.file}: {exc.strerror}\n")
        return 1
    parsed = parse_file(args.file.name, data)
    if parsed.problems:
        err.write(f"{args.file}: {len(parsed.problems)} problem(s); nothing was imported\n")
        for problem in parsed.problems:
            where = "file" if problem.row is None else f"station {problem.row}"
            field = f", {problem.field}" if problem.field else ""
            err.write(f"  {where}{field}: {problem.problem}\n")
        return 1
    try:
        created = store.put_stations(parsed.stations)
    except StationNumberError as exc:
        err.write(f"{args.file}: {exc}; nothing was imported\n")
        return 1
    count = len(parsed.stations)
    out.write(
        f"imported {count} station{'' if count == 1 else 's'} ({created} new); a running "
        "central lists them at once and sends their gateways' credential maps within 30 s\n"
    )
    _list(store, out, only={s.id for s in parsed.stations})
    return 0


def _list(store: Store, out: TextIO, only: set[str] | None = None) -> None:
    for station in store.stations():
        if only is not None and station.id not in only:
            continue
        number = "-" if station.number is None else str(station.number)
        region = "-" if station.region_code is None else str(station.region_code)
        state = "" if station.registered else "\t(unregistered)"
        out.write(f"{station.id}\t{number}\t{region}\t{station.name}{state}\n")
