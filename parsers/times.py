"""Instants and durations as every answer writes them (ISO 8601), in whichever format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def instant(value: datetime) -> str:
    """ISO 8601 with a whole-minute offset (a zone with a seconds offset is given in UTC)."""
    offset = value.utcoffset()
    if offset is None or offset % timedelta(minutes=1):
        value = value.astimezone(UTC)
    return value.isoformat()


def iso_duration(delta: timedelta) -> str:
    """``timedelta(days=1, hours=2, minutes=30)`` -> ``P1DT2H30M``; negative with a ``-``."""
    sign = "-" if delta < timedelta(0) else ""
    delta = abs(delta)
    days = delta.days
    minutes, seconds = divmod(delta.seconds, 60)
    hours, minutes = divmod(minutes, 60)
    out = f"{sign}P"
    if days:
        out += f"{days}D"
    time = ""
    if hours:
        time += f"{hours}H"
    if minutes:
        time += f"{minutes}M"
    if seconds or delta.microseconds:
        if delta.microseconds:
            time += f"{seconds}.{delta.microseconds:06d}".rstrip("0") + "S"
        else:
            time += f"{seconds}S"
    if time:
        out += "T" + time
    if out.endswith("P"):
        out += "T0S"
    return out
