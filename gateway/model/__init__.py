"""Canonical records: what every format (XML, X12, EDIFACT, JSON, manual entry) is turned into.

Rules, registration and acknowledgments only ever see these records, never a file format.
All records are frozen, keyword-only dataclasses; every instant is timezone-aware.
"""

from __future__ import annotations

from gateway.model.amendment import Amendment, AmendmentKind, FieldChange
from gateway.model.closing import PosClosing
from gateway.model.common import (
    Conveyance,
    CustomsDocumentRef,
    DocumentHeader,
    DocumentType,
    Party,
    RegistrationKind,
    RegistrationRef,
    TransportMode,
)
from gateway.model.conveyance_notice import Jksp, Rksp, ScheduledCall
from gateway.model.findings import Finding, Flag, Location, Severity
from gateway.model.manifest import (
    Container,
    Direction,
    GoodsItem,
    Manifest,
    Packages,
    Pos,
    PosGroup,
    PosNumber,
    SupportingList,
    SupportingListKind,
    TransportDocument,
    TransportDocumentKind,
)

Document = Rksp | Jksp | Manifest | Amendment | PosClosing

__all__ = [
    "Amendment",
    "AmendmentKind",
    "Container",
    "Conveyance",
    "CustomsDocumentRef",
    "Direction",
    "Document",
    "DocumentHeader",
    "DocumentType",
    "FieldChange",
    "Finding",
    "Flag",
    "GoodsItem",
    "Jksp",
    "Location",
    "Manifest",
    "Packages",
    "Party",
    "Pos",
    "PosClosing",
    "PosGroup",
    "PosNumber",
    "RegistrationKind",
    "RegistrationRef",
    "Rksp",
    "ScheduledCall",
    "Severity",
    "SupportingList",
    "SupportingListKind",
    "TransportDocument",
    "TransportDocumentKind",
    "TransportMode",
]
