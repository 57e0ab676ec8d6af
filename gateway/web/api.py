"""HTTP API v1: submit files, read submissions, registrations, errors and acknowledgments.

Versioned under ``/api/v1``; the OpenAPI document is served at ``/api/v1/openapi.json``.
A carrier's API token (bearer) or a carrier user's session sees only that carrier's
submissions: anything else is 404, exactly as if it did not exist. Officers see their
office's documents, operators everything.
"""

from __future__ import annotations

import tempfile
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from gateway.channels.base import Inbound, safe_name
from gateway.model.common import RECORD
from gateway.storage import audit, views
from gateway.storage import submissions as store
from gateway.storage.raw_files import RawFileStore
from gateway.web.downloads import file_download, piecewise_download
from gateway.web.limits import spool_multipart
from gateway.web.security import Caller, check_csrf, gateway_of, require

router = APIRouter(prefix="/api/v1", tags=["submissions"])
CHUNK = 1024 * 1024
# Bodies beyond this are cut off at once (413); up to it they are kept and refused (FILE-002).
HARD_LIMIT_FACTOR = 2
SUBMISSIONS_PATH = "/api/v1/submissions"  # the upload: the one route whose body is a file
# Documents (and file-level acknowledgments) per page of a submission's answer.
PAGE_DEFAULT = 50
PAGE_MAX = 200


class Accepted(BaseModel):
    submission_id: int
    created: bool
    status_url: str


class SearchRow(BaseModel):
    submission_id: int
    received_at: str
    sender: str
    channel: str
    source_name: str
    format: str | None
    nomor_aju: str | None
    document_type: str | None
    status: str
    office: str | None
    registration: str | None
    conveyance: str | None
    voyage: str | None
    flags: list[str]


class QueueStats(BaseModel):
    jobs: dict[str, dict[str, int]]


CallerDep = Annotated[Caller, Depends(require)]
# Ids are 64-bit in the database: anything larger is simply not found, never a server error.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
# Search words: printable text only (PostgreSQL refuses NUL in text; control characters are
# never part of a number, a name or a B/L).
Word = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")]


@dataclass(**RECORD)
class _Filing:
    """On whose behalf, on which channel, and (counter uploads) for which office only."""

    sender: str
    channel: str
    counter_office: str | None = None


def _may_file(who: Caller) -> None:
    user = who.user
    if who.carrier is None and (user is None or not user.role.office_side or not user.office_code):
        raise HTTPException(
            403,
            "hanya pengangkut atau petugas loket kantor pabean yang mengajukan dokumen / "
            "only carriers, or officers at their office's counter, submit documents",
        )


def _filing(request: Request, who: Caller, carrier: str | None) -> _Filing:
    """A carrier files for itself over ``http``; an officer takes a carrier's storage media
    at the counter (channel ``media``) for their own office; nobody else files."""
    _may_file(who)
    if who.carrier is not None:
        if carrier is not None and carrier != who.carrier:
            raise HTTPException(
                403,
                f"pengangkut hanya mengajukan atas namanya sendiri ({who.carrier}) / "
                f"a carrier submits only for itself ({who.carrier})",
            )
        return _Filing(sender=who.carrier, channel="http")
    user = who.user
    assert user is not None and user.office_code is not None  # _may_file
    if carrier is None:
        raise HTTPException(
            422,
            "sebutkan pengangkut pemilik media (carrier=...) / name the carrier whose storage "
            "media this is (carrier=...)",
        )
    if carrier not in gateway_of(request).pipeline.reference().carriers:
        raise HTTPException(422, f"pengangkut tidak dikenal / unknown carrier {carrier}")
    return _Filing(sender=carrier, channel="media", counter_office=user.office_code)


