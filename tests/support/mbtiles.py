"""Small real MBTiles files (SQLite) and PNG tiles for the base map tests."""

from __future__ import annotations

import sqlite3
import struct
import zlib
from pathlib import Path


def png(shade: int) -> bytes:
    """A real 1x1 grey PNG: distinct bytes for each shade."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(bytes([0, shade]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def make_mbtiles(
    path: Path, tiles: dict[tuple[int, int, int], bytes], fmt: str = "png", max_zoom: int = 2
) -> Path:
    """An MBTiles file with the given tiles, keyed by web map (XYZ) numbers."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
    db.execute(
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, "
        "tile_data BLOB)"
    )
    db.executemany(
        "INSERT INTO metadata VALUES (?, ?)",
        [
            ("name", "test"),
            ("format", fmt),
            ("minzoom", "0"),
            ("maxzoom", str(max_zoom)),
            ("attribution", "© test tiles"),
        ],
    )
    for (z, x, y), data in tiles.items():
        # Stored south-up, as MBTiles (TMS) numbers rows.
        db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, data))
    db.commit()
    db.close()
    return path
