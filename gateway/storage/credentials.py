"""Carriers' credentials for the embedded SFTP server: SSH public keys and a password hash.

A key is stored as OpenSSH writes it in a ``.pub`` line (type and base64 blob) with its
SHA256 fingerprint, the same text ``ssh-keygen -l`` prints, so an operator can match a row to
a carrier's file. A password is never stored, only its argon2id hash (PHC string: algorithm,
parameters and salt travel with the hash, so stronger parameters later still verify old
hashes and re-hash them at the next login). Credentials are revoked, never deleted: the audit
trail keeps pointing at a row that exists.

Public keys are parsed here with the standard library (no SSH library in the storage layer):
only what the gateway's server accepts is stored, so a typo fails at ``keys add`` and not at
the carrier's first login.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway import passwords
from gateway.model.common import RECORD
from gateway.storage import audit
from gateway.storage.tables import carriers, partner_credentials

SSH_KEY = "ssh-key"
PASSWORD = "password"
# What the SFTP server verifies. DSA and sk-* (FIDO) keys are not among them.
KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-rsa",
    }
)
MIN_RSA_BITS = 2048
MIN_PASSWORD_LENGTH = 12


class CredentialError(ValueError):
    """A key or password that cannot be stored (malformed, too weak, already there)."""


@dataclass(**RECORD)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.blob)

    @property
    def openssh(self) -> str:
        """The ``.pub`` line: ``type base64 [comment]``."""
        text = f"{self.key_type} {base64.b64encode(self.blob).decode('ascii')}"
        return f"{text} {self.comment}" if self.comment else text


@dataclass(**RECORD)
class Credential:
    id: int
    carrier: str
    kind: str
    key_type: str | None
    fingerprint: str | None
    comment: str | None
    created_at: datetime
    revoked_at: datetime | None
    public_key: bytes | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def fingerprint(blob: bytes) -> str:
    """``SHA256:<base64, no padding>`` of the key blob, as ``ssh-keygen -l`` prints it."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


def parse_public_key(text: str) -> PublicKey:
    """One OpenSSH public key line (``ssh-ed25519 AAAA... comment``), checked."""
    line = text.strip()
    if line.startswith("-----BEGIN") or "PRIVATE KEY" in line:
        raise CredentialError("this is a private key: give the public key (.pub) instead")
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise CredentialError("not an OpenSSH public key line ('TYPE BASE64 [COMMENT]')")
    key_type, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if key_type not in KEY_TYPES:
        accepted = ", ".join(sorted(KEY_TYPES))
        raise CredentialError(f"key type {key_type!r} is not accepted (accepted: {accepted})")
    try:
        blob = base64.b64decode(encoded, validate=True)
        fields = _ssh_strings(blob)
    except (binascii.Error, ValueError) as exc:
        raise CredentialError(f"the key's base64 data is damaged: {exc}") from exc
    if not fields or fields[0] != key_type.encode("ascii"):
        raise CredentialError("the key's data does not match its type")
    _check_key_material(key_type, fields[1:])
    return PublicKey(key_type=key_type, blob=blob, comment=comment[:200])


def _ssh_strings(blob: bytes) -> list[bytes]:
    """The RFC 4251 ``string``/``mpint`` fields of a key blob, all of it consumed."""
    fields: list[bytes] = []
    offset = 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            raise ValueError("truncated length")
        (length,) = struct.unpack_from(">I", blob, offset)
        offset += 4
        if offset + length > len(blob):
            raise ValueError("truncated field")
        fields.append(blob[offset : offset + length])
        offset += length
    return fields


def _check_key_material(key_type: str, fields: list[bytes]) -> None:
    if key_type == "ssh-ed25519":
        if len(fields) != 1 or len(fields[0]) != 32:
            raise CredentialError("an Ed25519 key has one 32-byte public value")
    elif key_type == "ssh-rsa":
        if len(fields) != 2:
            raise CredentialError("an RSA key has an exponent and a modulus")
        bits = int.from_bytes(fields[1], "big").bit_length()
        if bits < MIN_RSA_BITS:
            raise CredentialError(f"RSA key of {bits} bits: at least {MIN_RSA_BITS} are needed")
    else:  # ecdsa-sha2-<curve>
        curve = key_type.rsplit("-", 1)[1].encode("ascii")
        if len(fields) != 2 or fields[0] != curve:
            raise CredentialError(f"the ECDSA key is not on curve {curve.decode()}")


# -- keys ---------------------------------------------------------------------------------


def add_key(
    conn: Connection,
    carrier: str,
    key: PublicKey,
    *,
    comment: str | None,
    now: datetime,
    actor: str,
) -> Credential:
    """Register ``key`` for ``carrier``; a revoked key is brought back, an active one refused."""
    _require_carrier(conn, carrier)
    text = (comment if comment is not None else key.comment)[:200] or None
    existing = conn.execute(
        sa.select(partner_credentials).where(
            partner_credentials.c.carrier_code == carrier,
            partner_credentials.c.fingerprint == key.fingerprint,
        )
    ).first()
    if existing is not None and existing.revoked_at is None:
        raise CredentialError(f"key {key.fingerprint} is already registered for {carrier}")
    values = {
        "kind": SSH_KEY,
        "key_type": key.key_type,
        "public_key": base64.b64encode(key.blob).decode("ascii"),
        "comment": text,
        "created_at": now,
        "revoked_at": None,
    }
    if existing is not None:
        conn.execute(
            sa.update(partner_credentials)
            .where(partner_credentials.c.id == existing.id)
            .values(**values)
        )
        credential_id = int(existing.id)
    else:
        credential_id = int(
            conn.execute(
                sa.insert(partner_credentials)
                .values(carrier_code=carrier, fingerprint=key.fingerprint, **values)
                .returning(partner_credentials.c.id)
            ).scalar_one()
        )
    _audit(conn, now, actor, "credential_added", carrier, key.fingerprint, key.key_type)
    found = _get(conn, credential_id)
    assert found is not None
    return found


