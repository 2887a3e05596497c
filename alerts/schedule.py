"""When alerts may go out: digest schedules (`hourly`, `daily 08:00`, `weekdays 08:00`) and quiet hours.

Pure functions of the time they are given, so that tests never sleep.
"""

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
KINDS = ("hourly", "daily", "weekdays")


def parse_clock(text: str) -> time:
    """`08:00` as a time of day; ValueError naming the problem otherwise."""
    match = _CLOCK.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day: write it like 08:00 (00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Digest:
    """A digest schedule: every hour on the hour, every day at `at`, or Monday to Friday at `at`."""

    kind: str
    at: time = time(0, 0)

    @classmethod
    def parse(cls, value: object) -> "Digest":
        """Read `hourly`, `daily 08:00` or `weekdays 08:00`."""
        if isinstance(value, Digest):
            return value
        words = str(value).split()
        if words == ["hourly"]:
            return cls("hourly")
        if len(words) == 2 and words[0] in ("daily", "weekdays"):
            return cls(words[0], parse_clock(words[1]))
        raise ValueError(f"{value!r} is not a digest schedule: write hourly, daily 08:00 or weekdays 08:00")

    def __str__(self) -> str:
        return "hourly" if self.kind == "hourly" else f"{self.kind} {self.at:%H:%M}"

    def next_after(self, moment: datetime, timezone: str) -> datetime:
        """The first digest time strictly after `moment` (an aware datetime), in the same zone as given."""
        local = moment.astimezone(ZoneInfo(timezone))
        if self.kind == "hourly":
            return (local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).astimezone(
                moment.tzinfo)
        day = local.date()
        while True:
            candidate = datetime.combine(day, self.at, tzinfo=local.tzinfo)
            if candidate > local and (self.kind == "daily" or candidate.weekday() < 5):
                return candidate.astimezone(moment.tzinfo)
            day += timedelta(days=1)


@dataclass(frozen=True)
class QuietHours:
    """A daily window (`22:00-07:00`, may span midnight) when no alert goes out."""

    start: time
    end: time

    @classmethod
    def parse(cls, value: object) -> "QuietHours":
        """Read `22:00-07:00`."""
        if isinstance(value, QuietHours):
            return value
        parts = str(value).split("-")
        if len(parts) != 2:
            raise ValueError(f"{value!r} is not a time window: write it like 22:00-07:00")
        start, end = parse_clock(parts[0]), parse_clock(parts[1])
        if start == end:
            raise ValueError(f"{value!r} is an empty window: start and end must differ")
        return cls(start, end)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def ends_at(self, moment: datetime, timezone: str) -> datetime | None:
        """When the quiet window containing `moment` ends, or None when `moment` is not in one."""
        local = moment.astimezone(ZoneInfo(timezone))
        now = local.time()
        if self.start < self.end:
            inside = self.start <= now < self.end
            end_day = local.date()
        else:  # spans midnight
            inside = now >= self.start or now < self.end
            end_day = local.date() + timedelta(days=1) if now >= self.start else local.date()
        if not inside:
            return None
        return datetime.combine(end_day, self.end, tzinfo=local.tzinfo).astimezone(moment.tzinfo)
