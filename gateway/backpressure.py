"""Back-pressure: intake answers "try later" while more work waits than the workers can take.

The measure is the number of PROCESS jobs not finished yet (``JobQueue.depth``), shared by
every process on the database. At ``max_queue_depth`` (0: no limit) :meth:`Admission.check`
raises :class:`~gateway.exceptions.Overloaded` before a single byte is stored, and each
channel turns it into its own "try later":

- the HTTP API: ``503 Service Unavailable`` with ``Retry-After`` (``gateway/web``);
- the SFTP server: the upload's OPEN (or its CLOSE, when the limit was reached while it was
  being written) fails with a bilingual "try later"; nothing is received;
- the file drop and SFTP pull: files stay where they are (``in/``, the carrier's server) and
  are taken once the queue has drained.

The depth is counted at most once every ``ttl`` seconds per process: a burst of uploads
costs one ``COUNT`` per second, and the limit is a soft one (a batch admitted just below it
may take the queue a little past it).

The same "try later" answers a data dir with less free space than ``min_free_bytes``
(:class:`~gateway.exceptions.DiskFull`, measured by :class:`~gateway.storage.disk.DataDirSpace`):
what is left is kept for the database and the acknowledgments of files already accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from gateway.exceptions import Overloaded
from gateway.storage.disk import DataDirSpace

# Seconds a carrier is asked to wait; the queue drains at hundreds of files a second.
RETRY_AFTER = 30


class Admission:
    def __init__(
        self,
        depth: Callable[[], int],
        *,
        limit: int,
        ttl: float = 1.0,
        space: DataDirSpace | None = None,
    ) -> None:
        self._depth = depth
        self.limit = limit
        self.ttl = ttl
        self.space = space
        self._lock = threading.Lock()
        self._measured: tuple[float, int] | None = None

    def depth(self) -> int:
        with self._lock:
            cached = self._measured
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            value = self._depth()
            self._measured = (time.monotonic(), value)
            return value

    def overloaded(self) -> bool:
        return self.limit > 0 and self.depth() >= self.limit

    def check(self) -> None:
        """Raise :class:`Overloaded` or :class:`~gateway.exceptions.DiskFull` when intake
        must wait."""
        if self.space is not None:
            self.space.check()
        if self.limit <= 0:
            return
        depth = self.depth()
        if depth >= self.limit:
            raise Overloaded(depth=depth, limit=self.limit, retry_after=RETRY_AFTER)
