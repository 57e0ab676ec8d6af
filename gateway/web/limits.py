"""What one HTTP client may make the web process hold: bytes, time, connections.

Three mechanisms, each for a way a client can make the server hold memory or a connection:

* :class:`BodyGuard` (ASGI middleware) caps every request body while it streams in: the
  upload route at the hard limit of a file plus a little for the multipart framing, every
  other route (console forms, log-in) at :data:`FORM_BODY_LIMIT`. A declared
  ``Content-Length`` over the cap is answered 413 before a byte is read. The body must also
  keep arriving: no byte for ``body_timeout`` seconds, or fewer than :data:`MIN_BODY_RATE`
  bytes a second on average once ``body_timeout`` has passed, answers 408 and closes the
  connection (a slow body).
* :func:`guarded_h11` is uvicorn's h11 protocol with a deadline for the request head: from
  the connection's first moment (and again after each response, while it waits for the next
  request) the whole request line and headers must arrive within ``header_timeout`` seconds,
  or the connection is closed (slowloris). uvicorn has no such timeout: its keep-alive timer
  is cancelled by any byte received, so one byte every few seconds held a connection forever.
  h11 itself refuses a head larger than ``h11_max_incomplete_event_size``.
* :func:`spool_multipart` parses ``multipart/form-data`` as it streams (python-multipart's
  parser) and writes the ``file`` part straight into the caller's spool, refusing it (413)
  the moment it passes the limit; other fields are kept in memory up to
  :data:`FIELD_LIMIT` bytes each, at most :data:`MAX_FIELDS` of them. Starlette's
  ``request.form()`` first spooled every file part whole to a temporary file.

Connections are capped by uvicorn's ``limit_concurrency`` (``web_max_connections``): past it
a request is answered 503 at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import anyio
import h11
from fastapi import HTTPException
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

# A console form (log-in, paper manifest, partner key...) is a few KiB; no route but the
# upload takes a file.
FORM_BODY_LIMIT = 1024 * 1024
# The multipart framing around an upload's file: part headers, boundaries, csrf/carrier.
MULTIPART_OVERHEAD = 1024 * 1024
FIELD_LIMIT = 64 * 1024
MAX_FIELDS = 8
# Once ``body_timeout`` has passed, a body must have averaged at least this many bytes a
# second (a modem manages 7 KiB/s; one byte a second holds a connection forever).
MIN_BODY_RATE = 8 * 1024
CLOSE = {"connection": "close"}


class BodyRefused(HTTPException):
    """A request body cut off: too large (413) or too slow (408). The connection closes."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(status_code, detail, headers=CLOSE)


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(
        413, f"request body larger than {limit} bytes / isi permintaan melebihi {limit} bita"
    )


class BodyGuard:
    """Caps each request body's size and demands it keeps arriving (see the module doc)."""

    def __init__(
        self, app: ASGIApp, *, limit_for: Callable[[Scope], int], body_timeout: float
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _answer(send, _too_large(limit))
            return
        started = time.monotonic()
        received = 0
        finished = False

        async def guarded() -> Message:
            nonlocal received, finished
            if finished:  # after the body only http.disconnect comes: no deadline on it
                return await receive()
            with anyio.move_on_after(self.body_timeout) as waited:
                message = await receive()
            if waited.cancelled_caught:
                raise BodyRefused(408, "request body too slow / isi permintaan terlalu lambat")
            if message["type"] != "http.request":
                finished = True
                return message
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            if not message.get("more_body", False):
                finished = True
                return message
            elapsed = time.monotonic() - started
            if elapsed > self.body_timeout and received < MIN_BODY_RATE * elapsed:
                raise BodyRefused(408, "request body too slow / isi permintaan terlalu lambat")
            return message

        started_response = False

        async def tracked(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
            await send(message)

        try:
            await self.app(scope, guarded, tracked)
        except BodyRefused as exc:  # raised where no exception handler answered it
            if started_response:
                raise
            await _answer(send, exc)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # h11 has refused it already
    return None


async def _answer(send: Send, exc: BodyRefused) -> None:
    body = f'{{"detail": "{exc.detail}"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# -- the request head ----------------------------------------------------------------------


def guarded_h11(header_timeout: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol closing a connection whose request head is not in on time."""

    class GuardedH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a request's head is complete
                self._disarm()

        def on_response_complete(self) -> None:
            # Armed before uvicorn looks at pipelined data: a request already waiting
            # disarms it at once through handle_events.
            if not self.transport.is_closing():
                self._arm()
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout, self._head_overdue)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_overdue(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing():
                if self.conn.our_state not in {h11.ERROR, h11.CLOSED}:
                    try:
                        self.conn.send(h11.ConnectionClosed())
                    except h11.LocalProtocolError:
                        pass
                self.transport.close()

    return GuardedH11Protocol


# -- multipart uploads ----------------------------------------------------------------------


@dataclass(kw_only=True, slots=True)
class MultipartUpload:
    """What :func:`spool_multipart` found: the file part's name and size, the other fields."""

    filename: str | None = None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True, slots=True)
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    is_file: bool = False
    value: bytearray = field(default_factory=bytearray)


async def spool_multipart(
    request: Request, spool: IO[bytes], *, limit: int, file_field: str = "file"
) -> MultipartUpload:
    """Stream a ``multipart/form-data`` body: the ``file_field`` part into ``spool``.

    413 as soon as the file passes ``limit`` bytes or a field passes :data:`FIELD_LIMIT`;
    422 without exactly one file part, with too many fields, or with a malformed body.
    """
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(422, "multipart body without a boundary")
    found = MultipartUpload()
    part = _Part()
    header = [bytearray(), bytearray()]
    ended = False

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        part.headers.append((bytes(header[0]).lower(), bytes(header[1])))
        header[0], header[1] = bytearray(), bytearray()

    def on_headers_finished() -> None:
        disposition = dict(part.headers).get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        part.name = options.get(b"name", b"").decode("utf-8", errors="replace")
        part.is_file = part.name == file_field
        if part.is_file:
            if found.filename is not None:
                raise HTTPException(422, f"more than one '{file_field}' part")
            found.filename = options.get(b"filename", b"").decode("utf-8", errors="replace")
        elif len(found.fields) >= MAX_FIELDS:
            raise HTTPException(422, f"more than {MAX_FIELDS} form fields")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.is_file:
            found.size += end - start
            if found.size > limit:
                raise HTTPException(413, f"file larger than {limit} bytes", headers=CLOSE)
            spool.write(data[start:end])
        else:
            part.value += data[start:end]
            if len(part.value) > FIELD_LIMIT:
                raise HTTPException(
                    413, f"form field {part.name!r} larger than {FIELD_LIMIT} bytes", headers=CLOSE
                )

    def on_part_end() -> None:
        if not part.is_file:
            found.fields[part.name] = part.value.decode("utf-8", errors="replace")

    def on_end() -> None:
        nonlocal ended
        ended = True

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
        "on_end": on_end,
    }
    parser = MultipartParser(boundary, callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise HTTPException(422, f"malformed multipart body: {exc}") from exc
    if not ended:
        raise HTTPException(422, "multipart body cut short")
    if found.filename is None:
        raise HTTPException(422, f"multipart body without a '{file_field}' part")
    return found
