"""The channel contract: hand received bytes to the pipeline, deliver acks back.

A channel knows where files come from and where acknowledgments go; it never parses,
validates or numbers anything.
"""

from __future__ import annotations

import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO

from gateway.storage.raw_files import TEMPORARY_NAME, remove_stale, write_file
from gateway.storage.submissions import PendingAck


@dataclass(frozen=True, kw_only=True, slots=True)
class Inbound:
    """What a channel knows about a file it hands over."""

    channel: str
    sender: str  # carrier code as the channel established it (folder, account, CLI flag)
    source_name: str
    intake_key: str  # the same arrival seen twice has the same key
    # Storage media taken at an office's counter (channel media): documents for it only.
    counter_office: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Received:
    submission_id: int
    created: bool


# Hands a batch of arrivals to the pipeline: raw bytes durable and recorded on return.
Intake = Callable[[Sequence[tuple[Inbound, BinaryIO]]], list[Received]]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Channel(ABC):
    name: str
    # "pde" (EDI), "media" (electronic storage media: drop folder, upload) or "manual":
    # an office says which it runs (Art. 3, 5, 9).
    family: str

    @abstractmethod
    def deliver(self, ack: PendingAck) -> Path:
        """Put one acknowledgment where the sender picks it up; return where it went.

        Write it whole under a temporary name and rename it (``write_file(durable=False)``);
        the pipeline flushes the filesystem once for the batch before recording delivery.
        Must be idempotent: delivering the same ack twice leaves one file with the same bytes.
        """

    def run(self, intake: Intake, stop: threading.Event) -> None:  # noqa: B027
        """Watch for incoming files and hand each to ``intake`` until ``stop`` is set.

        Only channels that poll implement it; the CLI channel is driven from outside.
        """

    def sweep_temporary(self, *, older_than: float) -> int:
        """Remove the temporary files of acknowledgments whose writer died (older than
        ``older_than`` seconds, held by nobody); how many went. The scheduler's sweep."""
        return 0


class OutboxChannel(Channel):
    """A channel whose acknowledgments are kept in ``<root>/<CARRIER>/out`` (CLI, HTTP
    upload, paper keyed in): the carrier reads them elsewhere, this is the record."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def deliver(self, ack: PendingAck) -> Path:
        target = self.root / ack.partner / "out" / ack.file_name
        write_file(target, ack.body, durable=False)
        return target.resolve()

    def sweep_temporary(self, *, older_than: float) -> int:
        return sweep_folders(self.root.glob("*/out"), older_than=older_than)


def sweep_folders(folders: Iterable[Path], *, older_than: float) -> int:
    """:func:`~gateway.storage.raw_files.remove_stale` of write_file's temporary names in
    each of ``folders`` (plain folders only: a link is not followed)."""
    removed = 0
    for folder in folders:
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            removed += remove_stale(fd, TEMPORARY_NAME, older_than=older_than)
        finally:
            os.close(fd)
    return removed


def safe_name(name: str) -> str:
    """A file name with no folders and nothing a shell or a path join could misread."""
    base = PurePath(name.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("_", base).strip("._") or "file"
    return cleaned[:120]


def ack_file_name(source_name: str, tag: str, suffix: str) -> str:
    """``<stem>-<tag>.<suffix>``: the stem has no dots, so the name splits back at the first."""
    stem = safe_name(source_name).rsplit(".", 1)[0].replace(".", "_")
    return f"{stem}-{tag}.{suffix}"
