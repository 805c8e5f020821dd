"""Signed QR credential tokens: the central signs them, a gateway verifies them offline.

A worker's phone page shows a new token about every 30 s. The gateway at the door holds
only the central's Ed25519 public keys, so it can check a token without the network, in
well under a millisecond, and a screenshot is worthless once the token's short window ends.

Layout, format version 1 (all integers big-endian)::

    text      = "YZ1:" + base45(body + signature)
    body      = key_id u8 | worker u32 | not_before u32 | lifetime u8 | scope u24 | group u8
    signature = Ed25519(private key, b"YZ1:" + body)

- `key_id` picks the central's signing key, so keys can rotate with two active at once.
- `worker` is the worker number the central assigns: drawn at random from the u32 space,
  never sequential, so it says nothing about a person or when they enrolled. Events carry
  the pseudonymous worker id `w<number>` (`worker_id_of`); only the central can map that
  to a person.
- `not_before` is in Unix seconds (valid to 2106); the token is valid in
  `[not_before, not_before + lifetime)`. `lifetime` is one byte of seconds, so no token
  can ever live longer than 255 s: even a misused issuing path cannot mint a day-long
  screenshot, and the gateway's replay cache is bounded by grants in ~4 minutes.
- `scope` says where the token may be used (see `Scope`): any station, a region given by
  its GB/T 2260 administrative division code (province, city or district), or one station
  number.
- `group` is the worker group (delivery, courier, driver, ...) as a number 0-255 that the
  central defines; stations may admit only some groups.
- There is no separate nonce: the pair (worker, not_before) is the token's identity. The
  central issues at most one token per worker per second, and the gateway remembers that
  pair of every granted token until the token expires, refusing it again as `replayed`.
- The prefix `YZ1:` carries the format version and is signed too, so a body can never be
  read under another format version.

Size: body 14 bytes + signature 64 bytes = 78 bytes → 117 base45 characters → 121 with the
prefix. Every character is in the QR alphanumeric set, so this fits **QR version 5
(37×37) at error correction level M** (capacity 122 alphanumeric characters); a test
confirms it with the `segno` encoder. Under 100 characters is impossible with Ed25519: the
64-byte signature alone is 96 base45 characters, 100 with the prefix, before any claim.
The alternatives that would fit (a truncated HMAC, as in TOTP) need a shared secret on
every gateway, so a stolen gateway could mint tokens. Base32 (for scanners stuck in
HID-keyboard mode, where `$%*+/:` and space are layout-sensitive) would take 125 + 4 = 129
characters: version 6-M.

Base45 output may contain a space, even as the last character: the scanner line codec
keeps spaces, and decoding here never strips anything.

Nothing here does I/O or reads the clock; `now` is always passed in.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from contract.payloads import MAX_WORKER_NUMBER, Reason

if TYPE_CHECKING:
    from contract.credential_payloads import PublicKeys

PREFIX: Final = "YZ1:"
"""Text prefix of format version 1; also the first bytes of every signed message."""

_PREFIX_BYTES: Final = PREFIX.encode("ascii")
_BODY = struct.Struct(">BIIB3sB")
BODY_BYTES: Final = _BODY.size
SIGNATURE_BYTES: Final = 64
TOKEN_BYTES: Final = BODY_BYTES + SIGNATURE_BYTES
TOKEN_CHARS: Final = len(PREFIX) + (TOKEN_BYTES // 2) * 3 + (TOKEN_BYTES % 2) * 2
"""Every version-1 token is exactly this long (121 characters)."""

QR_VERSION: Final = 5
QR_ERROR_LEVEL: Final = "M"
"""The smallest QR symbol that holds a token at error correction level M."""

ROTATION_PERIOD_S: Final = 30
"""How often the phone page shows a new token."""

DEFAULT_LIFETIME_S: Final = 60
"""Two rotation periods: a code shown just before it rotates still works while scanned."""

DEFAULT_SKEW_S: Final = 10
"""Clock difference tolerated between the central and a gateway (NTP, or an RTC offline)."""

MAX_STATION_NUMBER: Final = (1 << 22) - 1
MAX_LIFETIME_S: Final = 0xFF


class TokenError(Exception):
    """A token refused, with the wire reason why.

    `decode_token` raises it; `verify_token` returns it, so that the door's hot path
    handles refusals as values and never needs a try block of its own.
    """

    def __init__(self, reason: Reason, detail: str, claims: TokenClaims | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        # Present only when the signature was good, so a refusal can still name the worker.
        self.claims = claims


# --- base45 (RFC 9285) ---------------------------------------------------------------

_B45_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUE: Final = {char: value for value, char in enumerate(_B45_ALPHABET)}


def b45encode(data: bytes) -> str:
    """Encode bytes as base45: two bytes become three characters, a last odd byte two."""
    chars: list[str] = []
    alphabet = _B45_ALPHABET
    for i in range(0, len(data) - 1, 2):
        n = (data[i] << 8) | data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        chars += (alphabet[c], alphabet[d], alphabet[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        chars += (alphabet[c], alphabet[d])
    return "".join(chars)


def b45decode(text: str) -> bytes:
    """Decode base45; raise `ValueError` on a bad character, length or group value.

    The checks make the encoding canonical: each byte string has exactly one text form,
    so two spellings of one token cannot exist.
    """
    if len(text) % 3 == 1:
        raise ValueError("base45 length leaves a single character")
    values = _B45_VALUE
    try:
        digits = [values[char] for char in text]
    except KeyError as exc:
        raise ValueError(f"not a base45 character: {exc.args[0]!r}") from None
    out: list[int] = []
    full = len(digits) - len(digits) % 3
    for i in range(0, full, 3):
        n = digits[i] + digits[i + 1] * 45 + digits[i + 2] * 2025
        if n > 0xFFFF:
            raise ValueError("base45 group exceeds two bytes")
        out += (n >> 8, n & 0xFF)
    if full != len(digits):
        n = digits[full] + digits[full + 1] * 45
        if n > 0xFF:
            raise ValueError("base45 tail exceeds one byte")
        out.append(n)
    return bytes(out)


# --- scope ---------------------------------------------------------------------------


class ScopeKind(IntEnum):
    """The top two bits of the 24-bit scope field; the value 3 is reserved."""

    ANY = 0
    REGION = 1
    STATION = 2


@dataclass(frozen=True, slots=True)
class StationLocation:
    """Where a gateway stands, as tokens name it: its station number and region code."""

    station_number: int
    region_code: int
    """The GB/T 2260 six-digit administrative division code of the district, e.g. 430102."""

    def __post_init__(self) -> None:
        if not 1 <= self.station_number <= MAX_STATION_NUMBER:
            raise ValueError(f"station number must be 1..{MAX_STATION_NUMBER}")
        if not 100000 <= self.region_code <= 999999:
            raise ValueError("region code must be a six-digit GB/T 2260 code")


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a token may be used; encoded in 24 bits as kind (2 bits) | value (22 bits).

    - `ANY` (value 0): every station.
    - `REGION`: a GB/T 2260 code. `430000` (a province, ends in 0000) covers every
      station whose district code starts `43`; `430100` (a city, ends in 00) covers
      `4301xx`; any other code covers that district only.
    - `STATION`: one station number, 1 to 4,194,303 (room for every station in the country).
    """

    kind: ScopeKind
    value: int = 0

    def __post_init__(self) -> None:
        if self.kind is ScopeKind.ANY:
            valid = self.value == 0
        elif self.kind is ScopeKind.REGION:
            valid = 100000 <= self.value <= 999999
        else:
            valid = 1 <= self.value <= MAX_STATION_NUMBER
        if not valid:
            raise ValueError(f"{self.value} is not a valid {self.kind.name.lower()} scope")

    @classmethod
    def any(cls) -> Scope:
        """Valid at every station."""
        return cls(ScopeKind.ANY)

    @classmethod
    def region(cls, code: int) -> Scope:
        """Valid at every station inside a province, city or district."""
        return cls(ScopeKind.REGION, code)

    @classmethod
    def station(cls, number: int) -> Scope:
        """Valid at one station only."""
        return cls(ScopeKind.STATION, number)

    def covers(self, location: StationLocation) -> bool:
        """Whether a gateway at `location` may accept a token of this scope."""
        if self.kind is ScopeKind.ANY:
            return True
        if self.kind is ScopeKind.STATION:
            return self.value == location.station_number
        code = self.value
        if code % 10000 == 0:
            return location.region_code // 10000 == code // 10000
        if code % 100 == 0:
            return location.region_code // 100 == code // 100
        return location.region_code == code

    def to_int(self) -> int:
        """The 24-bit wire value."""
        return (int(self.kind) << 22) | self.value

    @classmethod
    def from_int(cls, raw: int) -> Scope:
        """Parse the 24-bit wire value; raise `ValueError` on a reserved or invalid one."""
        kind_bits = raw >> 22
        if kind_bits > ScopeKind.STATION:
            raise ValueError("reserved scope kind")
        return cls(ScopeKind(kind_bits), raw & MAX_STATION_NUMBER)


