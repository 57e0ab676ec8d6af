"""Files sent to the client in pieces: a download holds one piece in memory, whatever its size.

Raw files stream from a descriptor opened once (the file cannot change under the response:
the raw store is content-addressed and never rewrites a file). Acknowledgment bodies live in
the database: they are read in ``substr`` pieces, one short query each, so a slow reader
never holds a database connection. Each piece is read in a worker thread and sent only when
the client has taken the previous one (uvicorn's flow control), so twelve clients reading a
100 MB file cost twelve pieces, not twelve files.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import BinaryIO

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

CHUNK = 256 * 1024


class _Download(StreamingResponse):
    """A streamed attachment whose source is closed however the response ends."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        size: int,
        filename: str,
        close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            chunks,
            media_type="application/octet-stream",
            headers={
                "content-length": str(size),
                "content-disposition": f'attachment; filename="{filename}"',
            },
        )
        self._chunks = chunks
        self._close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Also when the client went away mid-file (the send task was cancelled).
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            if self._close is not None:
                self._close()


def file_download(stream: BinaryIO, *, filename: str) -> StreamingResponse:
    """Send an open file; it is closed when the response ends."""
    size = os.fstat(stream.fileno()).st_size

    async def chunks() -> AsyncIterator[bytes]:
        sent = 0
        while sent < size:  # the length announced is the length sent
            piece = await anyio.to_thread.run_sync(stream.read, min(CHUNK, size - sent))
            if not piece:
                break
            sent += len(piece)
            yield piece

    return _Download(chunks(), size=size, filename=filename, close=stream.close)


def piecewise_download(
    read: Callable[[int, int], bytes], *, size: int, filename: str
) -> StreamingResponse:
    """Send ``size`` bytes fetched by ``read(start, length)`` one piece at a time."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, size, CHUNK):
            yield await anyio.to_thread.run_sync(read, start, min(CHUNK, size - start))

    return _Download(chunks(), size=size, filename=filename)
