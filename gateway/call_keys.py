"""The call a BC 1.0 or BC 1.1 is for, as keys the register holds once (issue 13).

A *call* is one visit of one conveyance to one customs office. Two documents are for the
same call when they agree on all of:

- the office (the header's office code);
- the conveyance: its IMO number decides when the document states one (two IMO numbers are
  two ships, whatever else they share); without one, the same call sign or the same
  registration number (an aircraft's, a vehicle's); the name only stands in for a
  conveyance that states none of the three;
- the voyage (flight, trip) number;
- the day of the arrival in the office's time zone: an RKSP's ETA, each JKSP call's ETA, an
  inward manifest's arrival; for an outward manifest the day of the departure. A manifest
  that states no such moment is keyed on the voyage alone (its day left blank).

Identifiers and voyage numbers are compared after Unicode compatibility folding, in upper
case, with everything but letters and digits dropped (``PK-GMA`` = ``pk gma``, ``GA 880`` =
``GA880``); names likewise. A key is an exact value, so a document that states the IMO
number and one of the same ship that states only its call sign are not matched: a carrier's
system states the identifiers it has the same way each time.

The register keeps one BC 1.0 per call and one BC 1.1 per call and direction (a nil manifest
counts as a manifest of its direction). Each registered document holds one key per call and
identifier it states (:func:`keys_of`), in table ``call_keys`` whose primary key makes a
second registration of a key impossible: the database decides, even between workers that
check at the same moment.
"""

from __future__ import annotations

import enum
import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gateway.model import Conveyance, Direction, Document, DocumentType, Jksp, Manifest, Rksp
from gateway.model.common import RECORD, RegistrationRef

# The stored key's column is this wide; a longer key (very long names) is stored hashed.
KEY_LENGTH = 255


class Register(enum.StrEnum):
    """Which number a call can hold once."""

    BC10 = "BC10"
    BC11_INWARD = "BC11-IN"
    BC11_OUTWARD = "BC11-OUT"


@dataclass(**RECORD)
class CallKey:
    register: Register
    office_code: str
    conveyance: str  # IMO:9321483, CS:PKDN, REG:PKGMA or NAME:KMDEMONUSANTARA
    voyage: str  # normalised
    day: date | None  # arrival (departure) day in the office's zone; None: not stated
    voyage_as_sent: str = ""  # for messages: the voyage as the document spells it

    def __str__(self) -> str:
        day = self.day.isoformat() if self.day else ""
        text = "|".join((self.register, self.office_code, self.conveyance, self.voyage, day))
        if len(text) > KEY_LENGTH:
            return f"{self.register}|{self.office_code}|sha256:{_sha(text)}"
        return text


@dataclass(**RECORD)
class RegisteredCall:
    """The registration that holds a call key."""

    key: str
    registration: RegistrationRef
    document_type: DocumentType


def normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in folded if ch.isalnum())


def conveyance_identities(conveyance: Conveyance) -> tuple[str, ...]:
    """The identifiers of the conveyance a key is made of (see the module's docstring)."""
    imo = normalised(conveyance.imo_number or "").removeprefix("IMO")
    if imo:
        return (f"IMO:{imo}",)
    found = [
        f"{label}:{normalised(value)}"
        for label, value in (("CS", conveyance.call_sign), ("REG", conveyance.registration_number))
        if value and normalised(value)
    ]
    if not found and normalised(conveyance.name):
        found.append(f"NAME:{normalised(conveyance.name)}")
    return tuple(found)


def keys_of(document: Document, zone: ZoneInfo) -> tuple[CallKey, ...]:
    """The keys of every call the document is for; () for documents no call is kept for
    (amendments, pos closings, changes of a BC 1.0: those name what they change)."""
    if isinstance(document, Rksp | Jksp) and document.amends is not None:
        return ()
    calls: list[tuple[Register, str, datetime | None]]
    if isinstance(document, Rksp):
        calls = [(Register.BC10, document.voyage_number, document.eta)]
    elif isinstance(document, Jksp):
        calls = [(Register.BC10, call.voyage_number, call.eta) for call in document.calls]
    elif isinstance(document, Manifest):
        if document.direction is Direction.INWARD:
            calls = [(Register.BC11_INWARD, document.voyage_number, document.arrival_at)]
        else:
            calls = [(Register.BC11_OUTWARD, document.voyage_number, document.departure_at)]
    else:
        return ()
    office = document.header.office_code
    keys: dict[str, CallKey] = {}
    for register, voyage, moment in calls:
        for identity in conveyance_identities(document.conveyance):
            key = CallKey(
                register=register,
                office_code=office,
                conveyance=identity,
                voyage=normalised(voyage),
                day=moment.astimezone(zone).date() if moment is not None else None,
                voyage_as_sent=voyage.strip(),
            )
            keys.setdefault(str(key), key)  # a JKSP listing one call twice holds it once
    return tuple(keys.values())


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
