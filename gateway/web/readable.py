"""The parsed document in readable form, for the submission page.

Parsers are pure (bytes in, canonical records out), so the page simply parses the kept raw
file again and shows each record as nested rows: field, value. Files above ``MAX_BYTES`` are
not re-parsed for display (the summary and the reasons are still shown).
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Collection, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from gateway.exceptions import GatewayError
from gateway.pipeline import Pipeline
from parsers.detect import detect_format

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 3000  # a long manifest is cut here, with a note
# A parse for display holds the parsed file (~15 MB for a 722 KB X12 of 2,000 sets) and is
# CPU-bound: the GIL runs one at a time anyway, so at most two at once, however many pages
# are asked for (docs/security.md, 7).
_PARSING = threading.BoundedSemaphore(2)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class Line:
    depth: int
    field: str
    value: str


def parsed_lines(
    pipeline: Pipeline, data: bytes, *, only: Collection[int] | None = None
) -> list[list[Line]] | None:
    """One list of lines per document of the file, or None when it cannot be shown.

    With ``only`` (document indexes: the page shown), the other documents' lists are empty:
    a file of 2,000 documents is not turned into 2,000 tables for a page of 20.
    """
    if len(data) > MAX_BYTES:
        return None
    parser = pipeline.parsers.get(detect_format(data))
    if parser is None:
        return None
    with _PARSING:
        try:
            result = parser.parse(data, max_bytes=MAX_BYTES)
        except GatewayError:
            return None
        out: list[list[Line]] = []
        for parsed in result.documents:
            if parsed.document is None or (only is not None and len(out) not in only):
                out.append([])
                continue
            lines = list(_walk(parsed.document, 0))
            if len(lines) > MAX_ROWS:
                lines = [*lines[:MAX_ROWS], Line(depth=0, field="…", value=f"{len(lines)} rows")]
            out.append(lines)
        return out


def _scalar(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date | Decimal):
        return str(value)
    return str(value)


def _walk(value: Any, depth: int, name: str = "") -> Iterator[Line]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if name:
            yield Line(depth=depth, field=name, value="")
            depth += 1
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None or item == ():
                continue
            yield from _walk(item, depth, f.name)
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value, start=1):
            yield from _walk(item, depth, f"{name} {index}")
    else:
        yield Line(depth=depth, field=name, value=_scalar(value))
