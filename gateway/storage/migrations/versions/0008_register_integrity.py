"""One number per call: keys that make a second BC 1.0/1.1 for a call impossible (issue 13)

The table ``call_keys`` (gateway/call_keys.py): a row per call key of a registered BC 1.0 or
BC 1.1, whose primary key stops a second registration of the same call (office, conveyance,
voyage, day of arrival or departure), whoever sends it.

Existing registrations are keyed from what their documents' summaries kept (the raw files
are not read again here):

- the conveyance: its IMO number when the summary has one, else its name (summaries never
  kept call signs or registration numbers, so a conveyance identified by those alone holds
  its name key: it still stops a second name-only document of that call);
- RKSP: voyage and ETA; JKSP: each call's voyage and ETA when the summary lists the ETAs,
  else only a JKSP of one call (its first arrival); other JKSPs are not keyed;
- inward (outward) manifest: voyage and arrival (departure), or the voyage alone when the
  manifest stated no such moment; a nil manifest whose summary has exactly one of arrival
  and departure counts as inward (outward), one with both or neither is not keyed.

A key two registrations share (the duplicates this revision puts an end to) is kept by the
earlier registration; the later one stays registered, unkeyed. Documents registered from
this revision on are keyed from their parsed records, in the transaction that numbers them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 02:40:00.000000
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

# The key format is the product's (a key made here must equal the one the pipeline makes).
from gateway.call_keys import CallKey, Register, normalised

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 1000

_offices = sa.table("offices", sa.column("code", sa.String), sa.column("timezone", sa.String))
_documents = sa.table(
    "documents",
    sa.column("id", _ID),
    sa.column("office_code", sa.String),
    sa.column("document_type", sa.String),
    sa.column("summary", sa.JSON),
)
_registrations = sa.table(
    "registrations",
    sa.column("id", _ID),
    sa.column("document_id", _ID),
    sa.column("kind", sa.String),
)
_call_keys = sa.table("call_keys", sa.column("key", sa.String), sa.column("document_id", _ID))


def upgrade() -> None:
    op.create_table(
        "call_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("document_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["documents.id"], name="fk_call_keys_document_id_documents"
        ),
        sa.PrimaryKeyConstraint("key", name="pk_call_keys"),
    )
    op.create_index("ix_call_keys_document_id", "call_keys", ["document_id"])
    _backfill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_call_keys_document_id", table_name="call_keys")
    op.drop_table("call_keys")


def _backfill(conn: sa.Connection) -> None:
    zones = {}
    for code, name in conn.execute(sa.select(_offices.c.code, _offices.c.timezone)):
        try:
            zones[code] = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    rows = conn.execute(
        sa.select(
            _registrations.c.document_id,
            _documents.c.office_code,
            _documents.c.document_type,
            _documents.c.summary,
        )
        .join(_documents, _documents.c.id == _registrations.c.document_id)
        .order_by(_registrations.c.id)
    )
    taken: set[str] = set()
    batch: list[dict[str, Any]] = []
    for row in rows:
        zone = zones.get(row.office_code or "")
        if zone is None or not isinstance(row.summary, Mapping):
            continue
        for key in _keys(row.office_code, row.document_type, row.summary, zone):
            text = str(key)
            if text not in taken:
                taken.add(text)
                batch.append({"key": text, "document_id": row.document_id})
        if len(batch) >= _BATCH:
            conn.execute(sa.insert(_call_keys), batch)
            batch = []
    if batch:
        conn.execute(sa.insert(_call_keys), batch)


def _keys(
    office: str, document_type: str, summary: Mapping[str, Any], zone: ZoneInfo
) -> Iterator[CallKey]:
    imo = normalised(str(summary.get("imo") or "")).removeprefix("IMO")
    name = normalised(str(summary.get("conveyance") or ""))
    identity = f"IMO:{imo}" if imo else f"NAME:{name}" if name else None
    if identity is None:
        return
    for register, voyage, moment in _calls(document_type, summary):
        if not normalised(voyage):
            continue
        yield CallKey(
            register=register,
            office_code=office,
            conveyance=identity,
            voyage=normalised(voyage),
            day=datetime.fromisoformat(moment).astimezone(zone).date() if moment else None,
        )


def _calls(
    document_type: str, summary: Mapping[str, Any]
) -> list[tuple[Register, str, str | None]]:
    voyage = str(summary.get("voyage_number") or "")
    arrival, departure = summary.get("arrival_at"), summary.get("departure_at")
    if document_type == "RKSP":
        return [(Register.BC10, voyage, summary["eta"])] if summary.get("eta") else []
    if document_type == "JKSP":
        voyages, etas = summary.get("voyages") or [], summary.get("etas") or []
        if voyages and len(etas) == len(voyages):
            return [(Register.BC10, str(v), e) for v, e in zip(voyages, etas, strict=True) if e]
        if len(voyages) == 1 and summary.get("first_arrival"):
            return [(Register.BC10, str(voyages[0]), summary["first_arrival"])]
        return []
    if document_type == "INWARD_MANIFEST":
        return [(Register.BC11_INWARD, voyage, arrival)]
    if document_type == "OUTWARD_MANIFEST":
        return [(Register.BC11_OUTWARD, voyage, departure)]
    if document_type == "NIL_MANIFEST" and bool(arrival) != bool(departure):
        if arrival:
            return [(Register.BC11_INWARD, voyage, arrival)]
        return [(Register.BC11_OUTWARD, voyage, departure)]
    return []
