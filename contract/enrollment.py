"""Gateway enrollment over HTTPS: the one-time code a technician types, and what the
central hands the gateway for it.

The code is the only secret the technician carries to the site. It names nothing (the
central finds the station and gateway by the code's hash) and is spent by its first good
use; `docs/security.md` says what it protects and for how long.
"""

from __future__ import annotations

import re
import secrets

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.payloads import SLUG_PATTERN

CODE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
"""RFC 4648 base32 letters: no 0/1/8/9, so O and I cannot be misread as digits."""
CODE_LENGTH = 20
"""Characters of a code: 100 random bits, far beyond guessing within its 24 hours."""
CODE_GROUP = 5

_SEPARATORS = re.compile(r"[\s-]+")
_CODE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")


class MalformedCodeError(ValueError):
    """Text that cannot be an enrollment code (before anyone looks it up)."""


def new_code() -> str:
    """A fresh code, grouped for reading aloud: `ABCDE-FGHIJ-KLMNO-PQRST`."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def format_code(raw: str) -> str:
    """A normalised code in groups of five."""
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, len(raw), CODE_GROUP))


def normalise_code(text: str) -> str:
    """The code in `text` as it is stored (upper case, no dashes or spaces);
    `MalformedCodeError` saying what is wrong otherwise."""
    if len(text) > 100:
        raise MalformedCodeError("an enrollment code has 20 letters and digits")
    raw = _SEPARATORS.sub("", text).upper()
    if not _CODE.match(raw):
        raise MalformedCodeError(
            f"malformed enrollment code: expected {CODE_LENGTH} characters of A-Z and 2-7 "
            "in groups of five, like ABCDE-FGHJK-MNPQR-STVWX"
        )
    return raw


CODE_PATTERN = rf"^[\s-]*([A-Za-z2-7][\s-]*){{{CODE_LENGTH}}}$"
"""What `normalise_code` accepts, as the API document states it."""


class EnrollmentRequest(BaseModel):
    """What a gateway sends to `POST /api/enroll`."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        max_length=100,
        description="The one-time code, dashes optional.",
        json_schema_extra={"pattern": CODE_PATTERN},
    )

    @field_validator("code")
    @classmethod
    def _a_code(cls, value: str) -> str:
        return format_code(normalise_code(value))


class EnrollmentBundle(BaseModel):
    """Everything a gateway needs to join, handed out once per code."""

    model_config = ConfigDict(extra="forbid")

    station_id: str = Field(pattern=SLUG_PATTERN)
    gateway_id: str = Field(pattern=SLUG_PATTERN)
    broker_url: str = Field(description="Where the gateway connects (`mqtts://...` in the field).")
    username: str
    password: str = Field(description="The broker password, made for this enrollment; not kept.")
    ca_certificate: str | None = Field(
        default=None, description="PEM of the CA that signed the broker's certificate."
    )
    operator_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Operator name → Ed25519 public key (base64) allowed to sign door "
        "commands: `[maintenance.operators]` of the gateway's configuration.",
    )
