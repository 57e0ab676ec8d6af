"""``/healthz``, ``/readyz`` and ``/metrics``: for probes and Prometheus, without a login.

They are outside the OpenAPI document (they are not the carriers' API) and answer without a
session: a load balancer or a scraper has none. They reveal counts, never content; put them
behind the network's own access rules if the counts per carrier's channel are sensitive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from gateway.exceptions import GatewayError
from gateway.metrics import CONTENT_TYPE, render
from gateway.storage import database, disk, observability
from gateway.storage.disk import DataDirSpace

if TYPE_CHECKING:  # the gateway composes the web, never the other way round
    from gateway.app import Gateway

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> PlainTextResponse:
    """The process is alive and serving HTTP; nothing else is checked (a liveness probe)."""
    return PlainTextResponse("ok")


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Ready for work: the database answers, its schema is the one this code expects, and
    the data dir takes a byte and has more free space than ``min_free_bytes``."""
    gateway: Gateway = request.app.state.gateway
    if gateway.stop.is_set():
        return _not_ready(
            "shutting down: finishing the work in hand",
            "sedang berhenti: menyelesaikan pekerjaan yang sedang berjalan",
        )
    try:
        with gateway.db.engine.connect() as conn:
            observability.ping(conn)
        revision = gateway.db.revision()
    except (SQLAlchemyError, GatewayError) as exc:
        return _not_ready(
            f"database unreachable: {_first_line(exc)}",
            f"basis data tidak dapat dihubungi: {_first_line(exc)}",
        )
    # Read at call time: a process started before an upgrade reports the mismatch.
    expected = database.SCHEMA_REVISION
    if revision != expected:
        return _not_ready(
            f"database schema is at {revision}, this gateway needs {expected}",
            f"skema basis data pada {revision}, gateway ini memerlukan {expected}",
        )
    # The data dir: intake refuses while it is full or below its floor (gateway/storage/disk.py).
    space: DataDirSpace = request.app.state.space
    free = space.free()
    room = {"data_dir_free_bytes": free, "min_free_bytes": space.min_free}
    problem = disk.unwritable(space.data_dir)
    if problem is not None:
        return _not_ready(
            f"data dir not writable: {problem}",
            f"data_dir tidak dapat ditulisi: {problem}",
            **room,
        )
    if space.below_floor():
        return _not_ready(
            f"data dir free space {free} bytes is below min_free_bytes {space.min_free}: "
            "intake answers 'try later'",
            f"ruang kosong data_dir {free} byte di bawah min_free_bytes {space.min_free}: "
            "pengiriman diminta diulang nanti",
            **room,
        )
    return JSONResponse(
        {"status": "ready", "database": gateway.db.dialect, "schema": revision, **room}
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text format; the counts are read from the database (gateway/metrics.py)."""
    return Response(render(request.app.state.metrics), media_type=CONTENT_TYPE)


def _not_ready(reason_en: str, reason_id: str, **detail: object) -> JSONResponse:
    return JSONResponse(
        {"status": "not ready", "reason": reason_en, "reason_id": reason_id, **detail},
        status_code=503,
    )


def _first_line(exc: BaseException) -> str:
    # Driver errors run to several lines (and may carry the SQL): the first one says enough.
    text = str(getattr(exc, "orig", None) or getattr(exc, "detail", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
