"""Board profiles: which pin is which, in TOML, validated before anything touches GPIO.

A profile describes one gateway board: its doors (relay, door contact, REX, optional
fire and tamper inputs, beam pair, PIR), board-wide fire and tamper inputs shared by all
doors, and the serial ports of QR scanners and presence radars. :func:`load_profile`
parses it with ``tomllib``, validates it with pydantic, then checks what a schema cannot
(a pin used twice, a scanner serving a door that does not exist, the UART pins reused).

Every problem becomes a :class:`ProfileError` that names the file, the line of the
offending key, what is wrong and how to fix it: the person reading it is usually a field
technician with a text editor, not someone who can read a stack trace.
"""

from __future__ import annotations

import difflib
import re
import sys
import tomllib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

__all__ = [
    "BeamPair",
    "BoardInfo",
    "BoardProfile",
    "ContactInput",
    "DoorProfile",
    "FeedbackOutputs",
    "FireInput",
    "PirInput",
    "ProfileError",
    "ProfileProblem",
    "RadarPort",
    "RelayOutput",
    "RexInput",
    "ScannerPort",
    "TamperInput",
    "WiegandInput",
    "format_path",
    "key_lines",
    "line_of",
    "load_profile",
    "load_shipped_profile",
    "parse_profile",
    "shipped_profiles",
]

KeyPath = tuple[str | int, ...]
"""A key's place in the TOML document, e.g. ``("doors", 1, "relay", "pin")``."""
KeyLines = dict[KeyPath, int]

# --- the 40-pin header ----------------------------------------------------------------------

BCM_TO_PHYSICAL: dict[int, int] = {
    2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18,
    10: 19, 9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 5: 29, 6: 31, 12: 32, 13: 33, 19: 35,
    16: 36, 26: 37, 20: 38, 21: 40,
}  # fmt: skip
PHYSICAL_TO_BCM = {board: bcm for bcm, board in BCM_TO_PHYSICAL.items()}
_POWER_PINS = {1: "3V3", 17: "3V3", 2: "5V", 4: "5V"}
_GROUND_PINS = {6, 9, 14, 20, 25, 30, 34, 39}
_ID_EEPROM_PINS = {27: 0, 28: 1}  # physical -> BCM; reserved for HAT identification
UART_PINS = (14, 15)
# Ports that are the header UART on GPIO14/15 (Pi 4 and Pi 5 alike).
HEADER_UART_PORTS = frozenset({"/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0"})
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 256000, 460800)

_PIN_FIX = 'use a BCM GPIO number 2-27 (e.g. 17), or a name like "GPIO17" or "BOARD11"'