ANY_STATION: Final = Scope(ScopeKind.ANY)


# --- claims and tokens ---------------------------------------------------------------


def worker_id_of(worker_number: int) -> str:
    """The pseudonymous worker id that events carry: `w` and the decimal worker number."""
    return f"w{worker_number}"


def worker_number_of(worker_id: str) -> int | None:
    """The worker number inside a `w<number>` id; None for any other string."""
    digits = worker_id[1:]
    if not worker_id.startswith("w") or not digits.isascii() or not digits.isdigit():
        return None
    if len(digits) > 1 and digits[0] == "0":
        return None  # one number, one spelling
    number = int(digits)
    return number if number <= MAX_WORKER_NUMBER else None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a token says, signed or not yet checked."""

    key_id: int
    worker_number: int
    not_before: int
    """Unix seconds."""
    lifetime_s: int
    scope: Scope
    group: int = 0

    @property
    def not_after(self) -> int:
        """First Unix second at which the token is no longer valid."""
        return self.not_before + self.lifetime_s

    @property
    def worker_id(self) -> str:
        """The pseudonymous id events carry."""
        return worker_id_of(self.worker_number)

    @property
    def token_id(self) -> tuple[int, int]:
        """(worker, not_before): what the replay cache remembers."""
        return (self.worker_number, self.not_before)

    def pack(self) -> bytes:
        """The 14-byte body."""
        return _BODY.pack(
            self.key_id,
            self.worker_number,
            self.not_before,
            self.lifetime_s,
            self.scope.to_int().to_bytes(3, "big"),
            self.group,
        )


@dataclass(frozen=True, slots=True)
class Token:
    """A decoded token whose signature has not been checked yet."""

    claims: TokenClaims
    signature: bytes
    signed_message: bytes


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token whose signature, validity window and (if asked) scope were checked."""

    claims: TokenClaims

    @property
    def worker_number(self) -> int:
        """The central's number for the worker."""
        return self.claims.worker_number

    @property
    def worker_id(self) -> str:
        """The pseudonymous id events carry."""
        return self.claims.worker_id


