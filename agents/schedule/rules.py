"""Trigger schedules: cron (in an IANA zone), fixed intervals, one-shot times; all slots in UTC.

Cron evaluation uses cronsim, which follows Debian cron on daylight-saving changes: a fixed-time job
in a repeated hour fires once, and one in a skipped hour fires right after the jump (RELIABILITY.md §5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from mia.errors import UsageError

MAX_SLOTS = 1000
UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
MIN_INTERVAL = 300


@dataclass(frozen=True)
class Schedule:
    """kind 'cron' (spec = expression), 'every' (spec = seconds), 'at' (spec = ISO UTC time)."""

    kind: str
    spec: str
    tz: str = "UTC"
    anchor: datetime | None = None  # where 'every' slots start counting

    def next_after(self, moment: datetime) -> datetime | None:
        """The first slot strictly after `moment` (UTC), or None when there is none."""
        if self.kind == "at":
            at = parse_utc(self.spec)
            return at if at > moment else None
        if self.kind == "every":
            step = timedelta(seconds=int(self.spec))
            anchor = self.anchor or moment
            if moment < anchor:
                return anchor
            return anchor + step * ((moment - anchor) // step + 1)
        zone = ZoneInfo(self.tz)
        local = moment.astimezone(zone)
        slot = next(CronSim(self.spec, local))
        return slot.astimezone(UTC)

    def slots(self, after: datetime, until: datetime) -> tuple[datetime | None, int]:
        """The latest slot in (after, until] and how many slots fell in that window (capped)."""
        latest, count = None, 0
        cursor = after
        while count < MAX_SLOTS:
            slot = self.next_after(cursor)
            if slot is None or slot > until:
                break
            latest, count, cursor = slot, count + 1, slot
        return latest, count

    def cadence(self) -> timedelta:
        """Roughly how often it fires (for the default grace window)."""
        if self.kind == "every":
            return timedelta(seconds=int(self.spec))
        if self.kind == "at":
            return timedelta(days=365)
        start = datetime(2026, 1, 5, tzinfo=UTC)
        first = self.next_after(start)
        second = self.next_after(first) if first else None
        return (second - first) if first and second else timedelta(days=1)

    def grace(self, minutes: int) -> timedelta:
        """How late a slot may still run: set, or 1 h for sub-daily cadences and 12 h for others."""
        if minutes > 0:
            return timedelta(minutes=minutes)
        return timedelta(hours=1) if self.cadence() < timedelta(days=1) else timedelta(hours=12)

    def describe(self) -> str:
        if self.kind == "cron":
            return f"cron '{self.spec}' ({self.tz})"
        if self.kind == "every":
            return f"every {format_interval(int(self.spec))}"
        return f"once at {self.spec}"


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def iso(moment: datetime) -> str:
    """The registry's UTC text for a slot."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_interval(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text.lower())
    if not match:
        raise UsageError(f"'{text}' is not an interval.", "Use a number and a unit: 30m, 6h, 1d or 2w.")
    seconds = int(match.group(1)) * UNITS[match.group(2)]
    if seconds < MIN_INTERVAL:
        raise UsageError(f"'{text}' is too often; the shortest interval is 5m.", "Use 5m or more.")
    return seconds


def _not_too_often(cron: str, zone: str, now: datetime, sample: int = 200) -> None:
    """Refuse a cron that fires more often than the shortest `--every` interval (5m), as --every does."""
    fires = CronSim(cron, now.astimezone(ZoneInfo(zone)))
    previous = next(fires)
    for _ in range(sample):
        current = next(fires)
        gap = (current - previous).total_seconds()
        if gap < MIN_INTERVAL:
            minutes = max(1, int(gap // 60))
            raise UsageError(f"'{cron}' is too often: it fires {minutes} minute{'s' if minutes > 1 else ''} apart, "
                             "and the shortest interval is 5m (as for --every).",
                             'Fire every 5 minutes at most, e.g. "*/5 * * * *", or use --every 5m.')
        previous = current


def format_interval(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def build_schedule(*, cron: str | None, tz: str | None, every: str | None, at: str | None,
                   now: datetime) -> Schedule:
    """Validate exactly one of --cron / --every / --at; every mistake is a UsageError with the fix."""
    given = [name for name, value in (("--cron", cron), ("--every", every), ("--at", at)) if value]
    if len(given) != 1:
        raise UsageError("Give exactly one schedule: --cron, --every or --at.",
                         'Examples: --cron "0 8 * * 1" --tz Europe/Berlin, --every 6h, --at 2026-12-01T09:00')
    zone = tz or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"Unknown time zone '{zone}'.", "Use an IANA name such as Europe/Berlin.") from None
    if cron:
        try:
            CronSim(cron, now.astimezone(ZoneInfo(zone)))
        except (CronSimError, ValueError) as exc:
            raise UsageError(f"'{cron}' is not a valid cron expression: {exc}.",
                             'Five fields: minute hour day month weekday, e.g. "0 8 * * 1".') from None
        _not_too_often(cron, zone, now)
        return Schedule("cron", " ".join(cron.split()), zone)
    if every:
        return Schedule("every", str(parse_interval(every)), zone)
    assert at is not None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise UsageError(f"'{at}' is not a date and time.", "Use ISO format, e.g. 2026-12-01T09:00.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    if moment <= now:
        raise UsageError(f"{at} is in the past.", "Give a time in the future for --at.")
    return Schedule("at", iso(moment), zone)
