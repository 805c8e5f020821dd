"""Map tiles from an MBTiles file, for maps on a network that cannot reach a tile server.

An MBTiles file (https://github.com/mapbox/mbtiles-spec, 1.3) is SQLite: a `metadata`
table of name/value pairs (`format` says png, jpg or webp) and a `tiles` table keyed by
`zoom_level`, `tile_column` and `tile_row`, the row counted from the south (TMS), so a
web map's `{y}` is flipped before the lookup. The file is opened read-only: the central
never writes to it.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from servicekit.settings import ConfigError

RASTER_FORMATS = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}
MAX_ZOOM = 30


def tms_row(zoom: int, y: int) -> int:
    """The MBTiles (TMS, south-up) row of a web map's (XYZ, north-up) tile row."""
    return (1 << zoom) - 1 - y


@dataclass(frozen=True)
class TileSetInfo:
    """What the file's metadata says about its tiles."""

    format: str
    media_type: str
    name: str = ""
    attribution: str = ""
    min_zoom: int = 0
    max_zoom: int = 19


class MbtilesFile:
    """One MBTiles file, read-only, shared by the request threads."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise ConfigError(f"http.mbtiles_path: no file {path}")
        try:
            self._db = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False
            )
            self.info = self._read_info(path)
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"http.mbtiles_path: {path} is not an MBTiles file: {exc}") from exc
        self._lock = threading.Lock()

    def _read_info(self, path: Path) -> TileSetInfo:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if not {"metadata", "tiles"} <= tables:
            raise ConfigError(
                f"http.mbtiles_path: {path} has no metadata and tiles tables: not MBTiles"
            )
        meta = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
        fmt = str(meta.get("format", "png")).lower().replace("jpeg", "jpg")
        if fmt not in RASTER_FORMATS:
            raise ConfigError(
                f"http.mbtiles_path: {path} holds {fmt!r} tiles; the map draws raster "
                f"tiles: {', '.join(RASTER_FORMATS)}"
            )
        return TileSetInfo(
            format=fmt,
            media_type=RASTER_FORMATS[fmt],
            name=str(meta.get("name", "")),
            attribution=str(meta.get("attribution", "")),
            min_zoom=_zoom(meta.get("minzoom"), 0),
            max_zoom=_zoom(meta.get("maxzoom"), 19),
        )

    def tile(self, zoom: int, x: int, y: int) -> bytes | None:
        """The image of one tile in web map (XYZ) numbering, or None when the file has
        none there."""
        if not (0 <= x < 1 << zoom and 0 <= y < 1 << zoom):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT tile_data FROM tiles "
                "WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (zoom, x, tms_row(zoom, y)),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        """Close the file."""
        self._db.close()


def _zoom(value: object, default: int) -> int:
    try:
        zoom = int(str(value))
    except ValueError:
        return default
    return min(max(zoom, 0), MAX_ZOOM)
