"""Storage: the database (SQLite or PostgreSQL), the raw-file store and the work queue."""

from __future__ import annotations

from gateway.storage.database import Database

__all__ = ["Database"]
