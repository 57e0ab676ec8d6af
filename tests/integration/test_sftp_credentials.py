"""SFTP credentials (``gateway.storage.credentials``) on SQLite and a real PostgreSQL server."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gateway.reference import load_carriers, load_offices
from gateway.storage import credentials, reference_store
from gateway.storage.database import Database
from gateway.storage.tables import audit_log, carriers, partner_credentials
from tests.integration.conftest import REPO

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)
ACTOR = "cli:test"


def openssh_line(private: object, comment: str = "") -> str:
    public = private.public_key()  # type: ignore[attr-defined]
    text = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    return f"{text} {comment}".strip()


def new_ed25519(comment: str = "") -> str:
    return openssh_line(ed25519.Ed25519PrivateKey.generate(), comment)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate()
    with database.transaction() as conn:
        reference_store.seed(
            conn,
            load_offices(REPO / "config" / "offices.toml"),
            load_carriers(REPO / "config" / "carriers.toml"),
            now=T0,
        )
    yield database
    database.dispose()


# -- parsing (no database) ------------------------------------------------------------------


def test_fingerprint_is_what_ssh_keygen_prints() -> None:
    line = new_ed25519("ops@carrier")
    key = credentials.parse_public_key(line)
    blob = base64.b64decode(line.split()[1])
    expected = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    assert key.fingerprint == f"SHA256:{expected}"
    assert key.key_type == "ssh-ed25519"
    assert key.comment == "ops@carrier"
    assert key.openssh == line


@pytest.mark.parametrize(
    "make",
    [
        lambda: openssh_line(ec.generate_private_key(ec.SECP256R1())),
        lambda: openssh_line(ec.generate_private_key(ec.SECP384R1())),
        lambda: openssh_line(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ],
    ids=["ecdsa-p256", "ecdsa-p384", "rsa-2048"],
)
def test_other_accepted_key_types(make: object) -> None:
    line = make()  # type: ignore[operator]
    key = credentials.parse_public_key(line)
    assert key.key_type == line.split()[0]


def test_refused_keys() -> None:
    weak = openssh_line(rsa.generate_private_key(public_exponent=65537, key_size=1024))
    good = new_ed25519()
    kind, data = good.split()
    other_kind = f"ecdsa-sha2-nistp256 {data}"  # an Ed25519 blob labelled as ECDSA
    private = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        .decode()
    )
    cases = {
        weak: "1024 bits",
        other_kind: "does not match",
        f"{kind} {data[:-8]}": "damaged",
        f"{kind} !!!notbase64": "damaged",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP": "not accepted",
        "just-one-word": "not an OpenSSH public key",
        private: "private key",
    }
    for line, reason in cases.items():
        with pytest.raises(credentials.CredentialError, match=reason):
            credentials.parse_public_key(line)


# -- keys -------------------------------------------------------------------------------------


def test_add_find_list_revoke_and_bring_back(db: Database) -> None:
    key = credentials.parse_public_key(new_ed25519("laptop"))
    other = credentials.parse_public_key(new_ed25519())
    with db.transaction() as conn:
        added = credentials.add_key(conn, "DEMO", key, comment=None, now=T0, actor=ACTOR)
    assert added.fingerprint == key.fingerprint
    assert added.comment == "laptop"
    assert added.created_at == T0 and added.created_at.tzinfo is not None
    with db.engine.connect() as conn:
        found = credentials.find_key(conn, "DEMO", key.key_type, key.blob)
        assert found is not None and found.id == added.id
        # Same key, other carrier; other key, same carrier: nobody.
        assert credentials.find_key(conn, "SAMU", key.key_type, key.blob) is None
        assert credentials.find_key(conn, "DEMO", other.key_type, other.blob) is None
        assert [c.fingerprint for c in credentials.list_credentials(conn, "DEMO")] == [
            key.fingerprint
        ]

    with (
        pytest.raises(credentials.CredentialError, match="already registered"),
        db.transaction() as conn,
    ):
        credentials.add_key(conn, "DEMO", key, comment=None, now=T0, actor=ACTOR)

    later = T0 + timedelta(days=1)
    with db.transaction() as conn:
        assert credentials.revoke_key(conn, "DEMO", key.fingerprint, now=later, actor=ACTOR)
        assert not credentials.revoke_key(conn, "DEMO", key.fingerprint, now=later, actor=ACTOR)
    with db.engine.connect() as conn:
        assert credentials.find_key(conn, "DEMO", key.key_type, key.blob) is None
        assert credentials.list_credentials(conn, "DEMO") == []
        (revoked,) = credentials.list_credentials(conn, "DEMO", include_revoked=True)
        assert revoked.revoked_at == later

    # Registering it again brings the same row back (the unique key is carrier + fingerprint).
    with db.transaction() as conn:
        again = credentials.add_key(conn, "DEMO", key, comment="new laptop", now=later, actor=ACTOR)
    assert again.id == added.id and again.active and again.comment == "new laptop"

    with db.engine.connect() as conn:
        actions = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.actor, audit_log.c.detail).order_by(
                audit_log.c.id
            )
        ).all()
    assert [a.action for a in actions] == [
        "credential_added",
        "credential_revoked",
        "credential_added",
    ]
    assert all(a.actor == ACTOR and a.detail["fingerprint"] == key.fingerprint for a in actions)


def test_keys_of_unknown_or_inactive_carriers(db: Database) -> None:
    key = credentials.parse_public_key(new_ed25519())
    with (
        pytest.raises(credentials.CredentialError, match="does not exist"),
        db.transaction() as conn,
    ):
        credentials.add_key(conn, "NOPE", key, comment=None, now=T0, actor=ACTOR)
    with db.transaction() as conn:
        credentials.add_key(conn, "GIAA", key, comment=None, now=T0, actor=ACTOR)
        conn.execute(sa.update(carriers).where(carriers.c.code == "GIAA").values(active=False))
    with db.engine.connect() as conn:
        assert credentials.find_key(conn, "GIAA", key.key_type, key.blob) is None


def test_find_key_compares_the_whole_blob(db: Database) -> None:
    key = credentials.parse_public_key(new_ed25519())
    impostor = credentials.parse_public_key(new_ed25519())
    with db.transaction() as conn:
        credentials.add_key(conn, "DEMO", key, comment=None, now=T0, actor=ACTOR)
        # A row whose fingerprint matches another key's (as a forged row would): not that key.
        conn.execute(
            sa.update(partner_credentials).values(
                public_key=base64.b64encode(impostor.blob).decode()
            )
        )
    with db.engine.connect() as conn:
        assert credentials.find_key(conn, "DEMO", key.key_type, key.blob) is None


# -- passwords ------------------------------------------------------------------------------


def test_password_set_verify_replace_clear(db: Database) -> None:
    with pytest.raises(credentials.CredentialError, match="at least"), db.transaction() as conn:
        credentials.set_password(conn, "DEMO", "short", now=T0, actor=ACTOR)
    with db.transaction() as conn:
        credentials.set_password(conn, "DEMO", "correct horse battery", now=T0, actor=ACTOR)
    with db.engine.connect() as conn:
        (row,) = conn.execute(sa.select(partner_credentials.c.password_hash)).all()
    assert row.password_hash.startswith("$argon2id$")
    assert "correct horse" not in row.password_hash

    with db.transaction() as conn:
        assert credentials.verify_password(conn, "DEMO", "correct horse battery") is not None
        assert credentials.verify_password(conn, "DEMO", "correct horse batterY") is None
        assert credentials.verify_password(conn, "SAMU", "correct horse battery") is None
        credentials.set_password(conn, "DEMO", "a brand new passphrase", now=T0, actor=ACTOR)
    with db.transaction() as conn:
        assert credentials.verify_password(conn, "DEMO", "correct horse battery") is None
        assert credentials.verify_password(conn, "DEMO", "a brand new passphrase") is not None
        active = credentials.list_credentials(conn, "DEMO")
        assert [c.kind for c in active] == [credentials.PASSWORD]
        assert credentials.clear_password(conn, "DEMO", now=T0, actor=ACTOR)
        assert not credentials.clear_password(conn, "DEMO", now=T0, actor=ACTOR)
    with db.transaction() as conn:
        assert credentials.verify_password(conn, "DEMO", "a brand new passphrase") is None
        assert len(credentials.list_credentials(conn, "DEMO", include_revoked=True)) == 2
