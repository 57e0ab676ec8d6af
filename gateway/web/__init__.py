"""The HTTP side of the gateway: the versioned API (``api.py``) and the console (``console.py``).

``create_app(gateway)`` builds the ASGI application around a running :class:`Gateway`;
``server.py`` serves it with uvicorn in the gateway process (``make run``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.exceptions import DiskFull, Overloaded
from gateway.login_guard import LoginGuard, LoginPolicy
from gateway.metrics import build_registry
from gateway.storage.disk import DataDirSpace
from gateway.web import api, calls, console, health, limits, manual, unavailable

if TYPE_CHECKING:  # the gateway composes the web, never the other way round
    from gateway.app import Gateway

log = structlog.get_logger("gateway.web")

STATIC = Path(__file__).parent / "static"
# Same-origin everything; the console has no inline script, so none is allowed.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def create_app(gateway: Gateway) -> FastAPI:
    app = FastAPI(
        title="PDE Gateway API",
        version="1",
        description="Submit RKSP/JKSP, manifests, amendments and pos closings; read their "
        "status, registration, errors and acknowledgments. Authenticate with a carrier API "
        "token (`Authorization: Bearer pde_...`) or a console session.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.gateway = gateway
    app.state.login_guard = LoginGuard(
        gateway.db,
        door="web",
        policy=LoginPolicy.from_settings(gateway.settings),
        clock=gateway.clock,
    )
    # The data dir's room: /readyz and /metrics (the pipeline's intake has its own measure).
    app.state.space = DataDirSpace.for_settings(gateway.settings)
    app.state.metrics = build_registry(gateway.db, clock=gateway.clock, space=app.state.space)
    app.include_router(health.router)  # /healthz, /readyz, /metrics: no login, not in OpenAPI
    app.include_router(api.router)
    app.include_router(console.router)
    app.include_router(manual.router)  # /manual/...: paper documents keyed in by an officer
    app.include_router(calls.router)  # /calls/...: actual arrival and departure of a BC 1.0
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    upload_limit = (
        gateway.settings.max_file_bytes * api.HARD_LIMIT_FACTOR + limits.MULTIPART_OVERHEAD
    )

    def body_limit(scope: Scope) -> int:
        # Only the upload takes a file; every other body is a form of a few KiB.
        if scope["method"] == "POST" and scope["path"] == api.SUBMISSIONS_PATH:
            return upload_limit
        return limits.FORM_BODY_LIMIT

    app.add_middleware(
        limits.BodyGuard,
        limit_for=body_limit,
        body_timeout=gateway.settings.web_body_timeout_seconds,
    )

    @app.exception_handler(Overloaded)
    async def overloaded(request: Request, exc: Overloaded) -> Response:
        # Back-pressure (gateway/backpressure.py): nothing was received; the client retries.
        return JSONResponse(
            {"detail": str(exc)}, status_code=503, headers={"retry-after": str(exc.retry_after)}
        )

    @app.exception_handler(DiskFull)
    async def disk_full(request: Request, exc: DiskFull) -> Response:
        # The data dir is full or below min_free_bytes: nothing was kept; the client retries.
        log.warning(
            "upload refused: the data dir is full",
            path=request.url.path,
            where=exc.where,
            retry_after=exc.retry_after,
        )
        return JSONResponse(
            {
                "detail": str(exc),
                "reason": "disk_full",
                "retry_after": exc.retry_after,
            },
            status_code=503,
            headers={"retry-after": str(exc.retry_after)},
        )

    # The database (or raw store) away: 503 + Retry-After, never a traceback. DiskFull, a
    # StorageUnavailable too, keeps its own handler above (the most specific one answers).
    unavailable.install(app)

    @app.exception_handler(console._LoginFirst)
    async def login_first(request: Request, exc: console._LoginFirst) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    return app
