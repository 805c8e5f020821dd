"""Every label of the page has a translation in every language, and nothing extra.

Labels come from three places: `data-i18n` attributes in the page, `t("...")` calls in
its scripts, and values the API sends that the page translates by prefix
(`t("reason." + entry.reason)`). The last are listed here from the enums that define
them, so a new alert kind or reason without a translation fails this test.
"""

from __future__ import annotations

import json
import re
import typing
from importlib import resources

from contract.maintenance_payloads import DeviceHealth
from contract.payloads import Decision, Direction, DoorState, Reason
from dashboard.core.alert_rules import AlertKind, AlertStatus
from dashboard.core.commands import DashboardCommand, Outcome
from dashboard.core.stations import Amenity, Zone
from dashboard.core.worker_voice import Category, FeedbackKind, FeedbackStatus
from dashboard.storage.devices import PRESENCE
from dashboard.web.ui import LANGUAGES
from gateway.door_controller import LockState

READING_KEYS = (
    # presence (radar, PIR latch, presence events)
    "present",
    "since",
    "motion",
    # door contact and lock (gateway.door_io.DoorIo.status)
    "lock",
    "open",
    "lockdown",
    "fire",
    "tamper",
    "held_open",
    "forced_open",
    # beam pair
    "a_broken",
    "b_broken",
    # how values are shown
    "yes",
    "no",
    "unknown",
)


CONFIRMED_COMMANDS = ("unlock", "lockdown_on", "lockdown_off", "self_test", "restart")
"""Commands the page asks to confirm (`CONFIRM` in app.js)."""

MAP_STATES = ("space", "busy", "full", "offline", "alarm", "lockdown", "fire", "forced")
"""A marker's states (`stateOf` in map.js), named in its title."""


def catalogue(language: str) -> dict[str, str]:
    text = resources.files("dashboard").joinpath(f"i18n/{language}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def value_labels() -> set[str]:
    """The keys of every value the page translates by prefix."""
    device_kinds = typing.get_args(DeviceHealth.model_fields["kind"].annotation)
    prefixed: dict[str, typing.Iterable[str]] = {
        "alert.kind": AlertKind,
        "alert.status": AlertStatus,
        "decision": Decision,
        "reason": Reason,
        "direction": Direction,
        "door.state": DoorState,
        "lock": LockState,
        "zone": Zone,
        "sensor.kind": [*device_kinds, PRESENCE],
        "reading": READING_KEYS,
        "command": DashboardCommand,
        "command.outcome": Outcome,
        "command.confirm": CONFIRMED_COMMANDS,
        "condition": ("lockdown", "fire", "forced_open"),
        "state": MAP_STATES,
        # feedback.js: a report's values
        "feedback.category": Category,
        "feedback.status": FeedbackStatus,
        "feedback.kind": FeedbackKind,
    }
    return {f"{prefix}.{value}" for prefix, values in prefixed.items() for value in values}


def test_every_label_is_in_every_catalogue() -> None:
    static = resources.files("dashboard").joinpath("static/app")
    page = static.joinpath("index.html").read_text("utf-8")
    scripts = [f.read_text("utf-8") for f in static.iterdir() if f.name.endswith(".js")]
    used = set(re.findall(r'data-i18n="([^"]+)"', page))
    for script in scripts:
        used |= set(re.findall(r'\bt\("([a-z_.]+)"\)', script))
    used |= {f"alerts.{verb}" for verb in ("acknowledge", "resolve")}
    used |= value_labels()
    english, chinese = (catalogue(language) for language in LANGUAGES)
    assert used <= set(english), used - set(english)
    assert set(english) == set(chinese)
    assert all(chinese[key] != english[key] for key in english), "every label is translated"


def test_values_are_translated_by_the_prefixes_the_script_uses() -> None:
    # The enum-derived keys above are only worth checking if the script looks them up
    # under the same prefixes.
    script = resources.files("dashboard").joinpath("static/app/app.js").read_text("utf-8")
    for prefix in (
        "alert.kind.",
        "alert.status.",
        "decision.",
        "reason.",
        "direction.",
        "door.state.",
        "lock.",
        "zone.",
        "sensor.kind.",
        "reading.",
        "command.",
        "command.outcome.",
        "command.confirm.",
        "condition.",
    ):
        assert f'"{prefix}" +' in script, prefix
    map_script = resources.files("dashboard").joinpath("static/app/map.js").read_text("utf-8")
    assert 't("state." +' in map_script


PUBLIC_PAGES = ("map.html", "pass.html")
PUBLIC_SCRIPTS = ("map.js", "pass.js", "voice.js", "pass-voice.js")
PUBLIC_KEY = r'"((?:public|pass|amenity|lang|voice|feedback)\.[a-z_.]*[a-z_])"'
"""A whole key in a public page's script."""
PUBLIC_VALUES: dict[str, typing.Iterable[str]] = {
    # Looked up by prefix in map.js and pass.js.
    "public": ("locating", "by_distance", "by_name"),
    "public.state": ("open", "full", "closed", "offline"),
    "pass.status": ("open", "full", "closed", "offline"),
    "pass.order": ("position", "station", "free"),
    # `problemOf` in pass.js: the 403 reasons of `passes._why_not`, then by status.
    "pass.error": ("not_yet", "expired", "suspended", "revoked", "link", "not_valid", "scope"),
    "amenity": Amenity,
    # Reports and suggestions (voice.js, pass-voice.js, map.js).
    "feedback.category": Category,
    "feedback.status": FeedbackStatus,
    "feedback.kind": FeedbackKind,
    "voice.kind": FeedbackKind,
}


def test_the_public_pages_labels_are_in_every_catalogue() -> None:
    static = resources.files("dashboard").joinpath("static")
    used: set[str] = set()
    for name in PUBLIC_PAGES:
        page = static.joinpath(name).read_text("utf-8")
        used |= set(re.findall(r'data-i18n(?:-[a-z]+)?="([^"]+)"', page))
    for name in PUBLIC_SCRIPTS:
        script = static.joinpath("pages", name).read_text("utf-8")
        # Keys are written whole (`t("pass.who", ...)`, `{key: "pass.error.link"}`)...
        used |= set(re.findall(PUBLIC_KEY, script))
        # ...or as a prefix and a value.
        for prefix, values in PUBLIC_VALUES.items():
            if f'"{prefix}." +' in script:
                used |= {f"{prefix}.{value}" for value in values}
    assert "pass.error.server" in used and "amenity.water" in used, "the scan found the lookups"
    for language in LANGUAGES:
        assert used <= set(catalogue(language)), (language, used - set(catalogue(language)))
