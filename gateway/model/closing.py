"""Pos closing (penutupan pos, Art. 10): the declaration that settles a BC 1.1 pos."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.model.common import (
    RECORD,
    CustomsDocumentRef,
    DocumentHeader,
    DocumentType,
    RegistrationRef,
)
from gateway.model.manifest import PosNumber


@dataclass(**RECORD)
class PosClosing:
    header: DocumentHeader
    bc11: RegistrationRef
    pos_number: PosNumber
    closing_document: CustomsDocumentRef
    packages_closed: int | None = None
    gross_weight_kg_closed: Decimal | None = None

    document_type = DocumentType.POS_CLOSING
