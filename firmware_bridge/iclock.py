"""ZKTeco PUSH ("ADMS", "iclock") protocol: what a face terminal uploads, what it is told.

The terminal is the HTTP client and polls the gateway; every body is plain text. Pure
functions here: text in, typed records (or the reason a line was refused) out, and the
command lines the gateway queues for a terminal. docs/face-terminals.md has byte-level
examples of each exchange.

Records name a person by PIN, the terminal's own user number; the gateway enrols workers
under their pseudonymous number, so a PIN is never a name. Uploads can also carry face
or fingerprint templates (OPERLOG `FACE`/`FP` lines, `BIODATA`): those are counted and
dropped here, never parsed into anything that could be stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final

PIN_PATTERN: Final = re.compile(r"^[0-9A-Za-z]{1,24}$")
"""What the gateway accepts as a terminal PIN (firmware allows up to 24 characters)."""

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

VERIFY_FACE: Final = 15
"""The verify-mode code ZKTeco firmware uses for a face match."""

MAX_NAME_CHARS: Final = 24


@dataclass(frozen=True, slots=True)
class Verification:
    """A person the terminal verified: its PIN, when (terminal's local time), how."""

    pin: str
    at: datetime
    verify_mode: int
    realtime: bool
    """From an `rtlog` upload (sent the moment it happened) rather than `ATTLOG`."""


@dataclass(frozen=True, slots=True)
class RefusedLine:
    """An upload line the gateway did not accept, and why."""

    line_no: int
    reason: str


@dataclass(frozen=True, slots=True)
class Upload:
    """What one `POST /iclock/cdata` carried."""

    verifications: tuple[Verification, ...]
    refused: tuple[RefusedLine, ...]
    ignored: int
    """Lines read but not about a verified person (door state, template lines, empty PIN)."""


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A terminal's answer to one queued command (`POST /iclock/devicecmd`)."""

    command_id: int
    return_code: int
    command: str

    @property
    def ok(self) -> bool:
        """Return=0 is success in every firmware that answers."""
        return self.return_code == 0


class IclockError(ValueError):
    """A request the gateway cannot read at all."""


def _time(text: str) -> datetime:
    try:
        return datetime.strptime(text.strip(), TIME_FORMAT)
    except ValueError:
        raise ValueError(f"time {text.strip()[:32]!r} is not YYYY-MM-DD HH:MM:SS") from None


def _pin(text: str) -> str:
    pin = text.strip()
    if not PIN_PATTERN.match(pin):
        raise ValueError(f"PIN {pin[:32]!r} is not 1-24 letters or digits")
    return pin


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{what} {text.strip()[:16]!r} is not a number") from None


def parse_attlog(body: str) -> Upload:
    """`ATTLOG` lines: `PIN\\tYYYY-MM-DD HH:MM:SS\\tstatus\\tverify\\tworkcode...`."""
    verifications: list[Verification] = []
    refused: list[RefusedLine] = []
    for line_no, line in _lines(body):
        fields = line.split("\t")
        try:
            if len(fields) < 4:
                raise ValueError(f"{len(fields)} tab-separated fields, at least 4 expected")
            verifications.append(
                Verification(
                    pin=_pin(fields[0]),
                    at=_time(fields[1]),
                    verify_mode=_int(fields[3], "verify mode"),
                    realtime=False,
                )
            )
        except ValueError as exc:
            refused.append(RefusedLine(line_no, str(exc)))
    return Upload(tuple(verifications), tuple(refused), 0)


def parse_rtlog(body: str) -> Upload:
    """`rtlog` lines of `key=value` pairs separated by tabs.

    `time=2026-12-01 08:30:05\\tpin=1001\\tcardno=0\\teventaddr=1\\tevent=0\\t
    inoutstatus=0\\tverifytype=15\\tindex=12`. A line without a PIN (door state lines
    `sensor=..\\trelay=..`, or `pin=0` when the terminal matched nobody) is ignored.
    """
    verifications: list[Verification] = []
    refused: list[RefusedLine] = []
    ignored = 0
    for line_no, line in _lines(body):
        pairs: dict[str, str] = {}
        for field in line.split("\t"):
            key, sep, value = field.partition("=")
            if not sep:
                refused.append(RefusedLine(line_no, f"field {field[:32]!r} is not key=value"))
                break
            pairs[key.strip().lower()] = value
        else:
            pin = pairs.get("pin", "").strip()
            if pin in ("", "0"):
                ignored += 1
                continue
            try:
                if "time" not in pairs:
                    raise ValueError("no time= field")
                verifications.append(
                    Verification(
                        pin=_pin(pin),
                        at=_time(pairs["time"]),
                        verify_mode=_int(pairs.get("verifytype", "-1"), "verifytype"),
                        realtime=True,
                    )
                )
            except ValueError as exc:
                refused.append(RefusedLine(line_no, str(exc)))
    return Upload(tuple(verifications), tuple(refused), ignored)


def parse_operlog(body: str) -> Upload:
    """`OPERLOG`: operation lines (`OPLOG ...`) and user, face and fingerprint records.

    Nothing in it decides a door. Every line is counted as ignored and its content
    dropped: `FACE`, `FP` and `BIODATA` lines carry biometric templates, which the
    gateway never keeps.
    """
    return Upload((), (), sum(1 for _ in _lines(body)))


TABLES: Final = {"ATTLOG": parse_attlog, "rtlog": parse_rtlog, "OPERLOG": parse_operlog}
"""Upload tables the gateway reads; another table is acknowledged and dropped."""


def parse_upload(table: str, body: str) -> Upload:
    """Read a `POST /iclock/cdata?table=<table>` body; unknown tables are all ignored."""
    parser = TABLES.get(table)
    if parser is None:
        return Upload((), (), sum(1 for _ in _lines(body)))
    return parser(body)


def _lines(body: str) -> list[tuple[int, str]]:
    return [
        (n, line.rstrip("\r")) for n, line in enumerate(body.split("\n"), start=1) if line.strip()
    ]


def handshake_reply(serial_number: str, delay_s: int, trans_interval_min: int = 1) -> str:
    """The options a terminal asks for with `GET /iclock/cdata?SN=..&options=all`.

    `Stamp`s of 9999 ask the terminal to send only records newer than that mark rather
    than its whole stored log (firmware differs in how it reads the stamp; the gateway
    ignores stale records anyway, see `max_record_age_s`). `Realtime=1` makes it upload
    each record at once; `TransFlag` names what to upload (no photos, no templates).
    """
    return (
        f"GET OPTION FROM: {serial_number}\n"
        "ATTLOGStamp=9999\n"
        "OPERLOGStamp=9999\n"
        "ATTPHOTOStamp=9999\n"
        "ErrorDelay=30\n"
        f"Delay={delay_s}\n"
        "TransTimes=00:00;14:05\n"
        f"TransInterval={trans_interval_min}\n"
        "TransFlag=TransData AttLog\tOpLog\n"
        "TimeZone=8\n"
        "Realtime=1\n"
        "Encrypt=None\n"
    )


def _safe_name(name: str) -> str:
    # A tab or line break would split the command into fields the terminal misreads.
    cleaned = re.sub(r"[\t\r\n=]", " ", name).strip()
    return cleaned[:MAX_NAME_CHARS]


def user_update_command(command_id: int, pin: str, name: str) -> str:
    """`C:<id>:DATA UPDATE USERINFO PIN=<pin>\\tName=<name>\\tPri=0`: create or
    change a user (no card, no password, no template: the face is enrolled at the
    terminal, in front of the worker)."""
    return f"C:{command_id}:DATA UPDATE USERINFO PIN={_pin(pin)}\tName={_safe_name(name)}\tPri=0"


def user_delete_command(command_id: int, pin: str) -> str:
    """`C:<id>:DATA DELETE USERINFO PIN=<pin>`: remove a user and, with it, the face
    template the terminal holds for them."""
    return f"C:{command_id}:DATA DELETE USERINFO PIN={_pin(pin)}"


def parse_command_results(body: str) -> tuple[list[CommandResult], list[RefusedLine]]:
    """`ID=<id>&Return=<code>&CMD=<name>` lines of a `POST /iclock/devicecmd`."""
    results: list[CommandResult] = []
    refused: list[RefusedLine] = []
    for line_no, line in _lines(body):
        pairs = {}
        for field in line.split("&"):
            key, _, value = field.partition("=")
            pairs[key.strip().upper()] = value.strip()
        try:
            if "ID" not in pairs or "RETURN" not in pairs:
                raise ValueError("no ID= or Return= field")
            results.append(
                CommandResult(
                    command_id=_int(pairs["ID"], "ID"),
                    return_code=_int(pairs["RETURN"], "Return"),
                    command=pairs.get("CMD", "")[:64],
                )
            )
        except ValueError as exc:
            refused.append(RefusedLine(line_no, str(exc)))
    return results, refused
