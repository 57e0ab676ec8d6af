"""Carriers' own SFTP servers the gateway polls (``gateway/channels/sftp_pull.py``).

One row per carrier: where to connect, the key to log in with (a path on the gateway's
machine, never the key itself), the server's host key pinned as OpenSSH writes it (type and
base64 blob: anything else presented is refused), the remote folders and how often to look.
``remote_done`` empty means a file is deleted from the carrier's server once it is durable
here; otherwise it is moved there.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.model.common import RECORD
from gateway.storage import audit
from gateway.storage.database import insert_for
from gateway.storage.tables import carriers, pull_endpoints

MIN_POLL_SECONDS = 0.2


class EndpointError(ValueError):
    """An endpoint that cannot be stored (unknown carrier, bad host key, relative folder)."""


@dataclass(**RECORD)
class PullEndpoint:
    carrier: str
    host: str
    port: int
    username: str
    private_key_path: str
    host_key_type: str
    host_key: str  # base64 blob, as in known_hosts
    remote_inbox: str
    remote_outbox: str
    remote_done: str | None
    poll_seconds: float
    enabled: bool

    @property
    def address(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


def parse_host_key(text: str) -> tuple[str, str]:
    """``"ssh-ed25519 AAAA... [comment]"`` or a known_hosts line -> (type, base64 blob)."""
    parts = text.split()
    for i in range(len(parts) - 1):
        if parts[i].startswith(("ssh-", "ecdsa-sha2-")):
            key_type, blob = parts[i], parts[i + 1]
            try:
                raw = base64.b64decode(blob, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise EndpointError(f"host key: the base64 part does not decode ({exc})") from exc
            if key_type.encode() not in raw[:64]:
                raise EndpointError("host key: the blob is not a key of the type named")
            return key_type, blob
    raise EndpointError("host key: expected '<type> <base64>' as in a .pub or known_hosts line")


def save(
    conn: Connection,
    endpoint: PullEndpoint,
    *,
    now: datetime,
    actor: str,
) -> None:
    """Add or replace the carrier's endpoint (one per carrier)."""
    known = conn.execute(sa.select(carriers.c.code).where(carriers.c.code == endpoint.carrier))
    if known.first() is None:
        raise EndpointError(f"unknown carrier {endpoint.carrier!r}")
    for name in ("remote_inbox", "remote_outbox", "remote_done"):
        folder = getattr(endpoint, name)
        if folder is not None and not posixpath.isabs(folder):
            raise EndpointError(f"{name} must be an absolute path on the carrier's server")
    if endpoint.poll_seconds < MIN_POLL_SECONDS:
        raise EndpointError(f"poll interval below {MIN_POLL_SECONDS} s")
    parse_host_key(f"{endpoint.host_key_type} {endpoint.host_key}")
    values: dict[str, Any] = {
        "host": endpoint.host,
        "port": endpoint.port,
        "username": endpoint.username,
        "private_key_path": endpoint.private_key_path,
        "host_key_type": endpoint.host_key_type,
        "host_key": endpoint.host_key,
        "remote_inbox": endpoint.remote_inbox,
        "remote_outbox": endpoint.remote_outbox,
        "remote_done": endpoint.remote_done,
        "poll_seconds": endpoint.poll_seconds,
        "enabled": endpoint.enabled,
        "updated_at": now,
    }
    conn.execute(
        insert_for(conn, pull_endpoints)
        .values(carrier_code=endpoint.carrier, **values)
        .on_conflict_do_update(index_elements=[pull_endpoints.c.carrier_code], set_=values)
    )
    _audit(conn, now, actor, "pull endpoint set", endpoint.carrier, {"address": endpoint.address})


def remove(conn: Connection, carrier: str, *, now: datetime, actor: str) -> bool:
    gone = conn.execute(sa.delete(pull_endpoints).where(pull_endpoints.c.carrier_code == carrier))
    if gone.rowcount:
        _audit(conn, now, actor, "pull endpoint removed", carrier, {})
    return bool(gone.rowcount)


def load(conn: Connection, *, enabled_only: bool = False) -> list[PullEndpoint]:
    query = sa.select(pull_endpoints).order_by(pull_endpoints.c.carrier_code)
    if enabled_only:
        query = query.where(pull_endpoints.c.enabled.is_(True))
    return [
        PullEndpoint(
            carrier=row.carrier_code,
            host=row.host,
            port=row.port,
            username=row.username,
            private_key_path=row.private_key_path,
            host_key_type=row.host_key_type,
            host_key=row.host_key,
            remote_inbox=row.remote_inbox,
            remote_outbox=row.remote_outbox,
            remote_done=row.remote_done,
            poll_seconds=row.poll_seconds,
            enabled=row.enabled,
        )
        for row in conn.execute(query)
    ]


def _audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    carrier: str,
    detail: dict[str, Any],
) -> None:
    audit.record(conn, at=now, actor=actor, action=action, detail={"carrier": carrier, **detail})
