"""Records shared by every document: header, parties, conveyance, references."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

RECORD = {"frozen": True, "kw_only": True, "slots": True}


def require_aware(name: str, value: datetime | None) -> None:
    """Refuse naive datetimes: deadlines are absolute instants, never wall-clock guesses."""
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")


class TransportMode(enum.StrEnum):
    SEA = "SEA"
    AIR = "AIR"
    LAND = "LAND"


class DocumentType(enum.StrEnum):
    RKSP = "RKSP"
    JKSP = "JKSP"
    INWARD_MANIFEST = "INWARD_MANIFEST"
    OUTWARD_MANIFEST = "OUTWARD_MANIFEST"
    NIL_MANIFEST = "NIL_MANIFEST"
    AMENDMENT = "AMENDMENT"
    POS_CLOSING = "POS_CLOSING"
    UNKNOWN = "UNKNOWN"


class RegistrationKind(enum.StrEnum):
    BC10 = "BC 1.0"
    BC11 = "BC 1.1"


@dataclass(**RECORD)
class DocumentHeader:
    """What every document says about itself: where it goes and how the sender names it."""

    office_code: str
    sender_reference: str | None = None  # the sender's own nomor aju, when it supplies one
    language: str | None = None  # "id" or "en" (Art. 4(1), 8(1))


@dataclass(**RECORD)
class Party:
    name: str
    npwp: str | None = None
    address: str | None = None
    country: str | None = None  # ISO 3166 alpha-2


@dataclass(**RECORD)
class Conveyance:
    mode: TransportMode
    name: str
    imo_number: str | None = None
    call_sign: str | None = None
    flag: str | None = None  # ISO 3166 alpha-2
    registration_number: str | None = None
    gross_tonnage: Decimal | None = None
    length_overall_m: Decimal | None = None
    draft_fore_m: Decimal | None = None
    draft_aft_m: Decimal | None = None


@dataclass(**RECORD)
class RegistrationRef:
    """A registered customs notification: BC 1.0 or BC 1.1 number and date at an office."""

    kind: RegistrationKind
    office_code: str
    number: str
    date: date


@dataclass(**RECORD)
class CustomsDocumentRef:
    """A customs declaration that settles a pos (KD_DOK / NO_DOK / TGL_DOK)."""

    code: str
    number: str
    date: date
