"""What rules and parsers report: findings (errors, warnings) and flags (e.g. LATE)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from gateway.model.common import RECORD


class Severity(enum.StrEnum):
    ERROR = "ERROR"  # the document is refused
    WARNING = "WARNING"  # accepted, but the sender should fix it next time


@dataclass(**RECORD)
class Location:
    """The place in the submitted file a finding is about."""

    line: int | None = None
    path: str | None = None  # XPath-like element path, X12 segment position, ...

    def __str__(self) -> str:
        parts = []
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.path:
            parts.append(self.path)
        return ", ".join(parts)


@dataclass(**RECORD)
class Finding:
    """One reason for refusal or warning, with a stable code users can look up."""

    code: str
    severity: Severity
    message_id: str
    message_en: str
    location: Location | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


@dataclass(**RECORD)
class Flag:
    """A mark on an accepted document, e.g. LATE with how late it was."""

    code: str
    lateness: timedelta | None = None
    detail: str | None = None
