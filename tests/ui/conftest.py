"""A central with a few dozen stations, for the operator UI tests (in Chromium: the
`browser` fixture of tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.core.config import OccupancySettings
from dashboard.core.stations import StationInput
from servicekit.settings import BrokerSettings
from tests.central.conftest import STATIONS, central_settings
from tests.support.running_central import RunningCentral, run_central

EXTRA = 38
"""Stations besides the two described ones, spread over Changsha so that some cluster."""


def spread_stations(count: int) -> list[StationInput]:
    """`count` stations on a grid around Changsha, every third one with a shower."""
    return [
        StationInput(
            id=f"cs-{n + 100:04d}",
            name=f"驿站 {n + 100}",
            lat=28.10 + (n % 7) * 0.03,
            lon=112.85 + (n // 7) * 0.04,
            capacity=10,
            amenities=["water", "shower"] if n % 3 == 0 else ["water"],
        )
        for n in range(count)
    ]


@pytest.fixture()
def ui_central(tmp_path: Path, broker_settings: BrokerSettings) -> Iterator[RunningCentral]:
    """The real central on SQLite and the test's broker, with 40 stations."""
    settings = central_settings(
        tmp_path,
        broker_settings.url,
        f"sqlite:///{tmp_path / 'central.db'}",
        # History samples every half second, so the chart has some without a minute's wait.
        occupancy=OccupancySettings(history_step_s=0.5),
    )
    yield from run_central(settings, stations=[*STATIONS, *spread_stations(EXTRA)])