@router.post(
    "/submissions",
    status_code=202,
    response_model=Accepted,
    responses={
        503: {
            "description": "Queue full, or the gateway's storage full: nothing received; "
            "retry after Retry-After."
        }
    },
)
async def submit(
    request: Request,
    who: CallerDep,
    name: Annotated[str, Query(max_length=255, description="The file's name.")] = "upload",
    carrier: Annotated[
        str | None,
        Query(max_length=20, pattern=r"^[A-Z0-9_-]+$", description="For customs/operator users."),
    ] = None,
) -> Accepted:
    """Submit one file: the raw body, or ``multipart/form-data`` with a ``file`` field."""
    gateway = gateway_of(request)
    multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
    # Who may file is decided before a byte of the body is read; a form without script
    # names the carrier in a field, which is read with the body.
    filing = _filing(request, who, carrier) if carrier or not multipart else None
    if filing is None:
        _may_file(who)
    # Back-pressure before reading the body: a full queue answers 503 + Retry-After at once.
    await run_in_threadpool(gateway.pipeline.admission.check)
    limit = gateway.settings.max_file_bytes * HARD_LIMIT_FACTOR
    spool = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)
    try:
        if multipart:
            # Parsed as it streams: the file part goes into the spool and is cut at the
            # limit; other fields are small (gateway/web/limits.py).
            upload = await spool_multipart(request, spool, limit=limit)
            check_csrf(request, who, upload.fields.get("csrf") or None)
            name = upload.filename or name
            if filing is None:
                filing = _filing(request, who, upload.fields.get("carrier") or None)
        else:
            check_csrf(request, who, None)
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"file larger than {limit} bytes")
                spool.write(chunk)
        spool.seek(0)
        assert filing is not None  # decided before the body, or from the form's field
        inbound = Inbound(
            channel=filing.channel,
            sender=filing.sender,
            source_name=safe_name(name),
            intake_key=f"{filing.channel}:{uuid.uuid4().hex}",
            counter_office=filing.counter_office,
        )
        stream = cast(BinaryIO, spool)  # a SpooledTemporaryFile is a binary file object
        [received] = await run_in_threadpool(gateway.pipeline.receive_many, [(inbound, stream)])
        # The audit keeps the cleaned name: a raw one may hold NUL (refused by PostgreSQL).
        await run_in_threadpool(
            _audit_upload, request, who, received.submission_id, inbound.source_name, filing
        )
    finally:
        spool.close()
    return Accepted(
        submission_id=received.submission_id,
        created=received.created,
        status_url=f"/api/v1/submissions/{received.submission_id}",
    )


def _audit_upload(
    request: Request, who: Caller, submission_id: int, name: str, filing: _Filing
) -> None:
    """Who uploaded it: the pipeline records the arrival, this the person or token behind it."""
    gateway = gateway_of(request)
    with gateway.db.transaction() as conn:
        audit.record(
            conn,
            at=gateway.clock(),
            actor=who.actor,
            action="uploaded",
            submission_id=submission_id,
            detail={
                "source_name": name,
                "channel": filing.channel,
                "carrier": filing.sender,
                "counter_office": filing.counter_office,
            },
        )


def _visible(request: Request, who: Caller, submission_id: Id) -> views.Share:
    with gateway_of(request).db.engine.connect() as conn:
        found = views.share(conn, who.scope, submission_id)
    if found is None:
        raise HTTPException(404, "no such submission / pengajuan tidak ditemukan")
    return found


OTHER_OFFICES = (
    "berkas ini juga memuat dokumen untuk kantor lain; lihat dokumen kantor Anda sebagaimana "
    "dibaca gateway / this file also holds documents for other offices; see your office's "
    "documents as the gateway read them"
)


Limit = Annotated[int, Query(ge=1, le=PAGE_MAX, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=2**31, description="Items to skip.")]


def _next(path: str, *, offset: int, limit: int, total: int) -> str | None:
    return f"{path}?offset={offset + limit}&limit={limit}" if offset + limit < total else None


def _ack_link(submission_id: int, ack: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ack["id"],
        "kind": ack["kind"],
        "file_name": ack["file_name"],
        "document_id": ack["document_id"],
        "url": f"/api/v1/submissions/{submission_id}/acks/{ack['id']}",
    }