def _parse_pin(value: object) -> int:
    """Accept 17, "GPIO17", "BCM17" or "BOARD11"; return the BCM number."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"a pin must be a number or a name, not {value!r}. Fix: {_PIN_FIX}")
    if isinstance(value, int):
        bcm = value
    else:
        match = re.fullmatch(r"\s*(GPIO|BCM|BOARD)\s*(\d+)\s*", value, re.IGNORECASE)
        if not match:
            raise ValueError(f"{value!r} is not a pin name. Fix: {_PIN_FIX}")
        kind, number = match.group(1).upper(), int(match.group(2))
        if kind == "BOARD":
            return _physical_to_bcm(number)
        bcm = number
    if bcm in (0, 1):
        raise ValueError(f"GPIO{bcm} is reserved for the HAT ID EEPROM. Fix: {_PIN_FIX}")
    if not 2 <= bcm <= 27:
        raise ValueError(f"GPIO{bcm} is not on the 40-pin header. Fix: {_PIN_FIX}")
    return bcm


def _physical_to_bcm(number: int) -> int:
    if number in PHYSICAL_TO_BCM:
        return PHYSICAL_TO_BCM[number]
    if number in _POWER_PINS:
        what = f"{_POWER_PINS[number]} power"
    elif number in _GROUND_PINS:
        what = "ground"
    elif number in _ID_EEPROM_PINS:
        what = f"GPIO{_ID_EEPROM_PINS[number]}, reserved for the HAT ID EEPROM"
    else:
        what = "not a pin of the 40-pin header (1-40)"
    raise ValueError(f"physical pin {number} is {what}, not a usable GPIO. Fix: {_PIN_FIX}")


Pin = Annotated[int, BeforeValidator(_parse_pin)]
Pull = Literal["up", "down", "floating"]


# --- models ---------------------------------------------------------------------------------


class _Model(BaseModel):
    # Strict, so that "true" in quotes or 17.0 is an error instead of a silent guess.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Input(_Model):
    pin: Pin
    active_high: bool = True
    pull: Pull = "up"
    bounce_ms: Annotated[int, Field(ge=0, le=1000)] | None = None


class ContactInput(_Input):
    """Door position switch. Asserted = door open. Default: NC reed to GND, pull-up."""


class RexInput(_Input):
    """Request-to-exit button. Asserted = pressed. Default: NO button to GND, pull-up."""

    active_high: bool = False


class FireInput(_Input):
    """Fire alarm relay through an optocoupler. Asserted = fire. Default: pulls low."""

    active_high: bool = False


class TamperInput(_Input):
    """Tamper switch. Asserted = tripped. Default: NC switch to GND, pull-up."""


class PirInput(_Input):
    """PIR motion sensor (HC-SR501 drives 3.3 V high on motion)."""

    pull: Pull = "down"


class BeamPair(_Model):
    """Two IR beams across the doorway: ``a`` on the outside, ``b`` on the inside."""

    a: Pin
    b: Pin
    active_high: bool = False  # open-collector receivers pull low when the beam is broken
    pull: Pull = "up"


class RelayOutput(_Model):
    """Lock relay. ``polarity`` has no default: guessing it wrong locks people in or out."""

    pin: Pin
    polarity: Literal["fail_safe", "fail_secure"]
    active_high: bool = True


class WiegandInput(_Model):
    """A face terminal or card reader speaking Wiegand on two lines, D0 and D1.

    Readers drive 5 V: wire D0 and D1 through a level shifter (or a divider) to 3.3 V.
    The lines idle high and pull low for each bit, so the inputs use pull-ups.
    """

    d0: Pin
    d1: Pin
    bits: Literal[26, 34] = 26
    direction: Literal["in", "out"] = "in"
    kind: Literal["face", "card"]
    """`face`: the terminal sends the id of the person it recognised; `card`: a card number."""


class FeedbackOutputs(_Model):
    """LEDs and a buzzer at the door that show the decision; each output is optional."""

    green: Pin | None = None
    red: Pin | None = None
    buzzer: Pin | None = None
    active_high: bool = True
    """False for driver boards that switch on with a low input."""


class DoorProfile(_Model):
    """One door and everything wired to it."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=32)]
    name: str | None = None
    relay: RelayOutput
    contact: ContactInput
    rex: RexInput | None = None
    fire: FireInput | None = None
    tamper: TamperInput | None = None
    beams: BeamPair | None = None
    pir: PirInput | None = None
    wiegand: WiegandInput | None = None
    feedback: FeedbackOutputs | None = None


class _SerialPort(_Model):
    port: Annotated[str, Field(min_length=1)]


class ScannerPort(_SerialPort):
    """A QR scanner on a serial port, serving one door in one direction."""

    id: str
    baud: int = 9600
    door: str
    direction: Literal["in", "out"]
    model: str = "gm65"


class RadarPort(_SerialPort):
    """A presence radar on a serial port (LD2410 speaks 256000 baud by default)."""

    id: str
    baud: int = 256000
    model: Literal["ld2410", "ld2450"] = "ld2410"
    zone: str | None = None


class BoardInfo(_Model):
    """What the board is."""

    model: str
    header: Literal["40-pin"] = "40-pin"
    notes: str | None = None


