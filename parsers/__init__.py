"""Format parsers: pure functions from bytes to canonical records, and from outcomes to acks.

No paths, no sessions, no clock: everything a parser needs is in its arguments.
"""

from __future__ import annotations

from parsers.detect import detect_format

__all__ = ["detect_format"]
