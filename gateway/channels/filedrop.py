"""The file drop: per-carrier folders ``in/`` → ``out/``, with ``archive/`` and ``error/``.

Taking a file from ``in/``: it has a final name (no temporary suffix, not hidden); it is a
regular file with one name (not a link, pipe or device, not a hard link); and it has been seen
on two looks with the same size, modification time, change time and inode, the first of them
at least ``settle_seconds`` earlier. A file first seen is never taken at once, whatever its
times say (``cp -p``, ``touch -d`` and the clocks of network shares set them freely); a
writer that may pause longer than ``settle_seconds`` writes under a temporary name and
renames. The file is opened relative to the ``in/`` folder without following a link, and
the opened descriptor (not the name) must be the regular file that settled, on the same
filesystem, with one name; otherwise it is left for the next look. Links, pipes, devices and
hard links are moved unread to ``error/`` with a ``.reason.txt`` (DROP-001, DROP-002); folders
inside ``in/`` are left alone.

The bytes are kept in the raw store and recorded before the file is moved to ``archive/``; if
the gateway stops in between, the next look finds the same file with the same intake key and
only finishes the move. Responses to refused files come with a copy of the original in
``error/``.

The carrier controls everything inside its folder, so every folder below the drop root is
opened without following links (:mod:`gateway.channels.folders`): a carrier folder, ``in/``,
``out/``, ``error/`` or ``archive/`` replaced by a link (to the host, or to another carrier's
folder) is not used at all, and acks and copies are written as new files and renamed over
whatever had their name. File names are bytes: one that is not UTF-8 is taken under an
escaped name (``\\xff``). One entry or carrier that fails never stops the others.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import structlog

from gateway.channels.base import Channel, Inbound, Intake, Received, safe_name
from gateway.channels.folders import FILE, display, is_plain_file, open_folder, open_tree, write_at
from gateway.exceptions import DiskFull, Overloaded, TransientError, UnsafeFolder
from gateway.messages import finding
from gateway.storage import disk
from gateway.storage.disk import Episode, is_disk_full
from gateway.storage.raw_files import TEMPORARY_NAME, remove_stale
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
# Seconds between looks while the data dir is full (intake measures it once a second).
DISK_FULL_WAIT = 1.0
# Seconds before a file the pipeline failed to take (not a transient failure) is tried again.
FAILED_WAIT = 60.0
PARTNER_FOLDER = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")

_Key = tuple[str, str]  # (carrier, name as listed: bytes that are not UTF-8 as surrogates)


@dataclass(frozen=True, slots=True)
class _Seen:
    """What a look tells of a file; any change means it is still being written or replaced."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> _Seen:
        return cls(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class _Watch:
    seen: _Seen
    since: float  # time.monotonic() of the first look that saw the file as it is


@dataclass(frozen=True, slots=True)
class _Ready:
    partner: str
    name: str
    seen: _Seen

    @property
    def key(self) -> _Key:
        return (self.partner, self.name)


class FileDropChannel(Channel):
    name = "filedrop"
    family = "media"

    def __init__(self, root: Path, *, poll_interval: float, settle_seconds: float) -> None:
        self.root = root
        self.poll_interval = poll_interval
        self.settle_seconds = settle_seconds
        self._seen: dict[_Key, _Watch] = {}
        self._failed: dict[_Key, tuple[_Seen, float]] = {}
        # Warnings logged once while their cause lasts: forgotten when it is gone, so the
        # set holds no more than what the folders hold now.
        self._warned: set[tuple[str, ...]] = set()
        self._noticed: set[tuple[str, ...]] = set()

    def prepare(self, partners: list[str]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for partner in partners:
            try:
                with self._tree(partner, SUBFOLDERS, create=True):
                    pass
            except UnsafeFolder as exc:
                log.warning("file drop folder not prepared", partner=partner, reason=str(exc))

    def inbox(self, partner: str) -> Path:
        return self.root / partner / "in"

    def run(self, intake: Intake, stop: threading.Event) -> None:
        # Each pause is logged when it begins and when it ends, not once per look.
        queue_full = Episode(
            log,
            began="file drop paused: queue full",
            ended="file drop resumed: the queue has drained",
        )
        disk_full = Episode(
            log,
            began="file drop paused: the data dir is full; files stay in in/",
            ended="file drop resumed: the data dir has room",
        )
        while not stop.is_set():
            try:
                if self.scan(intake):
                    queue_full.end()
                    disk_full.end()
            except Overloaded as exc:
                # Back-pressure: the files stay in in/ and are taken once the queue drains.
                queue_full.begin(error=str(exc))
                stop.wait(OVERLOADED_WAIT)
            except DiskFull as exc:
                # Nothing was taken: the files stay in in/ until there is room again.
                disk_full.begin(where=exc.where, error=_cause(exc))
                stop.wait(DISK_FULL_WAIT)
            except TransientError as exc:
                log.warning("file drop scan failed, will retry", error=str(exc))
            except Exception:
                # The drop must keep being served: log, wait, look again.
                log.exception("file drop scan crashed, will retry")
            stop.wait(self.poll_interval)

    def sweep_temporary(self, *, older_than: float) -> int:
        """Temporary acks and error copies of dead writers in each carrier's out/ and error/
        (never in/: names there are the carrier's own). Through descriptors: no link."""
        try:
            partners = sorted(os.listdir(self.root))
        except (FileNotFoundError, NotADirectoryError):
            return 0
        removed = 0
        for partner in partners:
            if not PARTNER_FOLDER.match(partner):
                continue
            for sub in ("out", "error"):
                try:
                    with self._tree(partner, (sub,)) as fds:
                        removed += remove_stale(fds[sub], TEMPORARY_NAME, older_than=older_than)
                except (OSError, UnsafeFolder):
                    continue
        return removed

    # -- looking ---------------------------------------------------------------------------

    def scan(self, intake: Intake) -> int:
        """One look into every partner's in/; returns how many files were taken."""
        try:
            partners = sorted(os.listdir(self.root))
        except (FileNotFoundError, NotADirectoryError):
            return 0
        self._noticed = set()
        now = time.monotonic()
        present: set[_Key] = set()
        ready: list[_Ready] = []
        for partner in partners:
            try:
                ready.extend(self._settled(partner, now, present))
            except Exception:
                # One carrier's folder never stops the others.
                self._warn_once(
                    ("carrier", partner),
                    "file drop could not look into a carrier folder",
                    partner=display(partner),
                    exc_info=True,
                )
        taken = 0
        try:
            for start in range(0, len(ready), BATCH):
                taken += self._take(intake, ready[start : start + BATCH])
        finally:
            for gone in set(self._seen) - present:
                del self._seen[gone]
            for gone in set(self._failed) - present:
                del self._failed[gone]
            self._warned &= self._noticed
        return taken

    def _settled(self, partner: str, now: float, present: set[_Key]) -> list[_Ready]:
        """The files of ``partner``'s in/ ready to take; the others are watched or set aside."""
        if not PARTNER_FOLDER.match(partner):
            if os.path.isdir(self.root / partner):
                self._warn_once(
                    ("name", partner),
                    "file drop folder skipped",
                    partner=display(partner),
                    reason="folder name is not a carrier code; ignored",
                )
            return []
        try:
            with self._tree(partner, ("in",)) as fds:
                found = []
                for name in sorted(os.listdir(fds["in"])):
                    if TEMPORARY.search(name):
                        continue
                    try:
                        ready = self._look(partner, fds, name, now, present)
                    except Exception:
                        # One odd entry never stops the others.
                        self._warn_once(
                            ("entry", partner, name),
                            "file drop could not look at a file",
                            partner=partner,
                            name=display(name),
                            exc_info=True,
                        )
                        continue
                    if ready is not None:
                        found.append(ready)
                return found
        except FileNotFoundError:
            return []  # no in/ (yet)
        except UnsafeFolder as exc:
            self._warn_once(
                ("folder", partner), "file drop folder refused", partner=partner, reason=str(exc)
            )
            return []

    def _look(
        self, partner: str, fds: dict[str, int], name: str, now: float, present: set[_Key]
    ) -> _Ready | None:
        try:
            st = os.stat(name, dir_fd=fds["in"], follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(st.st_mode):
            self._warn_once(
                ("dir", partner, name),
                "file drop entry skipped",
                partner=partner,
                name=display(name),
                reason="a folder; left alone",
            )
            return None
        if not stat.S_ISREG(st.st_mode):
            self._set_aside(partner, fds, name, "DROP-001")
            return None
        if st.st_nlink > 1:
            self._set_aside(partner, fds, name, "DROP-002")
            return None
        key = (partner, name)
        present.add(key)
        seen = _Seen.of(st)
        watch = self._seen.get(key)
        if watch is None or watch.seen != seen:
            self._seen[key] = _Watch(seen, now)  # never taken on the look that first sees it
            return None
        if now - watch.since < self.settle_seconds:
            return None
        failed = self._failed.get(key)
        if failed is not None and failed[0] == seen and now < failed[1]:
            return None
        return _Ready(partner=partner, name=name, seen=seen)

    def _set_aside(self, partner: str, fds: dict[str, int], name: str, code: str) -> None:
        """Move an entry that is not read (a link, pipe, device, hard link) to error/ with
        its reason. Only names move; nothing is opened or followed."""
        shown = display(name)
        try:
            error_fd = open_folder("error", dir_fd=fds[""], create=True)
        except UnsafeFolder as exc:
            self._warn_once(
                ("aside", partner, name),
                "file drop entry left in in/",
                partner=partner,
                name=shown,
                code=code,
                reason=str(exc),
            )
            return
        try:
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            target = f"{stamp}-{uuid.uuid4().hex[:6]}-{safe_name(shown)}"
            os.rename(name, target, src_dir_fd=fds["in"], dst_dir_fd=error_fd)
            reason = finding(code, name=shown)
            text = f"{code}\n{reason.message_id}\n{reason.message_en}\n"
            write_at(error_fd, f"{target}.reason.txt", text.encode("utf-8"))
        finally:
            os.close(error_fd)
        self._seen.pop((partner, name), None)
        log.warning(
            "file drop entry set aside unread",
            partner=partner,
            name=shown,
            code=code,
            moved_to=f"error/{target}",
        )

    # -- taking ----------------------------------------------------------------------------

    def _take(self, intake: Intake, ready: list[_Ready]) -> int:
        """Hand a batch to the pipeline, then move the originals to archive/."""
        with contextlib.ExitStack() as stack:
            trees: dict[str, dict[str, int] | None] = {}
            items: list[tuple[Inbound, BinaryIO]] = []
            taken: list[_Ready] = []
            for item in ready:
                if item.partner not in trees:
                    trees[item.partner] = self._open_for_taking(stack, item.partner)
                fds = trees[item.partner]
                if fds is None:
                    continue
                stream = self._open_settled(fds["in"], item)
                if stream is not None:
                    items.append((self._inbound(item), stack.enter_context(stream)))
                    taken.append(item)
            received = self._hand_over(intake, items, taken)
            self._archive(trees, received)
        return len(received)

    def _open_for_taking(self, stack: contextlib.ExitStack, partner: str) -> dict[str, int] | None:
        # archive/ first: a file is taken only when it can be moved into the carrier's tree.
        try:
            return stack.enter_context(self._tree(partner, ("in", "archive"), create=True))
        except UnsafeFolder as exc:
            self._warn_once(
                ("folder", partner), "file drop folder refused", partner=partner, reason=str(exc)
            )
            return None

    def _open_settled(self, in_fd: int, item: _Ready) -> BinaryIO | None:
        """The file that settled, opened without following a link; None if the name now
        leads elsewhere. The descriptor is what is checked: the name may change any time."""
        try:
            fd = os.open(item.name, FILE, dir_fd=in_fd)
        except OSError as exc:  # ELOOP: a link swapped in; ENXIO: a socket; ENOENT: gone
            self._changed(item, f"cannot be opened as a file ({exc.strerror})")
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                problem = "not a regular file any more"
            elif st.st_dev != os.fstat(in_fd).st_dev:
                problem = "on another filesystem than in/"
            elif st.st_nlink != 1:
                problem = "a hard link"
            elif _Seen.of(st) != item.seen:
                problem = "replaced or changed since it settled"
            else:
                return open(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        self._changed(item, problem)
        return None

    def _changed(self, item: _Ready, problem: str) -> None:
        self._seen.pop(item.key, None)  # looked at afresh, from its first sight
        self._warn_once(
            ("changed", *item.key),
            "file drop file not taken",
            partner=item.partner,
            name=display(item.name),
            reason=problem,
        )

    def _inbound(self, item: _Ready) -> Inbound:
        shown = display(item.name)
        # Escaped names are up to four times longer than the name: the key stays short.
        name_key = shown
        if len(shown) > 200:
            name_key = "sha256:" + hashlib.sha256(os.fsencode(item.name)).hexdigest()
        seen = item.seen
        return Inbound(
            channel=self.name,
            sender=item.partner,
            source_name=shown[:255],
            intake_key=f"{item.partner}/{name_key}:{seen.inode}:{seen.mtime_ns}:{seen.size}",
        )

    def _hand_over(
        self, intake: Intake, items: list[tuple[Inbound, BinaryIO]], taken: list[_Ready]
    ) -> list[tuple[_Ready, Received]]:
        """``intake`` for the batch; if it fails for a reason other than the environment,
        file by file, so that one file the pipeline cannot take holds up no other."""
        if not items:
            return []
        try:
            return list(zip(taken, intake(items), strict=True))
        except TransientError:
            raise  # the environment: every file stays in in/, the look is repeated
        except Exception:
            if len(items) == 1:
                self._failed_once(taken[0])
                return []
        received: list[tuple[_Ready, Received]] = []
        for item, ready in zip(items, taken, strict=True):
            item[1].seek(0)
            try:
                received.extend(zip([ready], intake([item]), strict=True))
            except TransientError:
                raise
            except Exception:
                self._failed_once(ready)
        return received

    def _failed_once(self, item: _Ready) -> None:
        self._failed[item.key] = (item.seen, time.monotonic() + FAILED_WAIT)
        log.exception(
            "file drop could not hand a file over; it stays in in/",
            partner=item.partner,
            name=display(item.name),
            retry_in=FAILED_WAIT,
        )

    def _archive(
        self, trees: dict[str, dict[str, int] | None], received: list[tuple[_Ready, Received]]
    ) -> None:
        """Move taken files to archive/. One that cannot move stays in in/: the next look
        finds it under the same intake key and only finishes the move."""
        touched: dict[str, dict[str, int]] = {}
        full: OSError | None = None
        for item, result in received:
            fds = trees[item.partner]
            assert fds is not None
            self._seen.pop(item.key, None)
            self._failed.pop(item.key, None)
            target = f"{result.submission_id:08d}-{safe_name(display(item.name))}"
            try:
                st = os.stat(item.name, dir_fd=fds["in"], follow_symlinks=False)
                # Another file under the name since it was opened: it is looked at afresh.
                if st.st_ino == item.seen.inode and stat.S_ISREG(st.st_mode):
                    os.rename(item.name, target, src_dir_fd=fds["in"], dst_dir_fd=fds["archive"])
                    touched[item.partner] = fds
            except FileNotFoundError:
                continue
            except OSError as exc:
                if is_disk_full(exc):  # one pause for the batch, not a warning per file
                    full = exc
                    continue
                self._warn_once(
                    ("archive", *item.key),
                    "file drop could not archive a taken file",
                    partner=item.partner,
                    name=display(item.name),
                    error=str(exc),
                )
        for fds in touched.values():
            os.fsync(fds["archive"])
            os.fsync(fds["in"])
        if full is not None:
            raise DiskFull("file drop archive/") from full

    # -- delivering ------------------------------------------------------------------------

    def deliver(self, ack: PendingAck) -> Path:
        subfolders = ("out", "error") if ack.refused else ("out",)
        with disk.guard("file drop out/"), self._tree(ack.partner, subfolders, create=True) as fds:
            write_at(fds["out"], _plain(ack.file_name), ack.body)
            if ack.refused:
                name = _error_name(ack)
                if not is_plain_file(fds["error"], name):
                    with open(ack.raw_path, "rb") as original:
                        write_at(fds["error"], name, original)
        return self.root / ack.partner / "out" / ack.file_name

    # -- helpers ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tree(
        self, partner: str, subfolders: Sequence[str], *, create: bool = False
    ) -> Iterator[dict[str, int]]:
        if not PARTNER_FOLDER.match(partner):
            raise UnsafeFolder(f"{display(partner)} is not a carrier code")
        with open_tree(self.root, partner, subfolders, create=create) as fds:
            yield fds

    def _warn_once(self, key: tuple[str, ...], event: str, **fields: Any) -> None:
        self._noticed.add(key)
        if key not in self._warned:
            self._warned.add(key)
            log.warning(event, **fields)


def _cause(exc: BaseException) -> str:
    """The error under a wrapper (the OSError under a DiskFull), for a log line."""
    return str(exc.__cause__ or exc)


def _plain(name: str) -> str:
    """A name the gateway made itself: one component, never ``..``."""
    if not name or "/" in name or name in {".", ".."}:
        raise ValueError(f"not a plain file name: {name!r}")
    return name


def _error_name(ack: PendingAck) -> str:
    """The refused original under its ack's ``<stem>-<nomor aju>`` and its own extension."""
    stem = ack.file_name.split(".", 1)[0]
    suffix = Path(safe_name(ack.source_name)).suffix
    return _plain(f"{stem}{suffix}")
