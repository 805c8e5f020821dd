"""Workers' reports and suggestions beside `tests.reports.data`'s entries, each figure
worked out by hand for district 430102 (`cs-a`, `cs-b`) over 2026-11-01..03, UTC+8.

The store stamps a report, a resolution and an answer with the present time; the times
below are written over them afterwards, as if they had happened then.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.core.worker_voice import Category, FeedbackKind, FeedbackStatus
from dashboard.storage import worker_feedback
from dashboard.storage.store import Store


@dataclass(frozen=True, slots=True)
class Made:
    """A report, and when it was closed (its alert resolved, or its answer given)."""

    kind: FeedbackKind
    station_id: str
    category: Category
    at: str
    closed_at: str | None = None
    status: FeedbackStatus | None = None
    """A suggestion's answer."""


P, S = FeedbackKind.PROBLEM, FeedbackKind.SUGGESTION
DONE, DECLINED, DOING = FeedbackStatus.DONE, FeedbackStatus.DECLINED, FeedbackStatus.IN_PROGRESS

# In the order made; a problem joins the open alert of its station and category, and an
# alert is resolved when its last report here says so (at that report's `closed_at`).
REPORTS = [
    Made(P, "cs-a", Category.SAFETY, "2026-10-31T15:59:00.000Z"),  # Oct 31 23:59: before
    Made(P, "cs-a", Category.SAFETY, "2026-10-31T16:30:00.000Z"),  # Nov 1 00:30, open
    Made(P, "cs-a", Category.DOOR, "2026-11-01T01:00:00.000Z"),  # waits 7200 (joined below)
    Made(P, "cs-a", Category.DOOR, "2026-11-01T02:00:00.000Z", "2026-11-01T03:00:00.000Z"),
    # ^ resolves the door alert: 3600 after this report, 7200 after the first
    Made(P, "cs-a", Category.WATER, "2026-11-02T00:00:00.000Z", "2026-11-02T10:00:00.000Z"),
    Made(P, "cs-b", Category.DOOR, "2026-11-01T16:30:00.000Z"),  # Nov 2 00:30 local, open
    Made(P, "cs-a", Category.POWER, "2026-11-03T16:10:00.000Z"),  # Nov 4 00:10: after
    Made(P, "cs-c", Category.DOOR, "2026-11-02T00:00:00.000Z"),  # another district
    Made(S, "cs-a", Category.OTHER, "2026-11-01T04:00:00.000Z", "2026-11-02T04:00:00.000Z", DONE),
    Made(
        S,
        "cs-a",
        Category.CLEANLINESS,
        "2026-11-02T04:00:00.000Z",
        "2026-11-02T06:00:00.000Z",
        DECLINED,
    ),
    Made(S, "cs-b", Category.OTHER, "2026-11-03T00:00:00.000Z", "2026-11-03T02:00:00.000Z", DOING),
    Made(S, "cs-b", Category.OTHER, "2026-11-02T00:00:00.000Z", "2026-11-02T01:00:00.000Z", DONE),
]


def load_feedback(store: Store) -> None:
    """Make the reports as the service would, then set their times. The stations must
    be in the registry (`tests.reports.data.load`)."""
    for made in REPORTS:
        with store.db.transaction() as db:
            row, _ = worker_feedback.add(
                db, made.kind, made.station_id, made.category, "写的话", "zh-CN", None, None
            )
            db.execute("UPDATE worker_feedback SET created_at = ? WHERE id = ?", (made.at, row.id))
        if made.closed_at is None:
            continue
        if made.kind is P:
            assert row.alert_id is not None
            store.resolve_alert(row.alert_id, "operator", "fixed")
            with store.db.transaction() as db:
                db.execute(
                    "UPDATE alerts SET resolved_at = ? WHERE id = ?", (made.closed_at, row.alert_id)
                )
        else:
            assert made.status is not None
            with store.db.transaction() as db:
                worker_feedback.reply(db, row.id, made.status, "好的", "operator")
                db.execute(
                    "UPDATE worker_feedback SET replied_at = ? WHERE id = ?",
                    (made.closed_at, row.id),
                )
