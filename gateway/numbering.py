"""Nomor aju (submission number): 26 characters in the CEISA layout.

``OOOO DD SSSSSS YYYYMMDD NNNNNN``: office prefix (first 4 digits of the office code), document
code, the sender's 6-character code, the receipt date in the office's time zone, and a 6-digit
sequence per (prefix, date). A sender may supply its own; it must then follow the layout, carry
the sender's own code, and be unique for that sender.
"""

from __future__ import annotations

import re
from datetime import date

from gateway.model import DocumentType

# Our document codes (published in docs/formats/xml.md).
DOCUMENT_CODES: dict[DocumentType, str] = {
    DocumentType.UNKNOWN: "00",
    DocumentType.RKSP: "01",
    DocumentType.JKSP: "02",
    DocumentType.INWARD_MANIFEST: "11",
    DocumentType.OUTWARD_MANIFEST: "12",
    DocumentType.NIL_MANIFEST: "13",
    DocumentType.AMENDMENT: "14",
    DocumentType.POS_CLOSING: "15",
}

NOMOR_AJU = re.compile(
    r"^(?P<office>[0-9A-Z]{4})(?P<doc>\d{2})(?P<sender>[0-9A-Z]{6})"
    r"(?P<date>\d{8})(?P<seq>\d{6})$"
)
UNKNOWN_OFFICE_PREFIX = "0000"


def aju_prefix(
    office_code: str | None, document_type: DocumentType, aju_code: str, day: date
) -> str:
    office = (office_code or UNKNOWN_OFFICE_PREFIX)[:4]
    return f"{office}{DOCUMENT_CODES[document_type]}{aju_code}{day:%Y%m%d}"


def format_nomor_aju(prefix: str, sequence: int) -> str:
    if not 0 < sequence <= 999_999:
        raise ValueError(f"nomor aju sequence {sequence} out of range for {prefix}")
    return f"{prefix}{sequence:06d}"


def check_supplied(nomor_aju: str, *, aju_code: str) -> str | None:
    """Why a sender-supplied nomor aju is not acceptable, or None when it is."""
    match = NOMOR_AJU.match(nomor_aju)
    if match is None:
        return "26 characters: office(4) document(2) sender(6) YYYYMMDD sequence(6)"
    if match["sender"] != aju_code:
        return f"sender code {match['sender']} is not this sender's code {aju_code}"
    try:
        date(int(match["date"][:4]), int(match["date"][4:6]), int(match["date"][6:]))
    except ValueError:
        return f"{match['date']} is not a date"
    return None