def decode_token(text: str | bytes) -> Token:
    """Parse a token's text without checking its signature.

    Raises `TokenError` with reason `malformed` for anything that is not a well-formed
    version-1 token, whatever the input; nothing else escapes.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise TokenError(Reason.MALFORMED, "not ASCII") from None
    if not isinstance(text, str):
        raise TokenError(Reason.MALFORMED, f"not text: {type(text).__name__}")
    # The length is fixed, so garbage of any other size costs one comparison.
    if len(text) != TOKEN_CHARS:
        raise TokenError(Reason.MALFORMED, f"length {len(text)}, expected {TOKEN_CHARS}")
    if not text.startswith(PREFIX):
        raise TokenError(Reason.MALFORMED, f"missing prefix {PREFIX}")
    try:
        raw = b45decode(text[len(PREFIX) :])
    except ValueError as exc:
        raise TokenError(Reason.MALFORMED, str(exc)) from None
    body = raw[:BODY_BYTES]
    key_id, worker, not_before, lifetime, scope_raw, group = _BODY.unpack(body)
    if lifetime == 0:
        raise TokenError(Reason.MALFORMED, "zero lifetime")
    try:
        scope = Scope.from_int(int.from_bytes(scope_raw, "big"))
    except ValueError as exc:
        raise TokenError(Reason.MALFORMED, f"scope: {exc}") from None
    claims = TokenClaims(key_id, worker, not_before, lifetime, scope, group)
    return Token(claims, raw[BODY_BYTES:], _PREFIX_BYTES + body)


# --- keys ----------------------------------------------------------------------------


def _check_key_id(key_id: int) -> None:
    if not 0 <= key_id <= 0xFF:
        raise ValueError("key id must be 0..255")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The central's private key with the id that tokens name it by."""

    key_id: int
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)

    @classmethod
    def generate(cls, key_id: int) -> SigningKey:
        """A fresh random key."""
        return cls(key_id, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, key_id: int, raw: bytes) -> SigningKey:
        """Load a 32-byte raw Ed25519 private key."""
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(raw))

    def public_key_bytes(self) -> bytes:
        """The 32-byte raw public key that gateways receive."""
        return self.private_key.public_key().public_bytes_raw()

    def trusted(
        self, valid_from: datetime | None = None, valid_until: datetime | None = None
    ) -> TrustedKey:
        """This key's public half as a gateway trusts it."""
        return TrustedKey(self.key_id, self.private_key.public_key(), valid_from, valid_until)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key a gateway accepts, between `valid_from` and `valid_until` (open if None)."""

    key_id: int
    public_key: Ed25519PublicKey = field(repr=False, compare=False)
    valid_from: datetime | None = None
    valid_until: datetime | None = None

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)

    def usable_at(self, now: datetime) -> bool:
        """Whether tokens signed by this key are accepted at `now`."""
        if self.valid_from is not None and now < self.valid_from:
            return False
        return self.valid_until is None or now < self.valid_until


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The public keys a gateway trusts, by key id; two are active during a rotation.

    A key outside its validity window, or absent, refuses its tokens as `unknown_key`:
    retiring a key is removing it from the published list or ending its window.
    """

    keys: Mapping[int, TrustedKey]

    @classmethod
    def of(cls, keys: Iterable[TrustedKey]) -> KeyRing:
        """A ring of distinct key ids; raise `ValueError` on a duplicate id."""
        by_id: dict[int, TrustedKey] = {}
        for key in keys:
            if key.key_id in by_id:
                raise ValueError(f"key id {key.key_id} appears twice")
            by_id[key.key_id] = key
        return cls(by_id)

    @classmethod
    def from_payload(cls, payload: PublicKeys) -> KeyRing:
        """Build the ring from the central's published `keys/1` payload."""
        return cls.of(
            TrustedKey(
                entry.key_id,
                Ed25519PublicKey.from_public_bytes(base64.b64decode(entry.public_key)),
                entry.valid_from,
                entry.valid_until,
            )
            for entry in payload.keys
        )

    def usable(self, key_id: int, now: datetime) -> Ed25519PublicKey | None:
        """The public key for `key_id` if it is trusted at `now`."""
        key = self.keys.get(key_id)
        if key is None or not key.usable_at(now):
            return None
        return key.public_key


