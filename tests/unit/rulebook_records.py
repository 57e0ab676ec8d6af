"""Hand-built records and contexts for the rule book's decision tables (no database, no files)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway.model import (
    Conveyance,
    Direction,
    Document,
    DocumentHeader,
    DocumentType,
    Finding,
    Flag,
    GoodsItem,
    Jksp,
    Manifest,
    Packages,
    Party,
    Pos,
    PosGroup,
    PosNumber,
    RegistrationKind,
    RegistrationRef,
    Rksp,
    ScheduledCall,
    SupportingList,
    SupportingListKind,
    TransportDocument,
    TransportDocumentKind,
    TransportMode,
)
from gateway.model.registered_pos import RegisteredPos
from gateway.reference import ReferenceData, load_carriers, load_offices
from handlers import RuleContext
from handlers.base import Bc10Call
from handlers.rulebook import rulebook

REPO = Path(__file__).resolve().parents[2]
REFERENCE = ReferenceData(
    offices={o.code: o for o in load_offices(REPO / "config" / "offices.toml")},
    carriers={c.code: c for c in load_carriers(REPO / "config" / "carriers.toml")},
)
PRIOK = "040300"  # WIB, Asia/Jakarta
MAKASSAR = "150100"  # WITA, Asia/Makassar
JAYAPURA = "190100"  # WIT, Asia/Jayapura
IMO = "9321483"
ARRIVAL = datetime(2026, 3, 11, 2, 30, tzinfo=UTC)  # 09:30 WIB, 10:30 WITA, 11:30 WIT


class NoBc11:
    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        return None

    def pos_records(self, ref: RegistrationRef) -> Mapping[str, RegisteredPos] | None:
        return None

    def holder(self, ref: RegistrationRef) -> None:
        return None


@dataclass
class FakeBc10:
    """A BC 1.0 lookup over a list, matching the way the database one pre-selects."""

    calls: tuple[Bc10Call, ...] = ()

    def get(self, ref: RegistrationRef) -> Bc10Call | None:
        return next((c for c in self.calls if c.registration == ref), None)

    def for_conveyance(self, office_code: str, conveyance: Conveyance) -> tuple[Bc10Call, ...]:
        return tuple(
            c
            for c in self.calls
            if c.registration.office_code == office_code
            and (
                c.conveyance_name.upper() == conveyance.name.upper()
                or (conveyance.imo_number is not None and c.imo_number == conveyance.imo_number)
            )
        )


def context(
    now: datetime,
    *,
    sender: str = "DEMO",
    family: str = "media",
    bc10: tuple[Bc10Call, ...] = (),
) -> RuleContext:
    return RuleContext(
        reference=REFERENCE,
        now=now,
        sender=sender,
        channel_family=family,
        bc11=NoBc11(),
        bc10=FakeBc10(bc10),
    )


def apply(rule_id: str, document: Document, ctx: RuleContext) -> list[Finding | Flag]:
    """What one rule of the book says about the document."""
    [found] = [r for r in rulebook() if r.spec.id == rule_id]
    return list(found.check(document, ctx))


def codes(items: list[Finding | Flag]) -> list[str]:
    return [i.code for i in items if isinstance(i, Finding)]


def lateness(items: list[Finding | Flag]) -> timedelta | None:
    """The LATE flag's lateness; None when the document is on time."""
    flags = [i for i in items if isinstance(i, Flag)]
    assert [f.code for f in flags] in ([], ["LATE"]), flags
    return flags[0].lateness if flags else None


def conveyance(mode: TransportMode = TransportMode.SEA, **changes: Any) -> Conveyance:
    base = Conveyance(mode=mode, name="KM DEMO NUSANTARA", imo_number=IMO, flag="ID")
    return dataclasses.replace(base, **changes)


CARRIER = Party(name="PT Demo Pelayaran Nusantara", npwp="013467386041000", country="ID")


def bc10_ref(number: str = "000001", office: str = PRIOK) -> RegistrationRef:
    return RegistrationRef(
        kind=RegistrationKind.BC10, office_code=office, number=number, date=date(2026, 3, 1)
    )


