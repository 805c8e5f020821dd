"""Bulk station import from CSV or GeoJSON, with every problem named by row and field.

CSV (UTF-8, a spreadsheet's byte-order mark is fine, one header row; `id` and `name`
required; the header is row 1):

    id,name,lat,lon,capacity,opening_hours,amenities,zones,doors,gateways
    cs-0101,芙蓉路驿站,28.19,112.98,12,,water;charging,rest:10;sleeping:4,main,gw-1

(also `address`, `time_zone` and `accepting`.)

List columns separate items with `;`; `zones` items are `zone` or `zone:capacity`;
`doors` items are `door` or `door:zone` with an optional `:beams` suffix.

GeoJSON: a FeatureCollection of Point features; each feature's `properties` hold the
same fields as the API's station body (lists and objects as JSON), the point gives
`lon`/`lat`. Features are numbered from 1.

TOML: `[[stations]]` tables with the API's station fields, as central configuration
files listed them before stations moved into the database; tables are numbered from 1.

A station may name its `number` (to keep the one its gateways and workers already use);
left out, the registry gives the next one. All rows are checked before anything is
stored: a file with any problem imports nothing.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dashboard.core.import_limits import STATION_FILE_BYTES
from dashboard.core.stations import StationInput

MAX_BYTES = STATION_FILE_BYTES
MAX_ROWS = 50_000
CSV_LIST_COLUMNS = ("amenities", "gateways")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """What is wrong and where; `row` is None for the file as a whole."""

    row: int | None
    field: str | None
    problem: str


@dataclass(frozen=True, slots=True)
class ParsedStations:
    """The stations of a file, or its problems."""

    stations: list[StationInput]
    problems: list[ImportProblem]


def _whole(problem: str) -> ParsedStations:
    return ParsedStations([], [ImportProblem(None, None, problem)])


def _validate(row: int, data: dict[str, Any], problems: list[ImportProblem]) -> StationInput | None:
    try:
        return StationInput.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or None
            text = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                text = "unknown field (check its spelling)"
            problems.append(ImportProblem(row, where, text))
        return None


def _finish(
    stations: list[tuple[int, StationInput]], problems: list[ImportProblem]
) -> ParsedStations:
    first: dict[str, int] = {}
    for row, station in stations:
        seen = first.setdefault(station.id, row)
        if seen != row:
            problems.append(ImportProblem(row, "id", f"{station.id} is also on row {seen}"))
    if problems:
        return ParsedStations([], sorted(problems, key=lambda p: (p.row or 0, p.field or "")))
    return ParsedStations([s for _, s in stations], [])


def parse_csv(data: bytes) -> ParsedStations:
    """Stations from a CSV file."""
    if len(data) > MAX_BYTES:
        return _whole(f"file is larger than {MAX_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _whole("file is not UTF-8 text")
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        # A broken header (a bare newline in a quoted name, say) is bad input, not a crash.
        return _whole(f"header is not valid CSV: {exc}")
    missing = [c for c in ("id", "name") if c not in header]
    if missing:
        return _whole(f"header lacks required column(s): {', '.join(missing)}")
    problems: list[ImportProblem] = []
    stations: list[tuple[int, StationInput]] = []
    try:
        for index, raw in enumerate(reader, start=2):
            if index - 1 > MAX_ROWS:
                return _whole(f"more than {MAX_ROWS} rows")
            if None in raw:
                problems.append(ImportProblem(index, None, "more cells than header columns"))
                continue
            station = _validate(index, _csv_fields(index, raw, problems), problems)
            if station is not None:
                stations.append((index, station))
    except csv.Error as exc:
        return _whole(f"not a readable CSV file: {exc}")
    if not stations and not problems:
        return _whole("the file has no rows")
    return _finish(stations, problems)


def _csv_fields(
    row: int, raw: dict[str, str | None], problems: list[ImportProblem]
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in raw.items():
        text = (value or "").strip()
        if not text:
            continue
        if key in CSV_LIST_COLUMNS:
            data[key] = [item.strip() for item in text.split(";") if item.strip()]
        elif key == "zones":
            zones: dict[str, Any] = {}
            for item in text.split(";"):
                name, _, cap = item.strip().partition(":")
                zones[name] = cap or None
            data["zones"] = zones
        elif key == "doors":
            doors = []
            for item in text.split(";"):
                parts = [p.strip() for p in item.split(":")]
                door: dict[str, Any] = {"id": parts[0]}
                if len(parts) > 1 and parts[1]:
                    door["zone"] = parts[1]
                if len(parts) > 2:
                    door["beams"] = parts[2] == "beams"
                doors.append(door)
            data["doors"] = doors
        elif key == "accepting":
            data[key] = text.lower() not in ("0", "false", "no")
        else:
            data[key] = text
    return data


def parse_toml(data: bytes) -> ParsedStations:
    """Stations from the `[[stations]]` tables of a TOML file."""
    if len(data) > MAX_BYTES:
        return _whole(f"file is larger than {MAX_BYTES} bytes")
    try:
        document = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return _whole("file is not UTF-8 text")
    except tomllib.TOMLDecodeError as exc:
        return _whole(f"not valid TOML: {exc}")
    others = sorted(set(document) - {"stations"})
    if others:
        return _whole(f"only [[stations]] tables belong here, not {', '.join(others)}")
    tables = document.get("stations")
    if not isinstance(tables, list) or not tables:
        return _whole("the file has no [[stations]] tables")
    if len(tables) > MAX_ROWS:
        return _whole(f"more than {MAX_ROWS} stations")
    problems: list[ImportProblem] = []
    stations: list[tuple[int, StationInput]] = []
    for index, table in enumerate(tables, start=1):
        station = _validate(index, table, problems)
        if station is not None:
            stations.append((index, station))
    return _finish(stations, problems)


def parse_file(name: str, data: bytes) -> ParsedStations:
    """Stations from a file, its format told by its name's ending (`.csv`, `.geojson` or
    `.json`, `.toml`)."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "csv":
        return parse_csv(data)
    if suffix in ("geojson", "json"):
        return parse_geojson(data)
    if suffix == "toml":
        return parse_toml(data)
    return _whole(f"cannot tell the format of {name!r}: name it .csv, .geojson or .toml")


