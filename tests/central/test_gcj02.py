"""WGS-84 to GCJ-02 against values published by open implementations."""

from __future__ import annotations

import pytest

from dashboard.core.gcj02 import gcj02_to_wgs84, in_china, wgs84_to_gcj02

# (WGS-84 lat, lon) -> (GCJ-02 lat, lon) as published in the test suites of
# googollee/eviltransform (python/test.py) and hujiulong/gcoord
# (test/unit/crs/WGS84.spec.js, to 8 decimals).
REFERENCE = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),  # Shanghai
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),  # Shenzhen
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),  # Beijing
    ((45.0, 123.0), (45.00197815, 123.00607541)),  # gcoord
]


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_known_points(wgs: tuple[float, float], gcj: tuple[float, float]) -> None:
    lat, lon = wgs84_to_gcj02(*wgs)
    assert lat == pytest.approx(gcj[0], abs=1e-8)
    assert lon == pytest.approx(gcj[1], abs=1e-8)


@pytest.mark.parametrize(("wgs", "gcj"), REFERENCE)
def test_back_to_wgs84_within_a_millimetre(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lat, lon = gcj02_to_wgs84(*wgs84_to_gcj02(*wgs))
    # 1e-8 degrees is about a millimetre.
    assert lat == pytest.approx(wgs[0], abs=1e-8)
    assert lon == pytest.approx(wgs[1], abs=1e-8)


def test_outside_china_nothing_moves() -> None:
    assert not in_china(45.0, 183.0)
    assert wgs84_to_gcj02(45.0, 183.0) == (45.0, 183.0)
    assert wgs84_to_gcj02(48.8566, 2.3522) == (48.8566, 2.3522)  # Paris
    assert gcj02_to_wgs84(35.6812, 139.7671) == (35.6812, 139.7671)  # Tokyo


def test_the_shift_in_changsha_is_hundreds_of_metres() -> None:
    from dashboard.services.nearby import distance_km

    wgs = (28.196, 112.977)
    moved_km = distance_km(wgs, wgs84_to_gcj02(*wgs))
    assert 0.2 < moved_km < 0.8, moved_km