def rksp(office: str = PRIOK, *, eta: datetime = ARRIVAL, **changes: Any) -> Rksp:
    base = Rksp(
        header=DocumentHeader(office_code=office, language="id"),
        conveyance=conveyance(),
        carrier=CARRIER,
        voyage_number="025N",
        port_of_origin="CNSHA",
        last_port_of_call="SGSIN",
        port_of_arrival="IDTPP",
        next_port="IDSUB",
        eta=eta,
    )
    return dataclasses.replace(base, **changes)


def call(voyage: str, eta: datetime, last_port: str = "SGSIN") -> ScheduledCall:
    return ScheduledCall(
        voyage_number=voyage,
        port_of_origin="SGSIN",
        last_port_of_call=last_port,
        next_port="IDSUB",
        eta=eta,
    )


def jksp(calls: tuple[ScheduledCall, ...], office: str = PRIOK, **changes: Any) -> Jksp:
    base = Jksp(
        header=DocumentHeader(office_code=office, language="en"),
        conveyance=conveyance(),
        carrier=CARRIER,
        port_of_arrival="IDTPP",
        period_start=date(2026, 1, 1),
        period_end=date(2026, 3, 31),
        calls=calls,
    )
    return dataclasses.replace(base, **changes)


def goods(
    hs: str = "8517",
    description: str = "Smartphones",
    *,
    value: str | None = "100",
    quantity: str | None = "10",
) -> GoodsItem:
    return GoodsItem(
        hs_code=hs,
        description=description,
        quantity=None if quantity is None else Decimal(quantity),
        value=None if value is None else Decimal(value),
    )


def pos(
    number: int,
    bl: str | None = None,
    *,
    kind: TransportDocumentKind = TransportDocumentKind.BILL_OF_LADING,
    items: tuple[GoodsItem, ...] = (),
    sub_pos: tuple[Pos, ...] = (),
    sub: int = 0,
) -> Pos:
    return Pos(
        number=PosNumber(pos=number, sub_pos=sub),
        transport_document=TransportDocument(
            kind=kind, number=bl or f"BL{number:04d}{sub:04d}", date=date(2026, 3, 1)
        ),
        shipper=Party(name="Shanghai Global Freight Co., Ltd.", country="CN"),
        consignee=Party(name="PT Sinar Niaga Sejahtera", npwp="074551235041000", country="ID"),
        notify=None,
        port_of_loading="CNSHA",
        port_of_discharge="IDTPP",
        packages=Packages(count=10, kind_code="CT"),
        gross_weight_kg=Decimal("1000"),
        goods=items or (goods(),),
        sub_pos=sub_pos,
    )


def manifest(
    office: str = PRIOK,
    *,
    direction: Direction = Direction.INWARD,
    mode: TransportMode = TransportMode.SEA,
    groups: tuple[PosGroup, ...] | None = None,
    nil: bool = False,
    passengers: bool = False,
    **changes: Any,
) -> Manifest:
    if groups is None:
        air = mode is TransportMode.AIR
        kind = TransportDocumentKind.AIR_WAYBILL if air else TransportDocumentKind.BILL_OF_LADING
        groups = () if nil else (PosGroup(number=1, pos=(pos(1, kind=kind),)),)
    lists = (
        (SupportingList(kind=SupportingListKind.PASSENGERS, reference="PAX-1"),)
        if passengers
        else ()
    )
    base = Manifest(
        header=DocumentHeader(office_code=office, language="id"),
        direction=direction,
        conveyance=conveyance(mode),
        carrier=CARRIER,
        voyage_number="025N",
        port_of_origin="CNSHA",
        last_port_of_call="SGSIN",
        port_of_call="IDTPP",
        next_port="IDSUB",
        arrival_at=ARRIVAL if direction is Direction.INWARD else None,
        departure_at=ARRIVAL if direction is Direction.OUTWARD else None,
        groups=groups,
        supporting_lists=lists,
        nil=nil,
    )
    return dataclasses.replace(base, **changes)


def bc10_call(
    *,
    number: str = "000001",
    voyages: tuple[str, ...] = ("025N",),
    name: str = "KM DEMO NUSANTARA",
    imo: str | None = IMO,
    arrival: datetime = ARRIVAL,
    document_type: DocumentType = DocumentType.RKSP,
    office: str = PRIOK,
) -> Bc10Call:
    return Bc10Call(
        registration=bc10_ref(number, office),
        document_type=document_type,
        conveyance_name=name,
        imo_number=imo,
        arrival=arrival,
        voyages=voyages,
    )
