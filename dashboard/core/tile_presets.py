"""The map's base layers: which tile servers each `http.tiles` preset draws from, the
datum their tiles are drawn in, and the image origins the page's CSP must allow.

Pure data and functions: the settings choose a preset, the web layer hands the result to
the browser (`/ui/config.json`) and to the Content Security Policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

TilePreset = Literal["osm", "tianditu", "amap", "mbtiles", "custom", "none"]
Datum = Literal["wgs84", "gcj02"]

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

# Tianditu's WMTS in Web Mercator (the `_w` layers): `vec` the roads and areas, `cva` the
# Chinese labels drawn over them. Its datum is CGCS2000, within centimetres of WGS-84.
TIANDITU_HOSTS = tuple(f"t{n}.tianditu.gov.cn" for n in range(8))
TIANDITU_ATTRIBUTION = "© 天地图 Tianditu"


def _tianditu_url(layer: str, key: str) -> str:
    return (
        f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
        f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
    )


# AutoNavi's public road map; its tiles are in GCJ-02.
AMAP_URL = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)
AMAP_HOSTS = tuple(f"webrd0{n}.is.autonavi.com" for n in range(1, 5))
AMAP_ATTRIBUTION = "© 高德地图 AutoNavi"

MBTILES_PATH = "/tiles/{z}/{x}/{y}"


@dataclass(frozen=True)
class TileLayer:
    """One layer of tiles, as Leaflet's `L.tileLayer` takes it."""

    url: str
    subdomains: str = ""
    attribution: str = ""
    max_zoom: int = 19


@dataclass(frozen=True)
class BaseMap:
    """The layers a preset draws, bottom first, and the datum of their tiles."""

    preset: TilePreset
    layers: tuple[TileLayer, ...] = ()
    datum: Datum = "wgs84"
    image_origins: tuple[str, ...] = field(default=())
    """Origins beyond the page's own that the map's images come from (for the CSP)."""

    @property
    def tile_url(self) -> str:
        """The bottom layer's URL template, or empty when there are no tiles."""
        return self.layers[0].url if self.layers else ""

    def browser_config(self) -> dict[str, object]:
        """What the map page is given (`/ui/config.json`)."""
        return {
            "preset": self.preset,
            "datum": self.datum,
            "layers": [
                {
                    "url": layer.url,
                    "subdomains": layer.subdomains,
                    "attribution": layer.attribution,
                    "max_zoom": layer.max_zoom,
                }
                for layer in self.layers
            ],
        }


def origin_of(url: str) -> str:
    """The CSP source of a tile URL template: its scheme and host, with a `{s}`
    subdomain placeholder widened to a wildcard (Leaflet picks one per tile)."""
    parts = urlsplit(url)
    if "{s}" in parts.netloc:
        return f"{parts.scheme}://*.{parts.netloc.split('.', 1)[1]}"
    return f"{parts.scheme}://{parts.netloc}"


def base_map(
    preset: TilePreset,
    *,
    tile_url: str = "",
    attribution: str = "",
    tile_datum: Datum = "wgs84",
    tianditu_key: str = "",
    mbtiles_format: str = "png",
    mbtiles_max_zoom: int = 19,
) -> BaseMap:
    """The base map of a preset; the keyword arguments are the settings some need."""
    if preset == "osm":
        return BaseMap(
            preset,
            (TileLayer(OSM_URL, attribution=OSM_ATTRIBUTION),),
            image_origins=("https://tile.openstreetmap.org",),
        )
    if preset == "tianditu":
        return BaseMap(
            preset,
            tuple(
                TileLayer(
                    _tianditu_url(layer, tianditu_key),
                    subdomains="01234567",
                    attribution=TIANDITU_ATTRIBUTION if layer == "vec" else "",
                    max_zoom=18,
                )
                for layer in ("vec", "cva")
            ),
            image_origins=tuple(f"https://{host}" for host in TIANDITU_HOSTS),
        )
    if preset == "amap":
        return BaseMap(
            preset,
            (TileLayer(AMAP_URL, subdomains="1234", attribution=AMAP_ATTRIBUTION, max_zoom=18),),
            datum="gcj02",
            image_origins=tuple(f"https://{host}" for host in AMAP_HOSTS),
        )
    if preset == "mbtiles":
        return BaseMap(
            preset,
            (
                TileLayer(
                    f"{MBTILES_PATH}.{mbtiles_format}",
                    attribution=attribution,
                    max_zoom=mbtiles_max_zoom,
                ),
            ),
        )
    if preset == "custom" and tile_url:
        return BaseMap(
            preset,
            (
                TileLayer(
                    tile_url,
                    subdomains="abc" if "{s}" in tile_url else "",
                    attribution=attribution,
                ),
            ),
            datum=tile_datum,
            image_origins=() if tile_url.startswith("/") else (origin_of(tile_url),),
        )
    return BaseMap("none")
