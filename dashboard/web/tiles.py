"""`/tiles/{z}/{x}/{y}.<format>`: the map's base tiles from the configured MBTiles file,
for an intranet whose screens cannot reach a tile server (`http.tiles = "mbtiles"`).

Public, like the page's scripts: base map imagery says nothing about stations or people.
A tile the file lacks is a 404 (Leaflet leaves that square blank), a path that is not
tile numbers a 422. Tiles never change while the central runs, so browsers and proxies
may keep them a day.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import Response

from dashboard.core.config import HttpSettings
from dashboard.core.tile_presets import BaseMap, base_map
from dashboard.storage.mbtiles import MAX_ZOOM, MbtilesFile
from dashboard.web.errors import ApiError, error_responses

TILE_MAX_AGE_S = 86400


def tiles_router(tiles: MbtilesFile) -> APIRouter:
    """The tile route over one open MBTiles file."""
    router = APIRouter(tags=["map tiles"])
    info = tiles.info

    @router.get(
        "/tiles/{z}/{x}/{y}.{ext}",
        response_class=Response,
        responses={
            200: {"content": {info.media_type: {}}, "description": "The tile's image."},
            **error_responses(404, 422, 503),
        },
    )
    def tile(
        z: Annotated[int, PathParam(ge=0, le=MAX_ZOOM)],
        x: Annotated[int, PathParam(ge=0)],
        y: Annotated[int, PathParam(ge=0)],
        ext: Annotated[str, PathParam(pattern=r"^(png|jpg|jpeg|webp)$")],
    ) -> Response:
        """One tile of the base map, numbered as web maps do (north-up `y`)."""
        if ext.replace("jpeg", "jpg") != info.format:
            raise ApiError(404, f"this tile set holds {info.format} tiles, not {ext}")
        try:
            data = tiles.tile(z, x, y)
        except sqlite3.Error as exc:
            # The file was replaced or damaged while the central runs: say so, per tile.
            raise ApiError(503, f"the tile file cannot be read: {exc}") from exc
        if data is None:
            raise ApiError(404, f"no tile {z}/{x}/{y} in this tile set")
        return Response(
            data,
            media_type=info.media_type,
            headers={"Cache-Control": f"public, max-age={TILE_MAX_AGE_S}"},
        )

    return router


def base_map_of(http: HttpSettings) -> tuple[BaseMap, MbtilesFile | None]:
    """The configured base map, and the MBTiles file it serves when it is `mbtiles`
    (opened here, so a missing or wrong file stops the central with a clear error)."""
    preset = http.base_preset
    if preset != "mbtiles" or http.mbtiles_path is None:
        base = base_map(
            preset,
            tile_url=http.tile_url,
            attribution=http.tile_attribution,
            tile_datum=http.tile_datum,
            tianditu_key=http.tianditu_key,
        )
        return base, None
    tiles = MbtilesFile(http.mbtiles_path)
    base = base_map(
        "mbtiles",
        attribution=http.tile_attribution or tiles.info.attribution,
        mbtiles_format=tiles.info.format,
        mbtiles_max_zoom=tiles.info.max_zoom,
    )
    return base, tiles
