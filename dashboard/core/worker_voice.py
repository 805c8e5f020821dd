"""What workers tell the people who run the stations: fault reports and suggestions.

A *problem* ("the water is out") becomes a `worker_report` alert on its station, one per
category while it is open: further reports of the same category join it and raise its
count. Its status, as the worker sees it, is the alert's (`problem_status`). A
*suggestion* ("a shelf for helmets") is listed for operators, who give it a status and a
public reply; the public map shows, per station, the ones marked done.

Pure: the categories, the statuses, the text rules, the alert's detail and the proof of
work an anonymous report carries. Storage is `dashboard.storage.worker_reports`.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

MAX_TEXT_CHARS = 500
"""How long a report's text may be."""


class FeedbackKind(StrEnum):
    """A fault for an operator to fix, or a wish for the station to change."""

    PROBLEM = "problem"
    SUGGESTION = "suggestion"


class Category(StrEnum):
    """What a report is about."""

    DOOR = "door"
    """The door or its lock."""
    WATER = "water"
    POWER = "power"
    """Power or phone charging."""
    CLEANLINESS = "cleanliness"
    SAFETY = "safety"
    OCCUPANCY = "occupancy"
    """The station shows space when it is full, or the other way round."""
    OTHER = "other"


class FeedbackStatus(StrEnum):
    """Where a report stands, as the worker who made it sees it."""

    RECEIVED = "received"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DECLINED = "declined"


REPLY_STATUSES = frozenset(FeedbackStatus)
"""The statuses an operator may give a suggestion."""


class FeedbackTextError(ValueError):
    """A report's text that cannot be kept (empty, or too long)."""


def clean_text(text: str) -> str:
    """The text as kept: normalised (NFC), control characters other than line breaks
    removed, spaces at the ends trimmed. `FeedbackTextError` when nothing is left or it
    is longer than `MAX_TEXT_CHARS`.

    Markup is kept as the characters it is: every page shows report text as text, never
    as HTML, so a `<script>` in a report is only ever read, never run."""
    normal = unicodedata.normalize("NFC", text)
    kept = "".join(
        c for c in normal if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs")
    ).strip()
    if not kept:
        raise FeedbackTextError("the text is empty")
    if len(kept) > MAX_TEXT_CHARS:
        raise FeedbackTextError(f"the text has {len(kept)} characters; at most {MAX_TEXT_CHARS}")
    return kept


def problem_status(alert_status: str) -> FeedbackStatus:
    """A problem report's status from its alert's: open is received, acknowledged is in
    progress, resolved is done."""
    return {
        "open": FeedbackStatus.RECEIVED,
        "acknowledged": FeedbackStatus.IN_PROGRESS,
        "resolved": FeedbackStatus.DONE,
    }.get(alert_status, FeedbackStatus.RECEIVED)


def alert_detail(category: Category, count: int, latest: str, occupancy: str | None) -> str:
    """What a `worker_report` alert reads: the category, how many reports joined it, the
    latest text, and for a wrong-occupancy report the count the station shows now."""
    head = f"{count} worker report{'s' if count != 1 else ''}: {category.value}"
    if occupancy is not None:
        head += f" (the station shows {occupancy})"
    return f"{head}. Latest: {latest}"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A proof-of-work puzzle for an anonymous report: find a `nonce` such that
    SHA-256(`text` + ":" + nonce) starts with `bits` zero bits. `text` carries its own
    expiry and a signature, so the central keeps nothing until it is answered."""

    text: str
    bits: int


def make_challenge(key: bytes, now: float, ttl_s: float, bits: int, salt: str) -> Challenge:
    """A signed puzzle valid until `now + ttl_s`; `salt` makes each one different."""
    expires = int(now + ttl_s)
    body = f"{expires}.{bits}.{salt}"
    signature = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]
    return Challenge(f"{body}.{signature}", bits)


class ChallengeError(ValueError):
    """An answer to a puzzle that does not count (forged, expired, or wrong)."""


def check_answer(key: bytes, text: str, nonce: str, now: float) -> None:
    """Accept the answer or raise `ChallengeError` saying why."""
    parts = text.split(".")
    if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ChallengeError("the challenge is not one this central gave")
    expires, bits, salt, signature = int(parts[0]), int(parts[1]), parts[2], parts[3]
    body = f"{expires}.{bits}.{salt}"
    expected = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]
    if not hmac.compare_digest(expected, signature):
        raise ChallengeError("the challenge is not one this central gave")
    if now > expires:
        raise ChallengeError("the challenge has expired; ask for a new one")
    if len(nonce) > 64 or not leading_zero_bits(f"{text}:{nonce}".encode(), bits):
        raise ChallengeError("the challenge is not solved")


def leading_zero_bits(data: bytes, bits: int) -> bool:
    """Whether SHA-256 of `data` starts with at least `bits` zero bits."""
    digest = int.from_bytes(hashlib.sha256(data).digest(), "big")
    return digest >> (256 - bits) == 0 if bits > 0 else True


def solve(text: str, bits: int) -> str:
    """A nonce that solves the puzzle (what a browser does; for tests and tools)."""
    nonce = 0
    while not leading_zero_bits(f"{text}:{nonce}".encode(), bits):
        nonce += 1
    return str(nonce)
