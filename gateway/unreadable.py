"""A sender always gets an answer: what becomes of a file that trips a defect of the gateway.

Parsers, mappers and rules are pure code run on bytes anybody may send. When one of them
raises something nobody foresaw (an ``IndexError`` deep in a tokenizer, a value the
database refuses), retrying cannot help: the same bytes meet the same code. Left to the
worker's retry policy the file would stay RECEIVED, its job would become a dead letter and
the carrier would hear nothing. Instead the pipeline refuses it with ``FILE-007`` ("the
gateway could not read the file"), keeps its bytes, tells the operators (one error line with
the traceback, and ``pde_documents_unreadable_total`` on /metrics), and ``pde-gateway replay``
reads the same bytes again once the defect is fixed.

Only the environment is retried: a database or disk that is away now may be back in a
minute. :func:`is_environmental` draws that line.
"""

from __future__ import annotations

import hashlib
import traceback
from pathlib import PurePath

import structlog
from sqlalchemy import exc as sa_exc

from gateway.exceptions import TransientError
from gateway.messages import UNREADABLE, finding
from gateway.model import Finding

log = structlog.get_logger("gateway.unreadable")

CODE = UNREADABLE
# What the environment raises: worth another try later, never a refusal of the carrier's file.
_ENVIRONMENT: tuple[type[BaseException], ...] = (
    TransientError,  # StorageUnavailable (disk, database), Overloaded
    OSError,
    sa_exc.OperationalError,  # connection lost, deadlock, serialisation failure
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # no pooled connection free
    sa_exc.DisconnectionError,
)
# Frames of the traceback that make a defect's fingerprint (innermost last).
_FINGERPRINT_FRAMES = 6


def is_environmental(exc: BaseException) -> bool:
    """Whether ``exc`` says the environment failed (retry) rather than the code on this input."""
    if isinstance(exc, _ENVIRONMENT):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated


def fingerprint(exc: BaseException) -> str:
    """Eight hex digits naming the defect: the exception's type and where it was raised.

    Files that trip the same defect share it, whatever their content, so operators see at a
    glance that forty refusals are one bug. Line numbers are left out: the fingerprint stays
    the same across an unrelated edit of the module.
    """
    frames = traceback.extract_tb(exc.__traceback__)[-_FINGERPRINT_FRAMES:]
    where = ";".join(f"{PurePath(f.filename).name}:{f.name}" for f in frames)
    digest = hashlib.sha256(f"{type(exc).__qualname__}|{where}".encode()).hexdigest()
    return digest[:8]


def refusal(submission_id: int, exc: BaseException, *, stage: str) -> Finding:
    """The FILE-007 refusal of a submission, after telling the operators why.

    ``stage`` is where it broke: ``read`` (parsing, mapping, rules) or ``commit`` (numbering
    and storing the decision). The reference (``<submission id>-<fingerprint>``) is in the
    carrier's response and in the log line, so a carrier's call finds the traceback.
    """
    reference = f"{submission_id}-{fingerprint(exc)}"
    log.error(
        "file could not be read: refused with FILE-007, replay it once the defect is fixed",
        submission_id=submission_id,
        reference=reference,
        stage=stage,
        error_type=type(exc).__qualname__,
        error=str(exc)[:500],
        exc_info=exc,
    )
    return finding(CODE, reference=reference)