# --- issue and verify ----------------------------------------------------------------


def _unix_seconds(value: datetime | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime; pass an aware one")
        return int(value.timestamp())
    return value


def rotation_start(now: datetime, period_s: int = ROTATION_PERIOD_S) -> datetime:
    """Start of the rotation step that contains `now`: the `not_before` of its token."""
    seconds = int(now.timestamp())
    return datetime.fromtimestamp(seconds - seconds % period_s, UTC)


def issue_token(
    key: SigningKey,
    *,
    worker_number: int,
    not_before: datetime | int,
    lifetime_s: int = DEFAULT_LIFETIME_S,
    scope: Scope = ANY_STATION,
    group: int = 0,
) -> str:
    """Sign a token for one worker (central side); raise `ValueError` on out-of-range claims."""
    start = _unix_seconds(not_before)
    if not 0 <= worker_number <= MAX_WORKER_NUMBER:
        raise ValueError("worker number must fit 32 bits")
    if not 0 <= start <= 0xFFFF_FFFF:
        raise ValueError("not_before must fit 32-bit Unix seconds")
    if not 1 <= lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"lifetime must be 1..{MAX_LIFETIME_S} s")
    if not 0 <= group <= 0xFF:
        raise ValueError("group must be 0..255")
    body = TokenClaims(key.key_id, worker_number, start, lifetime_s, scope, group).pack()
    signature = key.private_key.sign(_PREFIX_BYTES + body)
    return PREFIX + b45encode(body + signature)


def verify_token(
    text: str | bytes,
    keyring: KeyRing,
    now: datetime,
    *,
    location: StationLocation | None = None,
    skew_s: int = DEFAULT_SKEW_S,
) -> VerifiedToken | TokenError:
    """Check a token offline; return it verified, or the refusal as a `TokenError`.

    Checks, first failure wins: well-formed (`malformed`) → key known and active
    (`unknown_key`) → signature (`bad_signature`) → `not_yet_valid` / `expired`, each
    with `skew_s` of tolerance → scope covers `location` when one is given
    (`wrong_scope`). The signature comes before the window so a forged token is never
    reported as merely expired. Revocation and replay are the gateway's state; see
    `gateway.access_rules`.
    """
    try:
        token = decode_token(text)
    except TokenError as error:
        return error
    claims = token.claims
    public_key = keyring.usable(claims.key_id, now)
    if public_key is None:
        return TokenError(Reason.UNKNOWN_KEY, f"key id {claims.key_id} not trusted")
    try:
        public_key.verify(token.signature, token.signed_message)
    except InvalidSignature:
        return TokenError(Reason.BAD_SIGNATURE, "signature does not match")
    t = now.timestamp()
    if t < claims.not_before - skew_s:
        return TokenError(Reason.NOT_YET_VALID, f"valid from {claims.not_before}", claims)
    if t >= claims.not_after + skew_s:
        return TokenError(Reason.EXPIRED, f"expired at {claims.not_after}", claims)
    if location is not None and not claims.scope.covers(location):
        return TokenError(Reason.WRONG_SCOPE, "scope does not cover this station", claims)
    return VerifiedToken(claims)
