"""The pos of registered BC 1.1 documents: current state, versioned history, closings.

``manifest_pos`` holds one row per pos with its current version number, its totals and what
pos closings have settled; ``pos_versions`` keeps every version's content (1 as registered,
then one per applied amendment); ``pos_closings`` the declarations that settled them.

Updates that change a pos are guarded by the state they were decided on (``version``, the
quantities closed so far), so two transactions deciding on the same pos at once cannot both
take effect: the second one finds nothing to update and raises :class:`PosChanged`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from gateway.exceptions import TransientError
from gateway.model import (
    Container,
    CustomsDocumentRef,
    GoodsItem,
    Manifest,
    Packages,
    Party,
    Pos,
    PosNumber,
    RegistrationRef,
    TransportDocument,
    TransportDocumentKind,
)
from gateway.model.common import RECORD
from gateway.model.registered_pos import PosStatus, RegisteredPos
from gateway.storage.tables import (
    amendments,
    documents,
    manifest_pos,
    pos_closings,
    pos_versions,
    registrations,
)

GRAMS_PER_KG = Decimal(1000)


class PosChanged(TransientError):
    """The pos changed since the decision was taken (a concurrent closing or amendment)."""


# -- content ----------------------------------------------------------------------------------


def grams(kg: Decimal) -> int:
    """Whole grams: manifests give weights to the gram (3 decimals of a kilogram)."""
    return int((kg * GRAMS_PER_KG).to_integral_value())


def kilograms(g: int) -> Decimal:
    return (Decimal(g) / GRAMS_PER_KG).quantize(Decimal("0.001"))


def pos_number(text: str) -> PosNumber:
    return PosNumber(pos=int(text[0:4]), sub_pos=int(text[4:8]), sub_sub_pos=int(text[8:12]))


def pos_to_json(pos: Pos, *, nested: bool = False) -> dict[str, Any]:
    """The pos as JSON; its sub-pos only with ``nested`` (stored pos have rows of their own)."""
    out: dict[str, Any] = {
        "number": str(pos.number),
        "transport_document": {
            "kind": str(pos.transport_document.kind),
            "number": pos.transport_document.number,
            "date": pos.transport_document.date.isoformat(),
        },
        "shipper": _party(pos.shipper),
        "consignee": _party(pos.consignee),
        "notify": None if pos.notify is None else _party(pos.notify),
        "port_of_loading": pos.port_of_loading,
        "port_of_discharge": pos.port_of_discharge,
        "final_destination": pos.final_destination,
        "packages": {
            "count": pos.packages.count,
            "kind_code": pos.packages.kind_code,
            "marks": pos.packages.marks,
        },
        "gross_weight_kg": str(pos.gross_weight_kg),
        "volume_m3": None if pos.volume_m3 is None else str(pos.volume_m3),
        "containers": [
            {
                "number": c.number,
                "size_type": c.size_type,
                "seals": list(c.seals),
                "loaded": c.loaded,
            }
            for c in pos.containers
        ],
        "goods": [
            {
                "hs_code": g.hs_code,
                "description": g.description,
                "quantity": None if g.quantity is None else str(g.quantity),
                "quantity_unit": g.quantity_unit,
                "value": None if g.value is None else str(g.value),
                "currency": g.currency,
            }
            for g in pos.goods
        ],
    }
    if nested:
        out["sub_pos"] = [pos_to_json(child, nested=True) for child in pos.sub_pos]
    return out


def pos_from_json(data: Mapping[str, Any]) -> Pos:
    td = data["transport_document"]
    notify = data.get("notify")
    return Pos(
        number=pos_number(data["number"]),
        transport_document=TransportDocument(
            kind=TransportDocumentKind(td["kind"]),
            number=td["number"],
            date=date.fromisoformat(td["date"]),
        ),
        shipper=Party(**data["shipper"]),
        consignee=Party(**data["consignee"]),
        notify=None if notify is None else Party(**notify),
        port_of_loading=data["port_of_loading"],
        port_of_discharge=data["port_of_discharge"],
        final_destination=data.get("final_destination"),
        packages=Packages(**data["packages"]),
        gross_weight_kg=Decimal(data["gross_weight_kg"]),
        volume_m3=_decimal(data.get("volume_m3")),
        containers=tuple(
            Container(
                number=c["number"],
                size_type=c.get("size_type"),
                seals=tuple(c.get("seals", ())),
                loaded=c.get("loaded", True),
            )
            for c in data.get("containers", ())
        ),
        goods=tuple(
            GoodsItem(
                hs_code=g["hs_code"],
                description=g["description"],
                quantity=_decimal(g.get("quantity")),
                quantity_unit=g.get("quantity_unit"),
                value=_decimal(g.get("value")),
                currency=g.get("currency"),
            )
            for g in data.get("goods", ())
        ),
        sub_pos=tuple(pos_from_json(child) for child in data.get("sub_pos", ())),
    )


def _party(party: Party) -> dict[str, Any]:
    return {
        "name": party.name,
        "npwp": party.npwp,
        "address": party.address,
        "country": party.country,
    }


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# -- reading ----------------------------------------------------------------------------------


def bc11_document_id(conn: Connection, ref: RegistrationRef) -> int | None:
    found = conn.execute(
        sa.select(registrations.c.document_id).where(
            registrations.c.kind == str(ref.kind),
            registrations.c.office_code == ref.office_code,
            registrations.c.number == ref.number,
            registrations.c.registration_date == ref.date,
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


@dataclass(**RECORD)
class StoredPos:
    """A pos row with its database id: what a transaction changing the pos needs."""

    id: int
    document_id: int
    state: RegisteredPos


def registered_pos(
    conn: Connection,
    document_id: int,
    numbers: Iterable[str] | None = None,
    *,
    for_update: bool = False,
) -> dict[str, StoredPos]:
    """The pos of a BC 1.1 (or only ``numbers``) by pos number, with their current content.

    ``for_update`` locks the rows until the transaction ends (PostgreSQL; SQLite's one writer
    at a time already serialises the transactions that change pos).
    """
    query = (
        sa.select(manifest_pos, pos_versions.c.content)
        .outerjoin(
            pos_versions,
            sa.and_(
                pos_versions.c.pos_id == manifest_pos.c.id,
                pos_versions.c.version == manifest_pos.c.version,
            ),
        )
        .where(manifest_pos.c.document_id == document_id)
        .order_by(manifest_pos.c.pos_number)
    )
    if numbers is not None:
        query = query.where(manifest_pos.c.pos_number.in_(sa.bindparam("numbers", expanding=True)))
    if for_update:
        query = query.with_for_update(of=manifest_pos)
    params = {} if numbers is None else {"numbers": sorted(set(numbers))}
    out = {}
    for row in conn.execute(query, params):
        out[row.pos_number] = StoredPos(
            id=int(row.id),
            document_id=int(row.document_id),
            state=RegisteredPos(
                number=row.pos_number,
                group=row.group_number,
                status=PosStatus(row.status),
                version=row.version,
                pos=None if row.content is None else pos_from_json(row.content),
                packages_closed=row.packages_closed,
                gross_weight_kg_closed=kilograms(row.gross_weight_g_closed),
            ),
        )
    return out


@dataclass(**RECORD)
class PosVersion:
    version: int
    pos: Pos
    amendment_id: int | None
    amendment_nomor_aju: str | None
    valid_from: datetime


def history(conn: Connection, pos_id: int) -> list[PosVersion]:
    """Every version of a pos, oldest first."""
    rows = conn.execute(
        sa.select(pos_versions, documents.c.nomor_aju)
        .outerjoin(amendments, amendments.c.id == pos_versions.c.amendment_id)
        .outerjoin(documents, documents.c.id == amendments.c.document_id)
        .where(pos_versions.c.pos_id == pos_id)
        .order_by(pos_versions.c.version)
    ).all()
    return [
        PosVersion(
            version=row.version,
            pos=pos_from_json(row.content),
            amendment_id=row.amendment_id,
            amendment_nomor_aju=row.nomor_aju,
            valid_from=row.valid_from,
        )
        for row in rows
    ]


@dataclass(**RECORD)
class PosClosingRow:
    document_nomor_aju: str
    closing_document: CustomsDocumentRef
    packages_closed: int | None
    gross_weight_kg_closed: Decimal | None
    closed_at: datetime


def closings(conn: Connection, pos_id: int) -> list[PosClosingRow]:
    rows = conn.execute(
        sa.select(pos_closings, documents.c.nomor_aju)
        .join(documents, documents.c.id == pos_closings.c.document_id)
        .where(pos_closings.c.pos_id == pos_id)
        .order_by(pos_closings.c.id)
    ).all()
    return [
        PosClosingRow(
            document_nomor_aju=row.nomor_aju,
            closing_document=CustomsDocumentRef(
                code=row.closing_code, number=row.closing_number, date=row.closing_date
            ),
            packages_closed=row.packages_closed,
            gross_weight_kg_closed=(
                None if row.gross_weight_g_closed is None else kilograms(row.gross_weight_g_closed)
            ),
            closed_at=row.closed_at,
        )
        for row in rows
    ]


@dataclass(**RECORD)
class OpenPos:
    """A pos not (fully) closed yet, for ``pde-gateway pos open``."""

    office_code: str
    bc11_number: str
    bc11_date: date
    bc11_nomor_aju: str
    registered_at: datetime
    group: int
    pos_number: str
    transport_document: str
    status: PosStatus
    version: int
    packages: int | None
    packages_closed: int
    gross_weight_kg: Decimal | None
    gross_weight_kg_closed: Decimal


def open_pos(conn: Connection, office_code: str) -> list[OpenPos]:
    """Open and partially closed pos of the office's BC 1.1s, oldest registration first."""
    rows = conn.execute(
        sa.select(
            manifest_pos,
            registrations.c.office_code,
            registrations.c.number.label("bc11_number"),
            registrations.c.registration_date,
            registrations.c.registered_at,
            documents.c.nomor_aju,
        )
        .join(registrations, registrations.c.document_id == manifest_pos.c.document_id)
        .join(documents, documents.c.id == manifest_pos.c.document_id)
        .where(
            registrations.c.office_code == office_code,
            manifest_pos.c.status.in_([str(PosStatus.OPEN), str(PosStatus.PARTIALLY_CLOSED)]),
        )
        .order_by(
            registrations.c.registered_at, manifest_pos.c.document_id, manifest_pos.c.pos_number
        )
    ).all()
    return [
        OpenPos(
            office_code=row.office_code,
            bc11_number=row.bc11_number,
            bc11_date=row.registration_date,
            bc11_nomor_aju=row.nomor_aju,
            registered_at=row.registered_at,
            group=row.group_number,
            pos_number=row.pos_number,
            transport_document=row.transport_document,
            status=PosStatus(row.status),
            version=row.version,
            packages=row.packages,
            packages_closed=row.packages_closed,
            gross_weight_kg=None if row.gross_weight_g is None else kilograms(row.gross_weight_g),
            gross_weight_kg_closed=kilograms(row.gross_weight_g_closed),
        )
        for row in rows
    ]