def parse_geojson(data: bytes) -> ParsedStations:
    """Stations from a GeoJSON FeatureCollection of points."""
    if len(data) > MAX_BYTES:
        return _whole(f"file is larger than {MAX_BYTES} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _whole(f"not JSON: {exc}")
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        return _whole("expected a GeoJSON FeatureCollection")
    features = document.get("features")
    if not isinstance(features, list):
        return _whole("the FeatureCollection has no 'features' list")
    if len(features) > MAX_ROWS:
        return _whole(f"more than {MAX_ROWS} features")
    if not features:
        return _whole("the file has no features")
    problems: list[ImportProblem] = []
    stations: list[tuple[int, StationInput]] = []
    for index, feature in enumerate(features, start=1):
        fields = _feature_fields(index, feature, problems)
        if fields is None:
            continue
        station = _validate(index, fields, problems)
        if station is not None:
            stations.append((index, station))
    return _finish(stations, problems)


def _feature_fields(
    index: int, feature: object, problems: list[ImportProblem]
) -> dict[str, Any] | None:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        problems.append(ImportProblem(index, None, "not a GeoJSON Feature"))
        return None
    properties = feature.get("properties")
    if not isinstance(properties, dict):
        problems.append(ImportProblem(index, "properties", "must be an object"))
        return None
    fields = dict(properties)
    geometry = feature.get("geometry")
    if geometry is not None:
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(coords, list)
            or len(coords) < 2
            or not all(isinstance(c, int | float) for c in coords[:2])
        ):
            problems.append(ImportProblem(index, "geometry", "must be a Point [lon, lat]"))
            return None
        fields["lon"], fields["lat"] = coords[0], coords[1]
    if "id" not in fields and isinstance(feature.get("id"), str):
        fields["id"] = feature["id"]
    return fields
