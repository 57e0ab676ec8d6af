"""HTTP API v1: submit files, read submissions, registrations, errors and acknowledgments.

Versioned under ``/api/v1``; the OpenAPI document is served at ``/api/v1/openapi.json``.
A carrier's API token (bearer) or a carrier user's session sees only that carrier's
submissions: anything else is 404, exactly as if it did not exist. Officers see their
office's documents, operators everything.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import date
from typing import Annotated, Any, BinaryIO, cast

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from gateway.channels.base import Inbound, safe_name
from gateway.storage import submissions as store
from gateway.storage import views
from gateway.storage.raw_files import RawFileStore
from gateway.storage.tables import acks, audit_log
from gateway.web.downloads import file_download
from gateway.web.limits import spool_multipart
from gateway.web.security import Caller, check_csrf, gateway_of, require

router = APIRouter(prefix="/api/v1", tags=["submissions"])
CHUNK = 1024 * 1024
# Bodies beyond this are cut off at once (413); up to it they are kept and refused (FILE-002).
HARD_LIMIT_FACTOR = 2
SUBMISSIONS_PATH = "/api/v1/submissions"  # the upload: the one route whose body is a file


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


def _sender(request: Request, who: Caller, carrier: str | None) -> str:
    if who.carrier is not None:
        if carrier is not None and carrier != who.carrier:
            raise HTTPException(403, "a carrier submits only for itself")
        return who.carrier
    if carrier is None:
        raise HTTPException(422, "carrier is required for customs and operator users")
    if carrier not in gateway_of(request).pipeline.reference().carriers:
        raise HTTPException(422, f"unknown carrier {carrier}")
    return carrier


@router.post(
    "/submissions",
    status_code=202,
    response_model=Accepted,
    responses={503: {"description": "Queue full: nothing received; retry after Retry-After."}},
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
    sender = _sender(request, who, carrier)
    # Back-pressure before reading the body: a full queue answers 503 + Retry-After at once.
    await run_in_threadpool(gateway.pipeline.admission.check)
    limit = gateway.settings.max_file_bytes * HARD_LIMIT_FACTOR
    spool = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)
    try:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            # Parsed as it streams: the file part goes into the spool and is cut at the
            # limit; other fields are small (gateway/web/limits.py).
            upload = await spool_multipart(request, spool, limit=limit)
            check_csrf(request, who, upload.fields.get("csrf") or None)
            name = upload.filename or name
        else:
            check_csrf(request, who, None)
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"file larger than {limit} bytes")
                spool.write(chunk)
        spool.seek(0)
        inbound = Inbound(
            channel="http",
            sender=sender,
            source_name=safe_name(name),
            intake_key=f"http:{uuid.uuid4().hex}",
        )
        stream = cast(BinaryIO, spool)  # a SpooledTemporaryFile is a binary file object
        [received] = await run_in_threadpool(gateway.pipeline.receive_many, [(inbound, stream)])
        await run_in_threadpool(_audit_upload, request, who, received.submission_id, name)
    finally:
        spool.close()
    return Accepted(
        submission_id=received.submission_id,
        created=received.created,
        status_url=f"/api/v1/submissions/{received.submission_id}",
    )


def _audit_upload(request: Request, who: Caller, submission_id: int, name: str) -> None:
    """Who uploaded it: the pipeline records the arrival, this the person or token behind it."""
    gateway = gateway_of(request)
    with gateway.db.transaction() as conn:
        store.insert_rows(
            conn,
            audit_log,
            [
                store.audit_row(
                    at=gateway.clock(),
                    actor=who.actor,
                    action="uploaded",
                    submission_id=submission_id,
                    detail={"source_name": name},
                )
            ],
        )


def _visible(request: Request, who: Caller, submission_id: Id) -> None:
    with gateway_of(request).db.engine.connect() as conn:
        if not views.visible(conn, who.scope, submission_id):
            raise HTTPException(404, "no such submission / pengajuan tidak ditemukan")


@router.get("/submissions/{submission_id}")
def submission(request: Request, who: CallerDep, submission_id: Id) -> list[dict[str, Any]]:
    """Status, registration, errors (with their place in the file) and acknowledgments."""
    _visible(request, who, submission_id)
    with gateway_of(request).db.engine.connect() as conn:
        report = store.report(conn, submission_id)
        ids = conn.execute(
            sa.select(acks.c.id, acks.c.file_name, acks.c.kind, acks.c.document_id).where(
                acks.c.submission_id == submission_id
            )
        ).all()
    links = [
        {"id": a.id, "kind": a.kind, "file_name": a.file_name, "document_id": a.document_id}
        for a in ids
    ]
    for item in report:
        item["ack_downloads"] = [
            {**link, "url": f"/api/v1/submissions/{submission_id}/acks/{link['id']}"}
            for link in links
        ]
        item.pop("acks", None)  # local paths are the server's business
    return report


@router.get(
    "/submissions/{submission_id}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def raw(request: Request, who: CallerDep, submission_id: Id) -> Response:
    """The file exactly as received (streamed: any size)."""
    _visible(request, who, submission_id)
    gateway = gateway_of(request)
    with gateway.db.engine.connect() as conn:
        found = store.get_submission(conn, submission_id)
    if found is None:
        raise HTTPException(404, "no such submission")
    stream = RawFileStore(gateway.settings.raw_dir).open_file(found.sha256)
    return file_download(stream, filename=safe_name(found.source_name))


@router.get("/submissions/{submission_id}/acks/{ack_id}", response_class=Response)
def ack(request: Request, who: CallerDep, submission_id: Id, ack_id: Id) -> Response:
    """One acknowledgment (receipt, response, 997, CONTRL, CUSRES...) as it was sent."""
    _visible(request, who, submission_id)
    with gateway_of(request).db.engine.connect() as conn:
        row = conn.execute(
            sa.select(acks.c.body, acks.c.file_name).where(
                acks.c.id == ack_id, acks.c.submission_id == submission_id
            )
        ).first()
    if row is None:
        raise HTTPException(404, "no such acknowledgment")
    return Response(
        bytes(row.body),
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="{row.file_name}"'},
    )


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
    """Jobs by kind and status (how much work is waiting)."""
    jobs: dict[str, dict[str, int]] = {}
    for row in gateway_of(request).pipeline.queue.stats():
        jobs.setdefault(str(row["kind"]), {})[str(row["status"])] = int(row["count"])
    return QueueStats(jobs=jobs)
