"""What a document row keeps as JSON: its findings, its flags and a summary of the document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.model import Document, Finding, Flag, Jksp, Manifest
from gateway.reference import compact_npwp


def summarize(document: Document | None) -> dict[str, Any]:
    """A few fields the console and `status` show without reading the raw file again."""
    if document is None:
        return {}
    summary: dict[str, Any] = {"office": document.header.office_code}
    conveyance = getattr(document, "conveyance", None)
    if conveyance is not None:
        summary["conveyance"] = conveyance.name
        summary["mode"] = str(conveyance.mode)
        if conveyance.imo_number:
            summary["imo"] = conveyance.imo_number
    carrier = getattr(document, "carrier", None)
    if carrier is not None:  # whose registration it is (ART6-HOLDER)
        summary["carrier_name"] = carrier.name
        if carrier.npwp:
            summary["carrier_npwp"] = compact_npwp(carrier.npwp)
    for name in ("voyage_number", "eta", "etd", "arrival_at", "departure_at"):
        value = getattr(document, name, None)
        if value is not None:
            summary[name] = value.isoformat() if isinstance(value, datetime) else value
    if isinstance(document, Manifest):
        summary["pos_count"] = sum(1 for _ in document.all_pos())
    if isinstance(document, Jksp) and document.calls:  # what a JKSP change and a manifest need
        summary["first_arrival"] = document.first_arrival.isoformat()
        summary["voyages"] = [call.voyage_number for call in document.calls]
        # Each call's own announced times, aligned with the voyages (the deadline watch's).
        summary["etas"] = [call.eta.isoformat() for call in document.calls]
        summary["etds"] = [call.etd.isoformat() if call.etd else None for call in document.calls]
    return summary


def finding_json(f: Finding) -> dict[str, Any]:
    location = None
    if f.location is not None:
        location = {"line": f.location.line, "path": f.location.path}
    return {
        "code": f.code,
        "severity": str(f.severity),
        "message_id": f.message_id,
        "message_en": f.message_en,
        "location": location,
    }


def flag_json(flag: Flag) -> dict[str, Any]:
    return {
        "code": flag.code,
        "detail": flag.detail,
        "lateness_seconds": int(flag.lateness.total_seconds()) if flag.lateness else None,
    }