@router.get("/submissions/{submission_id}")
def submission(
    request: Request,
    who: CallerDep,
    submission_id: Id,
    limit: Limit = PAGE_DEFAULT,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The submission, and one page of its documents in file order: status, registration,
    errors (with their place in the file) and each document's own acknowledgments.

    ``documents_total`` counts them all; ``next`` is the next page (null on the last).
    ``file_acks`` are the acknowledgments of the whole file (TA1, 997/999, CONTRL, a receipt
    without a document): the first page of them, the rest from ``file_acks_next``.
    """
    seen = _visible(request, who, submission_id)
    path = f"/api/v1/submissions/{submission_id}"
    with gateway_of(request).db.engine.connect() as conn:
        found = store.get_submission(conn, submission_id)
        total = store.count_documents(conn, submission_id, office=seen.office)
        documents = store.report(
            conn, submission_id, office=seen.office, limit=limit, offset=offset
        )
        if seen.sees_ack(None):
            file_acks, file_acks_total = store.file_acks(conn, submission_id, limit=limit)
        else:
            file_acks, file_acks_total = [], 0
    if found is None:
        raise HTTPException(404, "no such submission / pengajuan tidak ditemukan")
    documents = [d for d in documents if d.get("document_id") is not None]
    for item in documents:
        item["ack_downloads"] = [
            _ack_link(submission_id, a) for a in item.pop("acks") if seen.sees_ack(a["document_id"])
        ]
    return {
        "submission_id": submission_id,
        "source_name": found.source_name,
        "sender": found.sender,
        "channel": found.channel,
        "status": found.status,
        "received_at": found.received_at.isoformat(),
        "documents_total": total,
        "limit": limit,
        "offset": offset,
        "next": _next(path, offset=offset, limit=limit, total=total),
        "documents": documents,
        "file_acks_total": file_acks_total,
        "file_acks": [_ack_link(submission_id, a) for a in file_acks],
        "file_acks_next": _next(f"{path}/file-acks", offset=0, limit=limit, total=file_acks_total),
    }


@router.get("/submissions/{submission_id}/file-acks")
def file_acks(
    request: Request,
    who: CallerDep,
    submission_id: Id,
    limit: Limit = PAGE_DEFAULT,
    offset: Offset = 0,
) -> dict[str, Any]:
    """One page of the acknowledgments of the whole file (one TA1 and one 997 per
    interchange...), with ``total`` and the ``next`` page."""
    if not _visible(request, who, submission_id).sees_ack(None):
        raise HTTPException(403, OTHER_OFFICES)
    with gateway_of(request).db.engine.connect() as conn:
        listed, total = store.file_acks(conn, submission_id, limit=limit, offset=offset)
    path = f"/api/v1/submissions/{submission_id}/file-acks"
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "next": _next(path, offset=offset, limit=limit, total=total),
        "acks": [_ack_link(submission_id, a) for a in listed],
    }


@router.get(
    "/submissions/{submission_id}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def raw(request: Request, who: CallerDep, submission_id: Id) -> Response:
    """The file exactly as received (streamed: any size)."""
    if not _visible(request, who, submission_id).whole_file:
        raise HTTPException(403, OTHER_OFFICES)
    gateway = gateway_of(request)
    with gateway.db.engine.connect() as conn:
        found = store.get_submission(conn, submission_id)
    if found is None:
        raise HTTPException(404, "no such submission")
    stream = RawFileStore(gateway.settings.raw_dir).open_file(found.sha256)
    return file_download(stream, filename=safe_name(found.source_name))


@router.get(
    "/submissions/{submission_id}/acks/{ack_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def ack(request: Request, who: CallerDep, submission_id: Id, ack_id: Id) -> Response:
    """One acknowledgment (receipt, response, 997, CONTRL, CUSRES...) as it was sent."""
    seen = _visible(request, who, submission_id)
    db = gateway_of(request).db
    with db.engine.connect() as conn:
        found = store.ack_body(conn, submission_id, ack_id)
    if found is None or not seen.sees_ack(found.document_id):
        raise HTTPException(404, "no such acknowledgment")

    def read(start: int, size: int) -> bytes:
        with db.engine.connect() as conn:  # one short query a piece: no connection held
            return store.ack_body_chunk(conn, ack_id, start, size)

    return piecewise_download(read, size=found.size, filename=found.file_name)


@router.get("/search", response_model=list[SearchRow])
def search(
    request: Request,
    who: CallerDep,
    q: Word = None,
    carrier: Word = None,
    status: Word = None,
    document_type: Word = None,
    received_from: date | None = None,
    received_until: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SearchRow]:
    """By nomor aju, registration number, B/L or AWB, vessel/flight, voyage, carrier, dates."""
    query = views.SearchQuery(
        text=q,
        carrier=carrier,
        status=status,
        document_type=document_type,
        received_from=received_from,
        received_until=received_until,
        limit=limit,
    )
    with gateway_of(request).db.engine.connect() as conn:
        rows = views.search(conn, who.scope, query)
    return [
        SearchRow(
            submission_id=r.submission_id,
            received_at=r.received_at.isoformat(),
            sender=r.sender,
            channel=r.channel,
            source_name=r.source_name,
            format=r.format,
            nomor_aju=r.nomor_aju,
            document_type=r.document_type,
            status=r.status or r.submission_status,
            office=r.office,
            registration=r.registration,
            conveyance=r.conveyance,
            voyage=r.voyage,
            flags=list(r.flags),
        )
        for r in rows
    ]


@router.get("/queue", response_model=QueueStats)
def queue(request: Request, who: CallerDep) -> QueueStats:
    """Jobs by kind and status (how much work is waiting); a carrier sees its own only."""
    jobs: dict[str, dict[str, int]] = {}
    for row in gateway_of(request).pipeline.queue.stats(sender=who.carrier):
        jobs.setdefault(str(row["kind"]), {})[str(row["status"])] = int(row["count"])
    return QueueStats(jobs=jobs)
