"""The largest files the importers read, wherever they come from (the API or the CLI).

The HTTP limits (`http.max_worker_import_bytes`, `http.max_station_import_bytes`) are
these by default and may be set lower, never higher: the importers hold a file whole.
"""

from __future__ import annotations

WORKER_FILE_BYTES = 5 * 1024 * 1024
"""An enrollment CSV: about 10,000 rows with room to spare."""

STATION_FILE_BYTES = 20 * 1024 * 1024
"""A station CSV or GeoJSON file: a province's stations with their doors and zones."""
