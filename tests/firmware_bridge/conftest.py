"""Fixtures for driver tests: gpiozero mock pins, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory


@pytest.fixture()
def mock_factory() -> Iterator[Any]:
    """A fresh MockFactory as the default pin factory; pins and reservations cleared after."""
    saved = Device.pin_factory
    factory = MockFactory()
    Device.pin_factory = factory
    try:
        yield factory
    finally:
        factory.reset()
        Device.pin_factory = saved
