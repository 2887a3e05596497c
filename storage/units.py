"""Durations and sizes written the way people write them (`15m`, `48h`, `10MB`).

They live in storage, the room every other room may import, so that crawler and alerts share one
reading of `15m`.
"""

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)", re.IGNORECASE)
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_BYTES = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}


def parse_duration(value: object) -> timedelta:
    """Read `90s`, `15m`, `1h30m`, `2d` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _seconds(value, value)
    text = str(value).strip()
    parts = _DURATION.findall(text)
    if not text or not parts or _DURATION.sub("", text).strip():
        raise ValueError(f"{value!r} is not a duration: write it like 30s, 15m, 2h or 7d")
    return _seconds(value, sum(float(n) * _SECONDS[unit.lower()] for n, unit in parts))


def _seconds(value: object, seconds: float) -> timedelta:
    try:
        return timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # past timedelta's 999,999,999 days, or NaN
        raise ValueError(f"{value!r} is not a duration: write it like 30s, 15m, 2h or 7d (at most 999999999d)") \
            from None


def parse_size(value: object) -> int:
    """Read `10MB`, `512KB`, `1MiB` (or a number of bytes) as a number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size: write it like 500KB, 10MB or 1GB")
    unit = (match.group(2) or "").lower().rstrip("b")
    try:
        return int(float(match.group(1)) * _BYTES[unit])
    except OverflowError:  # more digits than a float holds
        raise ValueError(f"{value!r} is too large a size") from None


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration, for messages and summaries."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
