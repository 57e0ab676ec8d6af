"""One number per call: one BC 1.0 per call, one BC 1.1 per call and direction.

What "the same call" is, precisely, is :mod:`gateway.call_keys`'s: office, conveyance
(its IMO number; without one its call sign or registration number; else its name), voyage, and
the day of the arrival (departure) in the office's time zone.

These rules answer from what is registered when the document is read, with the number and
date of the registration that holds the call. They are not what keeps the register whole:
two copies read at the same moment both find the call free. The pipeline keys every
registration in the transaction that numbers it (table ``call_keys``, a primary key), looks
the keys up again in that transaction, and a second worker committing the same key fails
and is retried; the retry finds the first registration and is refused with the same
finding (:func:`call_taken`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from gateway.call_keys import CallKey, Register, RegisteredCall, keys_of
from gateway.messages import finding
from gateway.model import Document, DocumentType, Finding, Flag, Jksp, Manifest, Rksp
from handlers.base import RuleContext
from handlers.registration import registration_kind
from handlers.rulebook import RuleSeverity, rule

ONE_BC10 = "ART2-5-ONE-BC10"
ONE_BC11 = "ART4-12-ONE-BC11"

_SAME_CALL = (
    "the same office; the same conveyance (its IMO number when the document states one; "
    "else the same call sign or registration number; the name only for a conveyance that "
    "states none of them); "
    "the same voyage (flight, trip) number; and the same day, in the office's time zone, of "
    "{moment}. Identifiers, voyage numbers and names are compared in upper case with everything "
    "but letters and digits dropped (PK-GMA = pk gma). Whoever filed the first (another "
    "carrier, an agent for its principal) holds the call. The database keeps each call once "
    "(table call_keys), so copies processed at the same moment by several workers get one "
    "number."
)


@rule(
    id=ONE_BC10,
    article="Art. 2(3), 2(5)",
    severity=RuleSeverity.REFUSE,
    checks=(
        "One BC 1.0 per call: an RKSP or JKSP that is not a change (no Amends) is refused when "
        "one of its calls already has a BC 1.0 (an RKSP's, or a call of a JKSP); a change of "
        "that BC 1.0 is sent instead. The same call: "
        + _SAME_CALL.format(moment="arrival (the RKSP's ETA, the JKSP call's ETA)")
    ),
    example=(
        "RKSP of KM DEMO NUSANTARA (IMO 9321483) voyage 025N, ETA 2026-03-14 06:00 WIB, "
        "registered as BC 1.0 000001; the same RKSP sent again re-indented, or with another "
        "ETD, or as X12: refused, naming BC 1.0 000001; an RKSP of voyage 025N arriving that "
        "day, when a JKSP listing that call is registered: refused."
    ),
    codes=("CALL-001",),
)
def one_bc10_per_call(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Rksp | Jksp) and registration_kind(document) is not None:
        yield from _taken(document, ctx)


@rule(
    id=ONE_BC11,
    article="Art. 4(12), 8(8); Art. 6",
    severity=RuleSeverity.REFUSE,
    checks=(
        "One BC 1.1 per call and direction: an inward (outward) manifest, a nil manifest "
        "counting as one of its direction, is refused when its call already has an inward "
        "(outward) BC 1.1; corrections are amendments (Art. 6). The same call: "
        + _SAME_CALL.format(
            moment="the arrival (inward) or departure (outward) the manifest states (a "
            "manifest that states none is keyed on office, conveyance and voyage alone)"
        )
    ),
    example=(
        "Inward manifest of KM DEMO NUSANTARA 025N arriving 2026-03-14, registered as BC 1.1 "
        "000001; a second inward manifest, or an inward nil manifest, of that arrival: "
        "refused, naming BC 1.1 000001; the outward manifest of its departure: registered."
    ),
    codes=("CALL-002",),
)
def one_bc11_per_call(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Manifest):
        yield from _taken(document, ctx)


def _taken(document: Rksp | Jksp | Manifest, ctx: RuleContext) -> Iterator[Finding]:
    office = ctx.reference.offices.get(document.header.office_code)
    if office is None:  # ART3-1-OFFICE refuses it
        return
    keys = keys_of(document, office.zone)
    taken = ctx.calls.holder(keys) if keys else None
    if taken is not None:
        key = next((k for k in keys if str(k) == taken.key), keys[0])
        yield _refusal(document, key, taken)


def call_taken(document: Document, keys: Sequence[CallKey], taken: RegisteredCall) -> Finding:
    """The refusal the rules give a document whose call ``taken`` holds, cited as they cite
    it: for the pipeline, which finds the holder in the numbering transaction."""
    if not isinstance(document, Rksp | Jksp | Manifest) or not keys:
        raise ValueError(f"{type(document).__name__} holds no call")
    key = next((k for k in keys if str(k) == taken.key), keys[0])
    cited = ONE_BC10 if key.register is Register.BC10 else ONE_BC11
    found = _refusal(document, key, taken)
    return dataclasses.replace(
        found,
        message_id=f"{found.message_id} [{cited}]",
        message_en=f"{found.message_en} [{cited}]",
    )


_SHOWN = {
    DocumentType.RKSP: "RKSP",
    DocumentType.JKSP: "JKSP",
    DocumentType.INWARD_MANIFEST: "inward manifest",
    DocumentType.OUTWARD_MANIFEST: "outward manifest",
    DocumentType.NIL_MANIFEST: "nil manifest",
}


def _refusal(document: Rksp | Jksp | Manifest, key: CallKey, taken: RegisteredCall) -> Finding:
    ref = taken.registration
    inward = key.register is Register.BC11_INWARD
    return finding(
        "CALL-001" if key.register is Register.BC10 else "CALL-002",
        conveyance=document.conveyance.name,
        voyage=key.voyage_as_sent or key.voyage,
        day=key.day.isoformat() if key.day else "-",
        office=key.office_code,
        number=ref.number,
        date=ref.date.isoformat(),
        # CALL-001: the document that holds the call, and the one sent
        document=_SHOWN.get(taken.document_type, str(taken.document_type)),
        sent=_SHOWN.get(document.document_type, str(document.document_type)),
        # CALL-002: arrival (inward) or departure (outward)
        event_id="Kedatangan" if inward else "Keberangkatan",
        event_en="arrival" if inward else "departure",
        direction="inward" if inward else "outward",
    )