class BoardProfile(_Model):
    """A whole gateway board."""

    board: BoardInfo
    fire: FireInput | None = None
    tamper: TamperInput | None = None
    doors: Annotated[list[DoorProfile], Field(min_length=1)]
    scanners: list[ScannerPort] = []
    radars: list[RadarPort] = []

    def door(self, door_id: str) -> DoorProfile:
        """The door called ``door_id``."""
        for door in self.doors:
            if door.id == door_id:
                return door
        raise KeyError(door_id)

    def fire_for(self, door: DoorProfile) -> FireInput | None:
        """The fire input a door listens to: its own, else the board's."""
        return door.fire or self.fire

    def tamper_for(self, door: DoorProfile) -> TamperInput | None:
        """The tamper input a door reports: its own, else the board's."""
        return door.tamper or self.tamper


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileProblem:
    """One thing wrong with a profile."""

    line: int
    key: str
    message: str
    fix: str
    column: int | None = None

    def render(self, source: str) -> str:
        """``file:line[:col]: key: message. Fix: fix``"""
        where = f"{source}:{self.line}" + (f":{self.column}" if self.column else "")
        key = f"{self.key}: " if self.key else ""
        return f"{where}: {key}{self.message}. Fix: {self.fix}"


class ProfileError(ValueError):
    """A profile could not be loaded. ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[ProfileProblem]) -> None:
        self.source = source
        self.problems = tuple(sorted(problems, key=lambda p: (p.line, p.key)))
        super().__init__("\n".join(p.render(source) for p in self.problems))


# --- loading --------------------------------------------------------------------------------


def load_profile(path: str | Path) -> BoardProfile:
    """Read and validate a profile file; raise :class:`ProfileError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(
            str(path), [ProfileProblem(1, "", f"cannot read the file ({exc})", "check the path")]
        ) from exc
    return parse_profile(text, source=str(path))


def parse_profile(text: str, *, source: str = "<profile>") -> BoardProfile:
    """Validate profile text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(source, [_syntax_problem(exc, text)]) from exc
    lines = key_lines(text)
    try:
        profile = BoardProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(source, [_schema_problem(e, lines) for e in exc.errors()]) from exc
    problems = _cross_checks(profile, lines)
    if problems:
        raise ProfileError(source, problems)
    return profile


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped in ``hardware/profiles``."""
    folder = resources.files("hardware") / "profiles"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_shipped_profile(name: str) -> BoardProfile:
    """Load a shipped profile by name, e.g. ``"raspberry-pi-4"``."""
    resource = resources.files("hardware") / "profiles" / f"{name}.toml"
    if not resource.is_file():
        close = difflib.get_close_matches(name, shipped_profiles(), n=1)
        hint = f'did you mean "{close[0]}"?' if close else f"pick one of {shipped_profiles()}"
        raise ProfileError(name, [ProfileProblem(1, "", "no such shipped profile", hint)])
    return parse_profile(
        resource.read_text(encoding="utf-8"), source=f"hardware/profiles/{name}.toml"
    )


def _syntax_problem(exc: tomllib.TOMLDecodeError, text: str) -> ProfileProblem:
    message = str(exc)
    # tomllib (3.11) puts the position only in the message text.
    where = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if where:
        line, column = int(where.group(1)), int(where.group(2))
        message = message[: where.start()].strip()
    else:
        line, column = max(1, len(text.splitlines())), None
        message = re.sub(r"\s*\(at end of document\)", "", message) + " at the end of the file"
    return ProfileProblem(
        line,
        "",
        f"TOML syntax error: {message}",
        'check quotes, brackets and "key = value" on this line',
        column,
    )


_EXPECTED = {
    "bool_type": "true or false (no quotes)",
    "int_type": "a whole number (no quotes)",
    "string_type": "text in double quotes",
    "model_type": "a table",
    "dict_type": "a table",
    "list_type": "an array of tables",
}

_FIXES: dict[str, str] = {
    "relay": 'add a [doors.relay] table under this door with pin = 17 and polarity = "fail_safe"',
    "contact": "add a [doors.contact] table under this door with the door switch pin, "
    "e.g. pin = 27",
    "polarity": 'add polarity = "fail_safe" (maglock: power locks) or "fail_secure" '
    "(strike: power releases)",
    "port": 'add port = "/dev/serial0" (UART on GPIO14/15) or a USB path such as '
    '"/dev/serial/by-id/usb-..."',
    "doors": "add at least one [[doors]] table with id, [doors.relay] and [doors.contact]",
    "board": 'add a [board] table with model = "Raspberry Pi 4 Model B"',
    "id": 'add id = "front" (lowercase letters, digits, - and _)',
    "door": "name the door this scanner serves with door = <one of the door ids>",
    "direction": 'add direction = "in" or "out"',
    "kind": 'add kind = "face" (a face terminal) or "card" (a card reader)',
    "d0": "add d0 = <the GPIO the reader's D0 line reaches through the level shifter>",
    "d1": "add d1 = <the GPIO the reader's D1 line reaches through the level shifter>",
    "model": 'add model = "Raspberry Pi 4 Model B"',
}


def _schema_problem(error: Any, lines: KeyLines) -> ProfileProblem:
    loc: KeyPath = tuple(p for p in error["loc"] if isinstance(p, str | int))
    key = format_path(loc)
    line = line_of(loc, lines)
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    kind: str = error["type"]
    given = error.get("input")
    if kind == "missing":
        fix = _FIXES.get(last, f"add {last} = ...")
        return ProfileProblem(line, format_path(loc[:-1]), f"required key '{last}' is missing", fix)
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(last, allowed, n=1, cutoff=0.6)
        fix = (
            f"did you mean '{close[0]}'?"
            if close
            else f"remove it; allowed here: {', '.join(allowed)}"
        )
        return ProfileProblem(line, key, f"unknown key '{last}'", fix)
    if kind == "value_error":
        message = str(error["ctx"]["error"])
        what, _, fix = message.partition(". Fix: ")
        return ProfileProblem(line, key, what, fix or "correct the value")
    if kind in _EXPECTED:
        return ProfileProblem(
            line,
            key,
            f"wrong type: expected {_EXPECTED[kind]}, got {given!r}",
            f"write {last} as {_EXPECTED[kind]}",
        )
    if kind == "literal_error":
        return ProfileProblem(
            line, key, f"{given!r} is not allowed", f"use one of {error['ctx']['expected']}"
        )
    if kind == "string_pattern_mismatch":
        return ProfileProblem(
            line, key, f"{given!r} is not a valid id", "use lowercase letters, digits, - and _"
        )
    if kind == "too_short" and last == "doors":
        return ProfileProblem(line, key, "no doors", _FIXES["doors"])
    if kind == "string_too_short" and last == "port":
        return ProfileProblem(line, key, "the serial port is empty", _FIXES["port"])
    return ProfileProblem(line, key, str(error["msg"]), "correct the value")


def _allowed_keys(loc: KeyPath) -> list[str]:
    """Field names of the model found at ``loc`` (list indices skipped)."""
    model: type[BaseModel] = BoardProfile
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = _inner_model(field.annotation) if field else None
        if inner is None:
            return []
        model = inner
    return list(model.model_fields)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, Annotated):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


# --- checks across keys ---------------------------------------------------------------------


def _pins_in_use(profile: BoardProfile) -> list[tuple[int, KeyPath]]:
    uses: list[tuple[int, KeyPath]] = []
    for name in ("fire", "tamper"):
        board_input: _Input | None = getattr(profile, name)
        if board_input is not None:
            uses.append((board_input.pin, (name, "pin")))
    for i, door in enumerate(profile.doors):
        base: KeyPath = ("doors", i)
        uses.append((door.relay.pin, (*base, "relay", "pin")))
        for name in ("contact", "rex", "fire", "tamper", "pir"):
            door_input: _Input | None = getattr(door, name)
            if door_input is not None:
                uses.append((door_input.pin, (*base, name, "pin")))
        if door.beams is not None:
            uses.append((door.beams.a, (*base, "beams", "a")))
            uses.append((door.beams.b, (*base, "beams", "b")))
        if door.wiegand is not None:
            uses.append((door.wiegand.d0, (*base, "wiegand", "d0")))
            uses.append((door.wiegand.d1, (*base, "wiegand", "d1")))
        if door.feedback is not None:
            for name in ("green", "red", "buzzer"):
                pin: int | None = getattr(door.feedback, name)
                if pin is not None:
                    uses.append((pin, (*base, "feedback", name)))
    return uses


def _cross_checks(profile: BoardProfile, lines: KeyLines) -> list[ProfileProblem]:
    problems: list[ProfileProblem] = []
    uses = _pins_in_use(profile)
    first_use: dict[int, KeyPath] = {}
    for pin, path in uses:
        if pin in first_use:
            other = first_use[pin]
            problems.append(
                ProfileProblem(
                    line_of(path, lines),
                    format_path(path),
                    f"GPIO{pin} is used twice: by {format_path(other)} "
                    f"(line {line_of(other, lines)}) and by {format_path(path)} "
                    f"(line {line_of(path, lines)})",
                    "give each signal its own pin; inputs shared by all doors (fire, tamper) "
                    "go once at board level as [fire] / [tamper]",
                )
            )
        else:
            first_use[pin] = path

    serial: list[tuple[str, KeyPath]] = []
    serial += [(s.port, ("scanners", i, "port")) for i, s in enumerate(profile.scanners)]
    serial += [(r.port, ("radars", i, "port")) for i, r in enumerate(profile.radars)]
    seen_ports: dict[str, KeyPath] = {}
    for port, path in serial:
        if port in seen_ports:
            other = seen_ports[port]
            problems.append(
                ProfileProblem(
                    line_of(path, lines),
                    format_path(path),
                    f"serial port {port} is used twice: by {format_path(other)} "
                    f"(line {line_of(other, lines)}) and by {format_path(path)}",
                    "each scanner and radar needs its own port; use /dev/serial/by-id/... "
                    "names for USB devices",
                )
            )
        seen_ports.setdefault(port, path)
        if port in HEADER_UART_PORTS:
            for pin, pin_path in uses:
                if pin in UART_PINS:
                    problems.append(
                        ProfileProblem(
                            line_of(pin_path, lines),
                            format_path(pin_path),
                            f"GPIO{pin} is the header UART (TX/RX), which {format_path(path)} "
                            f"(line {line_of(path, lines)}) uses as {port}",
                            "move this signal to a free GPIO, or put the serial device on USB",
                        )
                    )

    bauds: list[tuple[int, KeyPath]] = []
    bauds += [(s.baud, ("scanners", i, "baud")) for i, s in enumerate(profile.scanners)]
    bauds += [(r.baud, ("radars", i, "baud")) for i, r in enumerate(profile.radars)]
    for baud, where in bauds:
        if baud not in BAUD_RATES:
            problems.append(
                ProfileProblem(
                    line_of(where, lines),
                    format_path(where),
                    f"{baud} is not a standard baud rate",
                    f"use the device's rate, one of {', '.join(map(str, BAUD_RATES))}",
                )
            )

    door_ids = [d.id for d in profile.doors]
    seen_ids: set[str] = set()
    for i, door_id in enumerate(door_ids):
        if door_id in seen_ids:
            where = ("doors", i, "id")
            problems.append(
                ProfileProblem(
                    line_of(where, lines),
                    format_path(where),
                    f"door id '{door_id}' is used twice",
                    "give every door its own id",
                )
            )
        seen_ids.add(door_id)
    for i, scanner in enumerate(profile.scanners):
        if scanner.door not in seen_ids:
            where = ("scanners", i, "door")
            close = difflib.get_close_matches(scanner.door, door_ids, n=1)
            problems.append(
                ProfileProblem(
                    line_of(where, lines),
                    format_path(where),
                    f"no door has id '{scanner.door}'",
                    f"did you mean '{close[0]}'?"
                    if close
                    else f"use one of: {', '.join(door_ids)}",
                )
            )
    return problems


# --- key -> line ----------------------------------------------------------------------------
# tomllib returns plain dicts without positions, so the text is scanned once for the line of
# every table header and key. It only has to be right for text tomllib already accepted;
# keys inside arrays of inline tables map to the array's line.

_BARE = r"[A-Za-z0-9_-]+"
_BASIC = r'"(?:[^"\\\n]|\\.)*"'
_LITERAL = r"'[^'\n]*'"
_KEY = rf"(?:{_BARE}|{_BASIC}|{_LITERAL})"
_DOTTED = rf"{_KEY}(?:[ \t]*\.[ \t]*{_KEY})*"
_HEADER_RE = re.compile(rf"^[ \t]*(\[\[?)[ \t]*({_DOTTED})[ \t]*\]")
_KEYVAL_RE = re.compile(rf"[ \t]*({_DOTTED})[ \t]*=[ \t]*")
_KEY_PART_RE = re.compile(_KEY)
_STRING_RE = {'"': re.compile(_BASIC), "'": re.compile(_LITERAL)}


def format_path(path: KeyPath) -> str:
    """``("doors", 1, "relay")`` -> ``doors[1].relay``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def line_of(path: KeyPath, lines: KeyLines) -> int:
    """Line of ``path``, or of its nearest enclosing key or table; 1 if none is known."""
    for end in range(len(path), 0, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return 1


def key_lines(text: str) -> KeyLines:
    """Line number (1-based) of every table header and key in TOML ``text``."""
    out: KeyLines = {}
    arrays: dict[KeyPath, int] = {}  # array-of-tables path -> index of its latest element
    table: KeyPath = ()
    open_string: str | None = None  # closing delimiter of a multi-line string
    depth = 0  # bracket depth of a multi-line array value

    def resolve(names: list[str]) -> KeyPath:
        path: KeyPath = ()
        for name in names:
            path = (*path, name)
            if path in arrays:
                path = (*path, arrays[path])
        return path

    for number, line in enumerate(text.splitlines(), start=1):
        if open_string is not None:
            if open_string in line:
                depth, open_string = _walk(line.split(open_string, 1)[1], depth, None, number, out)
            continue
        if depth > 0:
            depth, open_string = _walk(line, depth, None, number, out)
            continue
        header = _HEADER_RE.match(line)
        if header:
            names = _split(header.group(2))
            if header.group(1) == "[[":
                base = (*resolve(names[:-1]), names[-1])
                arrays[base] = arrays.get(base, -1) + 1
                out.setdefault(base, number)
                table = (*base, arrays[base])
            else:
                table = resolve(names)
            out[table] = number
            continue
        keyval = _KEYVAL_RE.match(line)
        if not keyval:
            continue
        path = (*table, *_split(keyval.group(1)))
        for end in range(len(table) + 1, len(path) + 1):
            out.setdefault(path[:end], number)
        depth, open_string = _walk(line[keyval.end() :], 0, path, number, out)
    return out


def _split(dotted: str) -> list[str]:
    return [raw[1:-1] if raw[:1] in "\"'" else raw for raw in _KEY_PART_RE.findall(dotted)]


def _walk(
    text: str, depth: int, value_of: KeyPath | None, number: int, out: KeyLines
) -> tuple[int, str | None]:
    """Scan a value: record inline-table keys, return array depth and any open string."""
    stack: list[KeyPath | None] = []  # open inline tables by path; None for arrays
    pending = value_of  # the key whose value starts next
    expect_key = False
    pos = 0
    while pos < len(text):
        char = text[pos]
        top = stack[-1] if stack else None
        if expect_key and top is not None:
            keyval = _KEYVAL_RE.match(text, pos)
            if keyval:
                pending = (*top, *_split(keyval.group(1)))
                out.setdefault(pending, number)
                expect_key = False
                pos = keyval.end()
                continue
        if char.isspace():
            pos += 1
            continue
        if char == "#":
            break
        if text.startswith(('"""', "'''"), pos):
            delimiter = text[pos : pos + 3]
            end = text.find(delimiter, pos + 3)
            if end < 0:
                return depth, delimiter
            pos = end + 3
        elif char in _STRING_RE:
            match = _STRING_RE[char].match(text, pos)
            pos = match.end() if match else len(text)
        else:
            if char == "{":
                stack.append(pending)
                expect_key = True
            elif char == "[":
                stack.append(None)
                depth += 1
            elif char == "]":
                if stack and stack[-1] is None:
                    stack.pop()
                depth -= 1
            elif char == "}":
                if stack:
                    stack.pop()
            elif char == ",":
                expect_key = top is not None
            pos += 1
        pending = None
    return max(depth, 0), None


def main(argv: list[str] | None = None) -> int:
    """``python -m hardware.profile FILE...``: validate profiles, print problems, exit 1."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m hardware.profile PROFILE.toml...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            print(exc, file=sys.stderr)
            status = 1
        else:
            doors = ", ".join(d.id for d in profile.doors)
            print(f"{path}: ok ({profile.board.model}; doors: {doors})")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
