"""The parser contract shared by every format family."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from gateway.model import Document
from gateway.model.common import RECORD
from gateway.model.findings import Location


class Format(enum.StrEnum):
    XML = "XML"
    X12 = "X12"
    EDIFACT = "EDIFACT"
    JSON = "JSON"
    UNKNOWN = "UNKNOWN"


@dataclass(**RECORD)
class ParsedDocument:
    document: Document
    location: Location  # where the document starts in the file


@dataclass(**RECORD)
class ParseResult:
    format: Format
    documents: tuple[ParsedDocument, ...]


class Parser(Protocol):
    """``parse(data, max_bytes=...)`` returns every document in the file or raises DocumentError."""

    format: Format

    def parse(self, data: bytes, *, max_bytes: int) -> ParseResult: ...