# -- writing ----------------------------------------------------------------------------------


def insert_registered(
    conn: Connection, manifests: list[tuple[int, Manifest]], *, now: datetime
) -> None:
    """The pos of newly registered BC 1.1 documents, each as its version 1."""
    items = [
        (document_id, group.number, pos)
        for document_id, manifest in manifests
        for group in manifest.groups
        for top in group.pos
        for pos in top.walk()
    ]
    insert_pos(conn, items, amendment_id=None, now=now)


def insert_pos(
    conn: Connection,
    items: list[tuple[int, int, Pos]],
    *,
    amendment_id: int | None,
    now: datetime,
) -> None:
    """New pos rows (document id, group, pos) with their first version."""
    if not items:
        return
    ids = conn.execute(
        sa.insert(manifest_pos).returning(manifest_pos.c.id, sort_by_parameter_order=True),
        [
            {
                "document_id": document_id,
                "group_number": group,
                "pos_number": str(pos.number),
                "transport_document": pos.transport_document.number,
                "status": str(PosStatus.OPEN),
                "version": 1,
                "packages": pos.packages.count,
                "gross_weight_g": grams(pos.gross_weight_kg),
                "packages_closed": 0,
                "gross_weight_g_closed": 0,
            }
            for document_id, group, pos in items
        ],
    ).scalars()
    conn.execute(
        sa.insert(pos_versions),
        [
            {
                "pos_id": int(pos_id),
                "version": 1,
                "content": pos_to_json(pos),
                "amendment_id": amendment_id,
                "valid_from": now,
            }
            for pos_id, (_, _, pos) in zip(ids, items, strict=True)
        ],
    )


