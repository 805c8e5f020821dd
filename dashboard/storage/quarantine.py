"""Messages that failed validation, kept with the reason, for operators to look at.

Table `quarantine`; nothing else writes it. A batch's quarantined messages are kept in
the batch's transaction, so that once it commits every message of the batch may be
acknowledged to the broker: bad input is never lost and never blocks the rest. A message
the broker retained comes back on every subscription; `kept_already` lets ingest keep it
only once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dashboard.storage.db import Connection

KEEP_BYTES = 64 * 1024
"""How much of a quarantined payload is kept: all of any payload within the size limit."""

TOPIC_CHARS = 1024
"""How much of a topic is kept (a topic may be up to 64 KiB long)."""

SAMPLE_BYTES = 1024
"""How much of a payload the listing shows, as text."""

_TOPIC_CHUNK = 500
"""Topics looked up per statement."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A message that failed validation, to be kept with its reason."""

    topic: str
    code: str
    reason: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    """A quarantined message and why, with the start of its payload as text."""

    id: int
    received_at: str
    topic: str
    code: str
    reason: str
    size: int
    sample: str


def keep(db: Connection, messages: Iterable[Quarantined], received_at: str) -> int:
    """Store messages with their reasons (inside the caller's transaction); how many."""
    rows = [
        (
            received_at,
            m.topic[:TOPIC_CHARS],
            m.code,
            m.reason,
            len(m.payload),
            m.payload[:KEEP_BYTES],
        )
        for m in messages
    ]
    db.executemany(
        "INSERT INTO quarantine (received_at, topic, code, reason, size, payload) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def kept_already(db: Connection, messages: Iterable[tuple[str, bytes]]) -> set[tuple[str, bytes]]:
    """Which of these (topic, payload) messages are in the quarantine already."""
    by_topic: dict[str, set[tuple[str, bytes]]] = {}
    for topic, payload in messages:
        by_topic.setdefault(topic[:TOPIC_CHARS], set()).add((topic, payload))
    topics = sorted(by_topic)
    kept: set[tuple[str, bytes]] = set()
    for start in range(0, len(topics), _TOPIC_CHUNK):
        chunk = topics[start : start + _TOPIC_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for topic, size, stored in db.execute(
            f"SELECT topic, size, payload FROM quarantine WHERE topic IN ({marks})", chunk
        ):
            prefix = bytes(stored)
            kept |= {
                message
                for message in by_topic[topic]
                if len(message[1]) == size and message[1][:KEEP_BYTES] == prefix
            }
    return kept


def purge(db: Connection, cutoff: str) -> None:
    """Delete what was quarantined before `cutoff`."""
    db.execute("DELETE FROM quarantine WHERE received_at < ?", (cutoff,))


def rows(db: Connection, limit: int, code: str | None = None) -> list[QuarantineRow]:
    """Quarantined messages, newest first, optionally of one rejection code."""
    query = "SELECT id, received_at, topic, code, reason, size, payload FROM quarantine"
    params: list[object] = []
    if code is not None:
        query += " WHERE code = ?"
        params.append(code)
    query += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return [
        QuarantineRow(
            id=r["id"],
            received_at=r["received_at"],
            topic=r["topic"],
            code=r["code"],
            reason=r["reason"],
            size=r["size"],
            sample=bytes(r["payload"][:SAMPLE_BYTES]).decode("utf-8", errors="replace"),
        )
        for r in db.execute(query, params).fetchall()
    ]
