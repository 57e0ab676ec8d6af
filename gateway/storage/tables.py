"""The database schema. Changes go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from gateway.storage.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

offices = Table(
    "offices",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("unlocodes", Json, nullable=False),
    Column("channels", Json, nullable=False),
)

carriers = Table(
    "carriers",
    metadata,
    Column("code", String(20), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("npwp", String(16), nullable=False),
    Column("aju_code", String(6), nullable=False, unique=True),
    Column("senders", Json, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
)

agreements = Table(
    "agreements",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("carrier_code", ForeignKey("carriers.code"), nullable=False, index=True),
    Column("office_code", ForeignKey("offices.code"), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),
    Column("reference", String(100)),
)

# A carrier recorded as agent of a principal (by NPWP): it may file in the principal's name.
agencies = Table(
    "agencies",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("carrier_code", ForeignKey("carriers.code"), nullable=False, index=True),
    Column("principal_npwp", String(16), nullable=False),
    Column("principal_name", String(200), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date),
    Column("reference", String(100)),
    UniqueConstraint("carrier_code", "principal_npwp", "valid_from"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("channel", String(20), nullable=False),
    Column("sender", String(20), nullable=False, index=True),  # as claimed by the channel
    Column("source_name", String(255), nullable=False),
    # What makes a second look at the same arrival harmless (e.g. drop path + inode + mtime).
    Column("intake_key", String(512), nullable=False),
    Column("raw_path", Text, nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("format", String(10)),
    Column("nomor_aju", String(26)),
    Column("processed_at", UTCDateTime),
    # The office whose counter took the file (channel ``media``): only its documents count.
    Column("counter_office", String(6)),
    UniqueConstraint("channel", "intake_key"),
)

documents = Table(
    "documents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("submission_id", ForeignKey("submissions.id"), nullable=False),
    Column("doc_index", Integer, nullable=False),
    Column("nomor_aju", String(26), nullable=False, unique=True),
    Column("sender", String(20), nullable=False),
    Column("office_code", String(6)),
    Column("document_type", String(20), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("sender_reference", String(64)),
    Column("flags", Json, nullable=False),
    Column("findings", Json, nullable=False),
    Column("summary", Json, nullable=False),
    Column("decided_at", UTCDateTime, nullable=False),
    UniqueConstraint("submission_id", "doc_index"),
)

registrations = Table(
    "registrations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("document_id", ForeignKey("documents.id"), nullable=False, unique=True),
    Column("kind", String(6), nullable=False),
    Column("office_code", String(6), nullable=False),
    Column("year", Integer, nullable=False),
    Column("number", String(6), nullable=False),
    Column("registration_date", Date, nullable=False),
    Column("registered_at", UTCDateTime, nullable=False),
    UniqueConstraint("office_code", "kind", "year", "number"),
)

manifest_pos = Table(
    "manifest_pos",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("document_id", ForeignKey("documents.id"), nullable=False),
    Column("group_number", Integer, nullable=False),
    Column("pos_number", String(12), nullable=False),
    Column("transport_document", String(64), nullable=False),
    # OPEN, PARTIALLY_CLOSED, CLOSED, MERGED (gateway.model.registered_pos.PosStatus)
    Column("status", String(20), nullable=False),
    # The current version (pos_versions) and what pos closings settled of it (Art. 10).
    # Weights are whole grams: exact on every database, no Decimal-in-SQLite float drift.
    Column("version", Integer, nullable=False, server_default="1"),
    Column("packages", Integer),  # NULL only for pos registered before schema 0003
    Column("gross_weight_g", BigInteger),
    Column("packages_closed", Integer, nullable=False, server_default="0"),
    Column("gross_weight_g_closed", BigInteger, nullable=False, server_default="0"),
    Column("closed_at", UTCDateTime),
    UniqueConstraint("document_id", "pos_number"),
)

# A row per (sender, key) of every accepted document: same content (doc:<digest of the
# canonical record>), same sender reference (aju:<nomor aju>); sha:<file sha256>:<index> rows
# of documents accepted before schema 0008 are still looked up.
# The unique key is what stops two workers from accepting the same document twice.
dedup_keys = Table(
    "dedup_keys",
    metadata,
    Column("sender", String(20), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("document_id", ForeignKey("documents.id"), nullable=False),
)

# A row per call key of every registered BC 1.0 and BC 1.1 (gateway/call_keys.py: office,
# conveyance, voyage, day of arrival or departure), whoever sent it: the primary key is what
# stops a second BC 1.0 for a call, or a second BC 1.1 for a call and direction (issue 13).
call_keys = Table(
    "call_keys",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("document_id", ForeignKey("documents.id"), nullable=False, index=True),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

acks = Table(
    "acks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("submission_id", ForeignKey("submissions.id"), nullable=False, index=True),
    Column("document_id", ForeignKey("documents.id")),
    Column("kind", String(20), nullable=False),  # RECEIPT, RESPONSE
    Column("channel", String(20), nullable=False),
    Column("partner", String(20), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("status", String(20), nullable=False),  # PENDING, DELIVERED
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime),
    Column("path", Text),
    UniqueConstraint("submission_id", "file_name"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(40), nullable=False),
    Column("submission_id", BigInteger, index=True),
    Column("document_id", BigInteger),
    Column("from_status", String(20)),
    Column("to_status", String(20)),
    Column("detail", Json, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("ref", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),  # todo, doing, done, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", UTCDateTime, nullable=False),
    Column("locked_by", String(64)),
    Column("lease_until", UTCDateTime),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    # Enqueueing the same work twice (a retried receive, a second scheduler) is harmless.
    UniqueConstraint("kind", "ref"),
)
Index("ix_jobs_claim", jobs.c.status, jobs.c.run_after, jobs.c.id)

# One row per run of a scheduled job (gateway/scheduler.py). The unique (job, fire_time) is what
# makes a second scheduler harmless: it inserts the row first and skips a run that exists.
scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job", String(40), nullable=False),
    Column("fire_time", UTCDateTime, nullable=False),
    Column("status", String(10), nullable=False),  # running, ok, failed
    Column("runner", String(80), nullable=False),  # host:pid of the scheduler that ran it
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("detail", Json, nullable=False),
    UniqueConstraint("job", "fire_time"),
)

# Who may log in to the embedded SFTP server: SSH public keys and at most one active password
# hash per carrier. Rows are revoked, never deleted, so the audit trail can still name a key.
partner_credentials = Table(
    "partner_credentials",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("carrier_code", ForeignKey("carriers.code"), nullable=False, index=True),
    Column("kind", String(10), nullable=False),  # ssh-key, password
    Column("key_type", String(40)),  # ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa
    Column("public_key", Text),  # base64 of the key blob, as in an OpenSSH .pub line
    Column("fingerprint", String(100)),  # SHA256:..., as ssh-keygen -l prints it
    Column("password_hash", Text),  # argon2id, PHC string format
    Column("comment", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
    UniqueConstraint("carrier_code", "fingerprint"),
)

# Carriers that host their own SFTP server: the gateway polls it (issue 5, SFTP pull).
pull_endpoints = Table(
    "pull_endpoints",
    metadata,
    Column("carrier_code", ForeignKey("carriers.code"), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("port", Integer, nullable=False),
    Column("username", String(100), nullable=False),
    Column("private_key_path", Text, nullable=False),
    Column("host_key_type", String(40), nullable=False),
    Column("host_key", Text, nullable=False),  # pinned: base64 blob
    Column("remote_inbox", Text, nullable=False),
    Column("remote_outbox", Text, nullable=False),
    Column("remote_done", Text),  # NULL: delete a file once it is durable here
    Column("poll_seconds", Float, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Amendments (perbaikan, Art. 6) of registered BC 1.1 pos: kinds A-D wait for the head of
# office (PENDING_APPROVAL -> APPROVED / REFUSED), kind E is ACCEPTED and applied at once.
# ``content`` keeps what an approval applies later (the raw file is not parsed again).
amendments = Table(
    "amendments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("document_id", ForeignKey("documents.id"), nullable=False, unique=True),
    Column("bc11_document_id", ForeignKey("documents.id"), nullable=False, index=True),
    Column("office_code", String(6), nullable=False, index=True),
    Column("pos_number", String(12), nullable=False),
    Column("kind", String(1), nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("reason", Text, nullable=False),  # the requester's
    Column("requested_by", String(200), nullable=False),
    Column("content", Json, nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("decided_by", String(100)),
    Column("decided_at", UTCDateTime),
    Column("decision_reason", Text),  # the head of office's, on refusal
)

# Every version of every pos: version 1 as registered, then one per applied amendment.
pos_versions = Table(
    "pos_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pos_id", ForeignKey("manifest_pos.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("content", Json, nullable=False),  # the pos without its sub-pos (rows of their own)
    Column("amendment_id", ForeignKey("amendments.id")),  # NULL: as registered
    Column("valid_from", UTCDateTime, nullable=False),
    UniqueConstraint("pos_id", "version"),
)

# Pos closings (penutupan pos, Art. 10): the declaration that settled (part of) a pos.
pos_closings = Table(
    "pos_closings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pos_id", ForeignKey("manifest_pos.id"), nullable=False, index=True),
    Column("document_id", ForeignKey("documents.id"), nullable=False, unique=True),
    Column("closing_code", String(10), nullable=False),
    Column("closing_number", String(64), nullable=False),
    Column("closing_date", Date, nullable=False),
    Column("packages_closed", Integer),
    Column("gross_weight_g_closed", BigInteger),
    Column("closed_at", UTCDateTime, nullable=False),
)

# People using the web console and the HTTP API (issue 7). Roles as the portals have them:
# carrier_admin (admin induk: manages operators of the same company group, the first 9 NPWP
# digits), carrier_operator, officer and head_of_office (per office), admin (operators).
users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("carrier_code", ForeignKey("carriers.code")),
    Column("office_code", ForeignKey("offices.code")),
    Column("npwp", String(16)),  # carrier users: their company's NPWP (group = first 9 digits)
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(64)),
)

# Console sessions: the cookie carries a random token, the table only its SHA-256.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Log-in attempts since the last success, per door (web, sftp), user and peer address
# (gateway/login_guard.py). ``address`` is "*" for the user's count over every address.
# Counted in the database so that every gateway process sharing it agrees.
login_failures = Table(
    "login_failures",
    metadata,
    Column("door", String(8), primary_key=True),
    Column("username", String(64), primary_key=True),
    Column("address", String(64), primary_key=True),
    Column("attempts", BigInteger, nullable=False),
    Column("first_at", UTCDateTime, nullable=False),
    Column("last_at", UTCDateTime, nullable=False, index=True),
)

# Carrier API tokens (HTTP API, scoped to one carrier); only a SHA-256 of the token is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("carrier_code", ForeignKey("carriers.code"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime),
)

# What actually happened at a call (issue 13, point 6): the actual arrival and departure of a
# registered BC 1.0's call (an RKSP, or one call of a JKSP: its voyage), keyed in by an officer
# of the office or reported by the carrier in a change of the BC 1.0 sent after the fact.
# Rows are never updated: a correction is a new row. The deadlines rest on the latest
# officer's record, else the latest carrier's (gateway/storage/call_facts.py).
call_facts = Table(
    "call_facts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("registration_id", ForeignKey("registrations.id"), nullable=False, index=True),
    Column("office_code", String(6), nullable=False),
    Column("voyage", String(35), nullable=False),  # as the BC 1.0 spells it
    Column("event", String(10), nullable=False),  # ARRIVAL, DEPARTURE
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("source", String(10), nullable=False),  # OFFICER, CARRIER
    Column("recorded_by", String(80), nullable=False),  # user:<name>; carrier:<code>
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("document_id", ForeignKey("documents.id")),  # the carrier's report, if it was one
)
