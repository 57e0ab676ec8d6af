"""Which documents get which number, and what status an accepted document takes."""

from __future__ import annotations

from gateway.model import Amendment, Document, Jksp, Manifest, PosClosing, RegistrationKind, Rksp
from gateway.model.outcome import DocumentStatus
from handlers.timing import rksp_not_required


def registration_kind(document: Document) -> RegistrationKind | None:
    """BC 1.0 for RKSP/JKSP (Art. 2(5)), BC 1.1 for manifests (Art. 4(12), 8(8)).

    A change amends its BC 1.0 rather than getting one; an RKSP/JKSP nobody had to file (land
    arrival from abroad, Art. 2(4)) is accepted but is no BC 1.0.
    """
    if isinstance(document, Rksp | Jksp):
        if document.amends is not None or rksp_not_required(document):
            return None
        return RegistrationKind.BC10
    if isinstance(document, Manifest):
        return RegistrationKind.BC11
    return None


def accepted_status(document: Document) -> DocumentStatus:
    if registration_kind(document) is not None:
        return DocumentStatus.REGISTERED
    if isinstance(document, Amendment) and document.kind.requires_approval:
        return DocumentStatus.PENDING_APPROVAL  # Art. 6(2): the head of office decides
    if isinstance(document, Amendment | PosClosing | Rksp | Jksp):
        return DocumentStatus.ACCEPTED
    raise TypeError(f"no status rule for {type(document).__name__}")
