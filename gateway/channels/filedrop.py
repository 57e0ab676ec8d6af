"""The file drop: per-carrier folders ``in/`` → ``out/``, with ``archive/`` and ``error/``.

A file is taken from ``in/`` once it has a final name (no temporary suffix, not hidden) and
its size and modification time have stayed unchanged for ``settle_seconds``. It is kept in the
raw store and recorded before it is moved to ``archive/``; if the gateway stops in between,
the next look finds the same file with the same intake key and only finishes the move.
Responses to refused files come with a copy of the original in ``error/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.channels.base import Channel, Inbound, Intake, safe_name
from gateway.exceptions import Overloaded, TransientError
from gateway.storage.raw_files import copy_file, fsync_dir, write_file
from gateway.storage.submissions import PendingAck

log = structlog.get_logger("gateway.channels.filedrop")

SUBFOLDERS = ("in", "out", "archive", "error")
# Names that uploading tools use while a file is still being written.
TEMPORARY = re.compile(
    r"(^[.~])|(\.(tmp|temp|part|partial|filepart|crdownload|swp|lock)$)|~$", re.IGNORECASE
)
# Files handed to the pipeline per transaction.
BATCH = 64
# Seconds between looks while the queue is over max_queue_depth.
OVERLOADED_WAIT = 1.0
PARTNER_FOLDER = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")


@dataclass(frozen=True, slots=True)
class _Seen:
    size: int
    mtime_ns: int
    inode: int


class FileDropChannel(Channel):
    name = "filedrop"
    family = "media"

    def __init__(self, root: Path, *, poll_interval: float, settle_seconds: float) -> None:
        self.root = root
        self.poll_interval = poll_interval
        self.settle_seconds = settle_seconds
        self._seen: dict[Path, _Seen] = {}
        self._warned: set[Path] = set()

    def prepare(self, partners: list[str]) -> None:
        for partner in partners:
            for sub in SUBFOLDERS:
                (self.root / partner / sub).mkdir(parents=True, exist_ok=True)

    def inbox(self, partner: str) -> Path:
        return self.root / partner / "in"

    def run(self, intake: Intake, stop: threading.Event) -> None:
        paused = False  # logged once per episode of back-pressure, not once per look
        while not stop.is_set():
            try:
                if self.scan(intake) and paused:
                    paused = False
                    log.info("file drop resumed: the queue has drained")
            except Overloaded as exc:
                # Back-pressure: the files stay in in/ and are taken once the queue drains.
                if not paused:
                    paused = True
                    log.warning("file drop paused: queue full", error=str(exc))
                stop.wait(OVERLOADED_WAIT)
            except TransientError as exc:
                log.warning("file drop scan failed, will retry", error=str(exc))
            except Exception:
                # The drop must keep being served: log, wait, look again.
                log.exception("file drop scan crashed, will retry")
            stop.wait(self.poll_interval)

    def scan(self, intake: Intake) -> int:
        """One look into every partner's in/; returns how many files were taken."""
        if not self.root.is_dir():
            return 0
        ready: list[tuple[str, Path, _Seen]] = []
        now_ns = time.time_ns()
        present: set[Path] = set()
        for partner_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            inbox = partner_dir / "in"
            if not inbox.is_dir():
                continue
            if not PARTNER_FOLDER.match(partner_dir.name):
                self._warn_once(partner_dir, "folder name is not a carrier code; ignored")
                continue
            for path, seen in self._settled(inbox, now_ns):
                present.add(path)
                if seen is not None:
                    ready.append((partner_dir.name, path, seen))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        for start in range(0, len(ready), BATCH):
            self._take(intake, ready[start : start + BATCH])
        return len(ready)

    def _settled(self, inbox: Path, now_ns: int) -> list[tuple[Path, _Seen | None]]:
        """Every file in ``inbox`` with its signature when it is ready to take, else None."""
        settle_ns = int(self.settle_seconds * 1e9)
        with os.scandir(inbox) as entries:
            batch = sorted(entries, key=lambda e: e.name)
        found: list[tuple[Path, _Seen | None]] = []
        for entry in batch:
            path = Path(entry.path)
            if TEMPORARY.search(entry.name):
                continue
            if not entry.is_file(follow_symlinks=False):
                self._warn_once(path, "not a regular file (symlink, folder...); left alone")
                continue
            st = entry.stat(follow_symlinks=False)
            seen = _Seen(st.st_size, st.st_mtime_ns, st.st_ino)
            previous = self._seen.get(path)
            self._seen[path] = seen
            growing = previous is not None and previous != seen
            fresh = now_ns - st.st_mtime_ns < settle_ns
            found.append((path, None if growing or fresh else seen))
        return found

    def _take(self, intake: Intake, ready: list[tuple[str, Path, _Seen]]) -> None:
        """Hand a batch to the pipeline, then move the originals to archive/."""
        with contextlib.ExitStack() as files:
            items = []
            for partner, path, seen in ready:
                key = f"{partner}/{path.name}:{seen.inode}:{seen.mtime_ns}:{seen.size}"
                inbound = Inbound(
                    channel=self.name, sender=partner, source_name=path.name, intake_key=key
                )
                items.append((inbound, files.enter_context(open(path, "rb"))))
            received = intake(items)
        touched: set[Path] = set()
        for (_, path, _), result in zip(ready, received, strict=True):
            archive = path.parent.parent / "archive"
            archive.mkdir(exist_ok=True)
            os.replace(path, archive / f"{result.submission_id:08d}-{safe_name(path.name)}")
            self._seen.pop(path, None)
            touched.update((archive, path.parent))
        for folder in touched:
            fsync_dir(folder)

    def deliver(self, ack: PendingAck) -> Path:
        partner_dir = self.root / ack.partner
        target = partner_dir / "out" / ack.file_name
        write_file(target, ack.body, durable=False)
        if ack.refused:
            original = partner_dir / "error" / _error_name(ack)
            if not original.exists():
                copy_file(ack.raw_path, original)
        return target

    def _warn_once(self, path: Path, reason: str) -> None:
        if path not in self._warned:
            self._warned.add(path)
            log.warning("file drop entry skipped", path=str(path), reason=reason)


def _error_name(ack: PendingAck) -> str:
    """The refused original under its ack's ``<stem>-<nomor aju>`` and its own extension."""
    stem = ack.file_name.split(".", 1)[0]
    suffix = Path(safe_name(ack.source_name)).suffix
    return f"{stem}{suffix}"