def revoke_key(
    conn: Connection, carrier: str, key_fingerprint: str, *, now: datetime, actor: str
) -> bool:
    """Revoke an active key; False when there is no such active key."""
    done = conn.execute(
        sa.update(partner_credentials)
        .where(
            partner_credentials.c.carrier_code == carrier,
            partner_credentials.c.kind == SSH_KEY,
            partner_credentials.c.fingerprint == key_fingerprint,
            partner_credentials.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    if done:
        _audit(conn, now, actor, "credential_revoked", carrier, key_fingerprint, None)
    return bool(done)


def find_key(conn: Connection, carrier: str, key_type: str, blob: bytes) -> Credential | None:
    """The active credential of ``carrier`` for exactly this key, if the carrier is active."""
    row = conn.execute(
        sa.select(partner_credentials)
        .join(carriers, carriers.c.code == partner_credentials.c.carrier_code)
        .where(
            partner_credentials.c.carrier_code == carrier,
            partner_credentials.c.kind == SSH_KEY,
            partner_credentials.c.fingerprint == fingerprint(blob),
            partner_credentials.c.revoked_at.is_(None),
            carriers.c.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    credential = _credential(row)
    # The fingerprint found the row; the whole blob decides.
    if credential.key_type != key_type or credential.public_key != blob:
        return None
    return credential


def list_credentials(
    conn: Connection, carrier: str, *, include_revoked: bool = False
) -> list[Credential]:
    query = sa.select(partner_credentials).where(partner_credentials.c.carrier_code == carrier)
    if not include_revoked:
        query = query.where(partner_credentials.c.revoked_at.is_(None))
    rows = conn.execute(query.order_by(partner_credentials.c.id)).all()
    return [_credential(row) for row in rows]


# -- passwords ----------------------------------------------------------------------------


def set_password(
    conn: Connection, carrier: str, password: str, *, now: datetime, actor: str
) -> Credential:
    """Replace the carrier's password (the old hash is revoked, kept for the record)."""
    _require_carrier(conn, carrier)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise CredentialError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    _revoke_passwords(conn, carrier, now)
    credential_id = int(
        conn.execute(
            sa.insert(partner_credentials)
            .values(
                carrier_code=carrier,
                kind=PASSWORD,
                password_hash=passwords.hash_password(password),
                created_at=now,
            )
            .returning(partner_credentials.c.id)
        ).scalar_one()
    )
    _audit(conn, now, actor, "password_set", carrier, None, None)
    found = _get(conn, credential_id)
    assert found is not None
    return found


def clear_password(conn: Connection, carrier: str, *, now: datetime, actor: str) -> bool:
    """Remove password login for the carrier; False when it had none."""
    done = _revoke_passwords(conn, carrier, now)
    if done:
        _audit(conn, now, actor, "password_cleared", carrier, None, None)
    return done > 0


def verify_password(conn: Connection, carrier: str, password: str) -> Credential | None:
    """The carrier's active password credential when ``password`` matches it, else None.

    An unknown carrier costs the same hashing work as a known one, so timing does not tell
    which carrier codes have a password.
    """
    row = conn.execute(
        sa.select(partner_credentials)
        .join(carriers, carriers.c.code == partner_credentials.c.carrier_code)
        .where(
            partner_credentials.c.carrier_code == carrier,
            partner_credentials.c.kind == PASSWORD,
            partner_credentials.c.revoked_at.is_(None),
            carriers.c.active.is_(True),
        )
        .order_by(partner_credentials.c.id.desc())
        .limit(1)
    ).first()
    if not passwords.verify(row.password_hash if row is not None else None, password):
        return None
    assert row is not None
    if passwords.needs_rehash(row.password_hash):
        conn.execute(
            sa.update(partner_credentials)
            .where(partner_credentials.c.id == row.id)
            .values(password_hash=passwords.hash_password(password))
        )
    return _credential(row)


def _revoke_passwords(conn: Connection, carrier: str, now: datetime) -> int:
    return int(
        conn.execute(
            sa.update(partner_credentials)
            .where(
                partner_credentials.c.carrier_code == carrier,
                partner_credentials.c.kind == PASSWORD,
                partner_credentials.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        ).rowcount
    )


# -- helpers ------------------------------------------------------------------------------


def _require_carrier(conn: Connection, carrier: str) -> None:
    found = conn.execute(
        sa.select(carriers.c.code).where(carriers.c.code == carrier)
    ).scalar_one_or_none()
    if found is None:
        raise CredentialError(f"carrier {carrier} does not exist")


def _get(conn: Connection, credential_id: int) -> Credential | None:
    row = conn.execute(
        sa.select(partner_credentials).where(partner_credentials.c.id == credential_id)
    ).first()
    return None if row is None else _credential(row)


def _credential(row: Any) -> Credential:
    return Credential(
        id=int(row.id),
        carrier=row.carrier_code,
        kind=row.kind,
        key_type=row.key_type,
        fingerprint=row.fingerprint,
        comment=row.comment,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        public_key=base64.b64decode(row.public_key) if row.public_key else None,
    )


def _audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    carrier: str,
    key_fingerprint: str | None,
    key_type: str | None,
) -> None:
    detail: dict[str, Any] = {"carrier": carrier}
    if key_fingerprint:
        detail["fingerprint"] = key_fingerprint
    if key_type:
        detail["key_type"] = key_type
    audit.record(conn, at=now, actor=actor, action=action, detail=detail)
