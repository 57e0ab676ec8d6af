"""Recognising a full disk wherever it enters, and saying so once (gateway/storage/disk.py)."""

from __future__ import annotations

import errno
import sqlite3

import psycopg
import pytest
import structlog
from sqlalchemy import exc as sa_exc

from gateway.exceptions import DiskFull, StorageUnavailable, TransientError
from gateway.storage import disk
from gateway.unreadable import is_environmental


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        sqlite3.OperationalError("database or disk is full"),
        sa_exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full")),
        # PostgreSQL's own disk: SQLSTATE 53100, as psycopg raises it under SQLAlchemy.
        sa_exc.OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file")),
        DiskFull("raw store"),
    ],
    ids=["ENOSPC", "EDQUOT", "sqlite", "sqlalchemy-sqlite", "postgres-53100", "DiskFull"],
)
def test_a_full_disk_is_recognised_however_it_comes(error: BaseException) -> None:
    assert disk.is_disk_full(error)
    # ...also as the cause of something else (a wrapper that did not know).
    try:
        raise RuntimeError("delivery failed") from error
    except RuntimeError as wrapped:
        assert disk.is_disk_full(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EACCES, "Permission denied"),
        sqlite3.OperationalError("database is locked"),
        StorageUnavailable("database unavailable"),
        ValueError("no"),
    ],
)
def test_other_errors_are_not_a_full_disk(error: BaseException) -> None:
    assert not disk.is_disk_full(error)


def test_disk_full_is_transient_storage_trouble_with_a_bilingual_try_later() -> None:
    full = DiskFull("raw store", retry_after=45)
    assert isinstance(full, StorageUnavailable) and isinstance(full, TransientError)
    assert is_environmental(full)  # retried, never a FILE-007 refusal of the carrier's file
    indonesian, english = str(full).split(" / ")
    assert "45 detik" in indonesian and "45 seconds" in english
    assert "raw store" not in str(full)  # where it happened is for the logs, not for carriers


def test_guard_turns_only_lack_of_space_into_disk_full() -> None:
    with pytest.raises(DiskFull) as full, disk.guard("outbox"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert full.value.where == "outbox"
    assert isinstance(full.value.__cause__, OSError)
    with pytest.raises(PermissionError), disk.guard("outbox"):
        raise PermissionError(errno.EACCES, "Permission denied")


def test_an_episode_is_logged_once_when_it_begins_and_once_when_it_ends() -> None:
    log = structlog.get_logger("test")
    episode = disk.Episode(log, began="full", ended="room again")
    with structlog.testing.capture_logs() as logs:
        assert episode.end() is False  # nothing to end
        assert [episode.begin(n=n) for n in range(100)] == [True] + [False] * 99
        assert episode.active
        assert [episode.end() for _ in range(3)] == [True, False, False]
        episode.begin()
    assert [(e["event"], e["log_level"]) for e in logs] == [
        ("full", "warning"),
        ("room again", "info"),
        ("full", "warning"),
    ]
    assert logs[0]["n"] == 0 and "lasted_seconds" in logs[1]
