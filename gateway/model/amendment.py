"""Manifest amendments (perbaikan, Art. 6): changes to a pos of a registered BC 1.1."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.model.common import (
    RECORD,
    CustomsDocumentRef,
    DocumentHeader,
    DocumentType,
    Party,
    RegistrationRef,
)
from gateway.model.manifest import Pos, PosNumber, TransportDocument


class AmendmentKind(enum.StrEnum):
    """Art. 6(1) a-e. Only BREAKDOWN (e) goes through without the head of office."""

    PACKAGES_MARKS = "A"  # number, marks, size, type of packages/containers
    QUANTITY = "B"  # quantity of packages/containers or bulk
    CONSIGNEE_NOTIFY = "C"  # consignee and/or notify party name
    MERGE_POS = "D"  # merging pos with identical parties and port of loading
    BREAKDOWN = "E"  # consolidated pos broken down into house-level detail

    @property
    def requires_approval(self) -> bool:
        return self is not AmendmentKind.BREAKDOWN


@dataclass(**RECORD)
class FieldChange:
    field: str  # canonical field path, e.g. "packages.count", "consignee.name"
    old_value: str | None
    new_value: str


@dataclass(**RECORD)
class Amendment:
    header: DocumentHeader
    bc11: RegistrationRef
    pos_number: PosNumber
    kind: AmendmentKind
    reason: str
    requested_by: Party
    supporting_documents: tuple[CustomsDocumentRef, ...] = ()
    changes: tuple[FieldChange, ...] = ()
    merged_pos: tuple[PosNumber, ...] = ()  # kind D: the other pos merged into pos_number
    revised_transport_document: TransportDocument | None = None  # kind D: the revised B/L/AWB
    breakdown: tuple[Pos, ...] = ()  # kind E: the house-level pos

    document_type = DocumentType.AMENDMENT
