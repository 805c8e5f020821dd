"""Reports for the union office, the pure part: periods, ranges, time zones and folding.

A report covers whole local days, `first` to `last` inclusive, in each station's own time
zone, split into days, ISO weeks (starting Monday) or calendar months; a period is named
by the date it starts on, and the first and last period hold only the days inside the
range. The database turns UTC times into local ones by adding a UTC offset (SQLite
knows no time zones); `offset_spans` gives the offsets a zone uses over the range,
found by stepping every quarter of an hour (every offset change in the tz database
falls on a quarter hour).

Stays pair a granted entry with the same worker's next granted move at that station
when that move is an exit within `MAX_STAY`; an entry followed by another entry (an exit
nobody recorded) or by nothing for a day has no stay. Percentiles are nearest-rank: the
p-th percentile of n stays is the smallest stay whose rank r (1 = shortest) has
r >= p * n, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dashboard.core.feedback_figures import FeedbackSection

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")

MAX_MONTHS = 13
"""The longest range one report may cover: 13 months (a year and the month before it)."""

MAX_STAY = timedelta(hours=24)
"""An exit later than this after the entry is not paired with it: the exit was missed."""

EARLIEST, LATEST = date(1970, 1, 1), date(9998, 12, 31)
"""The dates a report may name: far enough from the calendar's ends for time zones."""

_STEP = timedelta(minutes=15)


class ReportRangeError(ValueError):
    """A report range that is refused; the message says why."""


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + month // 12, month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def check_range(first: date, last: date) -> None:
    """`ReportRangeError` unless `first` <= `last` and the range is at most `MAX_MONTHS`,
    between `EARLIEST` and `LATEST`."""
    if first < EARLIEST or last > LATEST:
        raise ReportRangeError(f"dates must be from {EARLIEST} to {LATEST}")
    if first > last:
        raise ReportRangeError(f"from ({first}) is after to ({last})")
    if last >= add_months(first, MAX_MONTHS):
        raise ReportRangeError(
            f"at most {MAX_MONTHS} months at once: {first} to {last} is longer; "
            "ask for several reports"
        )


