"""Inward, outward and nil manifests (BC 1.1): groups of pos, one pos per B/L or AWB."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from gateway.model.common import (
    RECORD,
    Conveyance,
    DocumentHeader,
    DocumentType,
    Party,
    require_aware,
)


class Direction(enum.StrEnum):
    INWARD = "INWARD"
    OUTWARD = "OUTWARD"


class TransportDocumentKind(enum.StrEnum):
    BILL_OF_LADING = "BL"
    SEA_WAYBILL = "SWB"
    AIR_WAYBILL = "AWB"
    HOUSE_BILL_OF_LADING = "HBL"
    HOUSE_AIR_WAYBILL = "HAWB"


class SupportingListKind(enum.StrEnum):
    """Lists due at arrival (Art. 4(7))."""

    PASSENGERS = "PASSENGERS"
    CREW = "CREW"
    SHIPS_STORES = "SHIPS_STORES"
    STOWAGE_PLAN = "STOWAGE_PLAN"
    FIREARMS = "FIREARMS"
    MEDICINES = "MEDICINES"


@dataclass(**RECORD)
class PosNumber:
    """pos (4) + sub-pos (4) + sub-sub-pos (4); house bills under a master are sub-pos."""

    pos: int
    sub_pos: int = 0
    sub_sub_pos: int = 0

    def __str__(self) -> str:
        return f"{self.pos:04d}{self.sub_pos:04d}{self.sub_sub_pos:04d}"


@dataclass(**RECORD)
class TransportDocument:
    kind: TransportDocumentKind
    number: str
    date: date


@dataclass(**RECORD)
class Packages:
    count: int
    kind_code: str  # UN/ECE Rec. 21 package code, e.g. CT, PK, BX
    marks: str | None = None


@dataclass(**RECORD)
class Container:
    number: str  # ISO 6346 with check digit
    size_type: str | None = None  # ISO 6346 size/type code, e.g. 22G1
    seals: tuple[str, ...] = ()
    loaded: bool = True


@dataclass(**RECORD)
class GoodsItem:
    hs_code: str  # at least the 4-digit HS heading (Art. 4(5))
    description: str
    quantity: Decimal | None = None
    quantity_unit: str | None = None
    value: Decimal | None = None
    currency: str | None = None


@dataclass(**RECORD)
class Pos:
    """One line of the manifest: one bill of lading, sea waybill or air waybill."""

    number: PosNumber
    transport_document: TransportDocument
    shipper: Party
    consignee: Party
    notify: Party | None
    port_of_loading: str
    port_of_discharge: str
    packages: Packages
    gross_weight_kg: Decimal
    volume_m3: Decimal | None = None
    final_destination: str | None = None
    containers: tuple[Container, ...] = ()
    goods: tuple[GoodsItem, ...] = ()
    sub_pos: tuple[Pos, ...] = ()  # house-level detail under a master bill

    def walk(self) -> Iterator[Pos]:
        """This pos and every sub-pos below it, depth first."""
        yield self
        for child in self.sub_pos:
            yield from child.walk()


@dataclass(**RECORD)
class PosGroup:
    """Kelompok pos (Art. 4(4), 8(3)): inward groups 1..6, outward groups 1..5."""

    number: int
    pos: tuple[Pos, ...]


@dataclass(**RECORD)
class SupportingList:
    kind: SupportingListKind
    reference: str
    entries: int | None = None


@dataclass(**RECORD)
class Manifest:
    header: DocumentHeader
    direction: Direction
    conveyance: Conveyance
    carrier: Party
    voyage_number: str
    port_of_origin: str
    last_port_of_call: str | None
    port_of_call: str  # the port of the office this manifest is filed at
    next_port: str | None
    arrival_at: datetime | None  # inward: moment of arrival (Art. 1 item 18)
    departure_at: datetime | None  # outward: moment of departure
    groups: tuple[PosGroup, ...] = ()
    supporting_lists: tuple[SupportingList, ...] = ()
    nil: bool = False  # pemberitahuan nihil (Art. 4(9), 8(6))
    unloading_started_at: datetime | None = None
    emergency: bool = False

    def __post_init__(self) -> None:
        require_aware("arrival_at", self.arrival_at)
        require_aware("departure_at", self.departure_at)
        require_aware("unloading_started_at", self.unloading_started_at)

    @property
    def document_type(self) -> DocumentType:
        if self.nil:
            return DocumentType.NIL_MANIFEST
        if self.direction is Direction.INWARD:
            return DocumentType.INWARD_MANIFEST
        return DocumentType.OUTWARD_MANIFEST

    def all_pos(self) -> Iterator[Pos]:
        for group in self.groups:
            for pos in group.pos:
                yield from pos.walk()
