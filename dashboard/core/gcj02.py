"""WGS-84 to GCJ-02, the offset datum that Chinese map services (AutoNavi/高德, Tencent)
draw their tiles in.

Stations are stored in WGS-84 (what GPS and OpenStreetMap give); on a GCJ-02 base map a
WGS-84 point lands 300-600 m from where it belongs, so the map moves points into GCJ-02
for display only. The browser does the same in `dashboard/static/app/tiles.js`; this
module is the reference that code is tested against, and what server-side tools use.

The transform is the one every open implementation shares (eviltransform, coordtransform,
gcoord): a fixed polynomial-and-sine offset on the Krasovsky ellipsoid, applied only
inside a rough box around China; outside it, coordinates pass through unchanged.
"""

from __future__ import annotations

import math

# Krasovsky 1940, the ellipsoid the offset is defined on.
_SEMI_MAJOR_M = 6378245.0
_ECCENTRICITY_SQ = 0.00669342162296594323

# The box the offset applies in; the datum is not defined outside China.
_LON_RANGE = (72.004, 137.8347)
_LAT_RANGE = (0.8293, 55.8271)


def in_china(lat: float, lon: float) -> bool:
    """Whether GCJ-02 shifts this point (the rough box around China every
    implementation uses; Taiwan, Hong Kong and Macau fall inside it too)."""
    return _LON_RANGE[0] <= lon <= _LON_RANGE[1] and _LAT_RANGE[0] <= lat <= _LAT_RANGE[1]


def _lat_offset(x: float, y: float) -> float:
    pi = math.pi
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    out += (20.0 * math.sin(6.0 * pi * x) + 20.0 * math.sin(2.0 * pi * x)) * 2.0 / 3.0
    out += (20.0 * math.sin(pi * y) + 40.0 * math.sin(pi * y / 3.0)) * 2.0 / 3.0
    out += (160.0 * math.sin(pi * y / 12.0) + 320.0 * math.sin(pi * y / 30.0)) * 2.0 / 3.0
    return out


def _lon_offset(x: float, y: float) -> float:
    pi = math.pi
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    out += (20.0 * math.sin(6.0 * pi * x) + 20.0 * math.sin(2.0 * pi * x)) * 2.0 / 3.0
    out += (20.0 * math.sin(pi * x) + 40.0 * math.sin(pi * x / 3.0)) * 2.0 / 3.0
    out += (150.0 * math.sin(pi * x / 12.0) + 300.0 * math.sin(pi * x / 30.0)) * 2.0 / 3.0
    return out


def gcj02_shift(lat: float, lon: float) -> tuple[float, float]:
    """The (lat, lon) offset in degrees GCJ-02 adds at a WGS-84 point in China."""
    x, y = lon - 105.0, lat - 35.0
    d_lat_m, d_lon_m = _lat_offset(x, y), _lon_offset(x, y)
    phi = math.radians(lat)
    w = 1.0 - _ECCENTRICITY_SQ * math.sin(phi) ** 2
    meridian_radius = _SEMI_MAJOR_M * (1.0 - _ECCENTRICITY_SQ) / (w * math.sqrt(w))
    parallel_radius = _SEMI_MAJOR_M / math.sqrt(w) * math.cos(phi)
    return (
        math.degrees(d_lat_m / meridian_radius),
        math.degrees(d_lon_m / parallel_radius),
    )


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """A WGS-84 (lat, lon) as GCJ-02; unchanged outside China."""
    if not in_china(lat, lon):
        return lat, lon
    d_lat, d_lon = gcj02_shift(lat, lon)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float, tolerance_deg: float = 1e-9) -> tuple[float, float]:
    """A GCJ-02 (lat, lon) back in WGS-84, by fixed-point iteration: the shift changes
    so slowly with position that a few rounds reach millimetres."""
    if not in_china(lat, lon):
        return lat, lon
    wgs_lat, wgs_lon = lat, lon
    for _ in range(10):
        gcj_lat, gcj_lon = wgs84_to_gcj02(wgs_lat, wgs_lon)
        err_lat, err_lon = gcj_lat - lat, gcj_lon - lon
        wgs_lat, wgs_lon = wgs_lat - err_lat, wgs_lon - err_lon
        if abs(err_lat) < tolerance_deg and abs(err_lon) < tolerance_deg:
            break
    return wgs_lat, wgs_lon