def add_version(
    conn: Connection,
    stored: StoredPos,
    pos: Pos,
    *,
    amendment_id: int,
    now: datetime,
    status: PosStatus | None = None,
) -> int:
    """The pos's next version (made by that amendment) becomes its current one."""
    version = stored.state.version + 1
    changed = conn.execute(
        sa.update(manifest_pos)
        .where(manifest_pos.c.id == stored.id, manifest_pos.c.version == stored.state.version)
        .values(
            version=version,
            transport_document=pos.transport_document.number,
            packages=pos.packages.count,
            gross_weight_g=grams(pos.gross_weight_kg),
            status=str(status or stored.state.status),
        )
    ).rowcount
    if changed != 1:
        raise PosChanged(f"pos {stored.state.number} changed meanwhile")
    conn.execute(
        sa.insert(pos_versions).values(
            pos_id=stored.id,
            version=version,
            content=pos_to_json(pos),
            amendment_id=amendment_id,
            valid_from=now,
        )
    )
    return version


def record_closing(
    conn: Connection,
    stored: StoredPos,
    *,
    document_id: int,
    closing_document: CustomsDocumentRef,
    packages: int | None,
    gross_weight_kg: Decimal | None,
    packages_closed_after: int,
    gross_weight_kg_closed_after: Decimal,
    status: PosStatus,
    now: datetime,
) -> None:
    """Record a closing and the pos's quantities closed after it (decided by the caller)."""
    state = stored.state
    changed = conn.execute(
        sa.update(manifest_pos)
        .where(
            manifest_pos.c.id == stored.id,
            manifest_pos.c.version == state.version,
            manifest_pos.c.packages_closed == state.packages_closed,
            manifest_pos.c.gross_weight_g_closed == grams(state.gross_weight_kg_closed),
        )
        .values(
            packages_closed=packages_closed_after,
            gross_weight_g_closed=grams(gross_weight_kg_closed_after),
            status=str(status),
            closed_at=now if status is PosStatus.CLOSED else None,
        )
    ).rowcount
    if changed != 1:
        raise PosChanged(f"pos {state.number} changed meanwhile")
    conn.execute(
        sa.insert(pos_closings).values(
            pos_id=stored.id,
            document_id=document_id,
            closing_code=closing_document.code,
            closing_number=closing_document.number,
            closing_date=closing_document.date,
            packages_closed=packages,
            gross_weight_g_closed=None if gross_weight_kg is None else grams(gross_weight_kg),
            closed_at=now,
        )
    )


def set_status(conn: Connection, pos_ids: list[int], status: PosStatus, *, now: datetime) -> None:
    if pos_ids:
        conn.execute(
            sa.update(manifest_pos)
            .where(manifest_pos.c.id.in_(sa.bindparam("ids", expanding=True)))
            .values(status=str(status), closed_at=now if status is PosStatus.CLOSED else None),
            {"ids": pos_ids},
        )


def bc11_by_nomor_aju(conn: Connection, key: str) -> int | None:
    """The document id of a registered BC 1.1 by its nomor aju (or its document id)."""
    condition = (
        documents.c.id == int(key)
        if key.isdigit() and len(key) < 20
        else documents.c.nomor_aju == key
    )
    found = conn.execute(
        sa.select(documents.c.id)
        .join(registrations, registrations.c.document_id == documents.c.id)
        .where(condition, registrations.c.kind == "BC 1.1")
    ).scalar_one_or_none()
    return None if found is None else int(found)
