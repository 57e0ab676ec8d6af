"""What the console and the API answer while the database (or the raw store) is away.

A :class:`~gateway.exceptions.StorageUnavailable` raised anywhere in a request (the login
check, the back-pressure count, storing an upload, reading a page) is a state of the
deployment, not a fault of the request: the client is told to try later (``503`` with
``Retry-After``), the operator gets one structured log line per refused request, and nobody
gets a traceback. The API and every client that does not ask for HTML get a JSON body with a
bilingual ``detail``; the console a short page in both languages. An upload refused so was
not received: sending it again is safe. (A full disk has its own answer,
:class:`~gateway.exceptions.DiskFull`, registered in ``gateway.web``.)

``/readyz`` and ``/metrics`` answer for themselves (``gateway/web/health.py``): not ready, and
``pde_database_up 0``.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from gateway.exceptions import DatabaseUnavailable, StorageUnavailable
from gateway.web import console
from gateway.web.i18n import TEXT

log = structlog.get_logger("gateway.web")

# Seconds a client is asked to wait: a restarting database is back within about this long.
RETRY_AFTER = 30
KEY = "unavailable"


def wants_json(request: Request) -> bool:
    """The API, and any client that does not ask for a page, gets JSON."""
    return request.url.path.startswith("/api/") or "text/html" not in request.headers.get(
        "accept", ""
    )


async def storage_unavailable(request: Request, exc: Exception) -> Response:
    """The exception handler for :class:`StorageUnavailable` (``app.exception_handler``)."""
    retry_after = int(getattr(exc, "retry_after", RETRY_AFTER))
    reason = (
        "database_unavailable" if isinstance(exc, DatabaseUnavailable) else "storage_unavailable"
    )
    log.warning(
        "request refused: storage unavailable, client told to retry",
        method=request.method,
        path=request.url.path,
        reason=reason,
        error=str(exc)[:300],
        retry_after=retry_after,
    )
    headers = {"retry-after": str(retry_after)}
    message_id, message_en = (text.format(seconds=retry_after) for text in TEXT[KEY])
    if wants_json(request):
        return JSONResponse(
            {
                "detail": f"{message_id} / {message_en}",
                "detail_id": message_id,
                "detail_en": message_en,
                "reason": reason,
                "retry_after": retry_after,
            },
            status_code=503,
            headers=headers,
        )
    page = console.render(request, "unavailable.html", None, 503, messages=(message_id, message_en))
    page.headers.update(headers)
    return page


def install(app: FastAPI) -> None:
    """Answer every :class:`StorageUnavailable` of ``app``'s requests so."""
    app.add_exception_handler(StorageUnavailable, storage_unavailable)
