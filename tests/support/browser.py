"""Debian's Chromium, headless, driven by Playwright (which never downloads a browser here)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    "Chromium is required for the browser tests and was not found at /usr/bin/chromium. "
    "Install it with: apt-get update && apt-get install -y chromium (scripts/test does this)."
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A running headless Chromium, closed afterwards."""
    assert CHROMIUM.exists(), INSTALL_HINT
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