def period_start(day: date, period: Period) -> date:
    """The first day of the period that `day` is in."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_starts(first: date, last: date, period: Period) -> list[date]:
    """The start of every period that meets `first`..`last`, in order."""
    starts: list[date] = []
    current = period_start(first, period)
    while current <= last:
        starts.append(current)
        if period == "day":
            current += timedelta(days=1)
        elif period == "week":
            current += timedelta(days=7)
        else:
            current = add_months(current, 1)
    return starts


@dataclass(frozen=True, slots=True)
class OffsetSpan:
    """UTC times `since` <= t < `until` are `minutes` ahead of UTC in the zone."""

    since: datetime
    until: datetime
    minutes: int


def local_bounds(time_zone: str, first: date, last: date) -> tuple[datetime, datetime]:
    """The UTC times the local days `first`..`last` of `time_zone` begin and end."""
    zone = ZoneInfo(time_zone)
    since = datetime.combine(first, time(0), zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), zone).astimezone(UTC)
    return since, until


def offset_spans(time_zone: str, since: datetime, until: datetime) -> list[OffsetSpan]:
    """The zone's UTC offsets from `since` to `until`, one span per offset in force."""
    zone = ZoneInfo(time_zone)

    def minutes(at: datetime) -> int:
        offset = at.astimezone(zone).utcoffset()
        return 0 if offset is None else int(offset.total_seconds() // 60)

    spans: list[OffsetSpan] = []
    start, current = since, minutes(since)
    # From the quarter hour after `since`, on quarter hours of UTC.
    at = since.replace(minute=since.minute // 15 * 15, second=0, microsecond=0) + _STEP
    while at < until:
        now = minutes(at)
        if now != current:
            spans.append(OffsetSpan(start, at, current))
            start, current = at, now
        at += _STEP
    spans.append(OffsetSpan(start, until, current))
    return spans


@dataclass(frozen=True, slots=True)
class StationZone:
    """A station in a report, with the time zone its days are counted in."""

    id: str
    name: str
    time_zone: str


@dataclass(frozen=True, slots=True)
class HourCount:
    """Entries (direction in) in one local hour, of one decision and reason."""

    hour: str
    """Local date and hour: `2026-11-02 01`."""
    decision: str
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class StayFigures:
    """Stays that began in one period (or the whole range)."""

    stays: int
    median_s: int | None
    p90_s: int | None


@dataclass(frozen=True, slots=True)
class StationTotals:
    """One station's figures over the whole range, for the breakdown of a district."""

    station_id: str
    name: str
    visits: int = 0
    unique_workers: int = 0
    refused: int = 0


@dataclass(slots=True)
class ReportRow:
    """One period's figures, or the whole range's (`period` is `total`).

    Reports read by union offices are expected to grow columns (fault reports raised
    by workers, for one); a new figure is a new field here with a default."""

    period: str
    """The date the period starts on (`2026-11-02`), or `total`."""
    visits: int = 0
    """Granted entries (服务人次)."""
    unique_workers: int = 0
    stays: int = 0
    """Stays measured (entries paired with an exit), of which the percentiles are."""
    stay_median_s: int | None = None
    stay_p90_s: int | None = None
    refused: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Figures:
    """What the database returns for a report, before it is folded into rows."""

    hours: list[HourCount]
    unique_by_period: dict[str, int]
    unique_total: int
    stays_by_period: dict[str, StayFigures]
    stays_total: StayFigures
    stations: list[StationTotals]


@dataclass(frozen=True, slots=True)
class Report:
    """A report: every period's row, the total, the busy hours and the refusals."""

    scope: Literal["station", "district"]
    id: str
    period: Period
    first: str
    last: str
    time_zones: list[str]
    rows: list[ReportRow]
    total: ReportRow
    heat_map: list[list[int]]
    """Visits by local weekday (0 = Monday) and hour (0-23), over the whole range."""
    reasons: list[str]
    """The refusal reasons that occur, most frequent first."""
    stations: list[StationTotals]
    feedback: FeedbackSection | None = None
    """Workers' reports and suggestions (`dashboard.core.feedback_figures`)."""


def fold(
    figures: Figures,
    scope: Literal["station", "district"],
    scope_id: str,
    period: Period,
    first: date,
    last: date,
    time_zones: Iterable[str],
) -> Report:
    """The report made of what the database counted."""
    starts = [start.isoformat() for start in period_starts(first, last, period)]
    rows = {start: ReportRow(start) for start in starts}
    total = ReportRow("total")
    heat = [[0] * 24 for _ in range(7)]
    refusals: dict[str, int] = defaultdict(int)
    for hour in figures.hours:
        day = date.fromisoformat(hour.hour[:10])
        row = rows.get(period_start(day, period).isoformat())
        if row is None:  # outside the range: the database was asked for whole days only
            continue
        if hour.decision == "granted":
            row.visits += hour.count
            total.visits += hour.count
            heat[day.weekday()][int(hour.hour[11:13])] += hour.count
        else:
            row.refused += hour.count
            by_reason = row.refused_by_reason
            by_reason[hour.reason] = by_reason.get(hour.reason, 0) + hour.count
            total.refused += hour.count
            refusals[hour.reason] += hour.count
    for key, row in rows.items():
        row.unique_workers = figures.unique_by_period.get(key, 0)
        _set_stays(row, figures.stays_by_period.get(key))
    total.unique_workers = figures.unique_total
    _set_stays(total, figures.stays_total)
    reasons = sorted(refusals, key=lambda reason: (-refusals[reason], reason))
    total.refused_by_reason = {reason: refusals[reason] for reason in reasons}
    return Report(
        scope=scope,
        id=scope_id,
        period=period,
        first=first.isoformat(),
        last=last.isoformat(),
        time_zones=sorted(set(time_zones)),
        rows=list(rows.values()),
        total=total,
        heat_map=heat,
        reasons=reasons,
        stations=figures.stations,
    )


def _set_stays(row: ReportRow, stays: StayFigures | None) -> None:
    if stays is not None:
        row.stays = stays.stays
        row.stay_median_s = stays.median_s
        row.stay_p90_s = stays.p90_s


def region_codes(code: int) -> tuple[int, int]:
    """The region codes a GB/T 2260 code covers, lowest and highest: a province
    (`430000`) its every district, a city (`430100`) its districts, a district itself."""
    if code % 10000 == 0:
        return code, code + 9999
    if code % 100 == 0:
        return code, code + 99
    return code, code
