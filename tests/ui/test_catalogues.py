"""Every label of the page has a translation in every language, and nothing extra."""

from __future__ import annotations

import json
import re
from importlib import resources

from dashboard.ui import LANGUAGES


def catalogue(language: str) -> dict[str, str]:
    text = resources.files("dashboard").joinpath(f"i18n/{language}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def test_every_label_is_in_every_catalogue() -> None:
    static = resources.files("dashboard").joinpath("static/app")
    page = static.joinpath("index.html").read_text("utf-8")
    script = static.joinpath("app.js").read_text("utf-8")
    used = set(re.findall(r'data-i18n="([^"]+)"', page))
    used |= set(re.findall(r'\bt\("([a-z.]+)"\)', script))
    used |= {f"alerts.{verb}" for verb in ("acknowledge", "resolve")}
    used |= {f"decision.{d}" for d in ("granted", "denied")}
    english, chinese = (catalogue(language) for language in LANGUAGES)
    assert used <= set(english), used - set(english)
    assert set(english) == set(chinese)
    assert all(chinese[key] != english[key] for key in english), "every label is translated"
