"""Schema-valid element trees -> canonical records.

The tree has already passed its XSD, so required elements are present and lexically right;
what is left to refuse here (XML-003) is what XSD 1.0 cannot say: an hour of 24:00, a nil
manifest that still has groups, a breakdown nested deeper than sub-sub-pos.
Times become aware datetimes, amounts become Decimal, never float.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from lxml import etree

from gateway.exceptions import XmlDocumentError
from gateway.messages import finding
from gateway.model import (
    Amendment,
    AmendmentKind,
    Container,
    Conveyance,
    CustomsDocumentRef,
    Direction,
    Document,
    DocumentHeader,
    FieldChange,
    GoodsItem,
    Jksp,
    Manifest,
    Packages,
    Party,
    Pos,
    PosClosing,
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
from gateway.model.findings import Location
from parsers.xml.schema import NAMESPACE, element_path, source_line

_Element = etree._Element
_T = TypeVar("_T")


class _Invalid(Exception):
    """A value the XSD let through but the record cannot hold; becomes XML-003."""

    def __init__(self, element: _Element, detail: str) -> None:
        super().__init__(detail)
        self.element = element
        self.detail = detail


@functools.cache
def _q(name: str) -> str:
    return f"{{{NAMESPACE}}}{name}"


# iterchildren(tag) filters in C; find() parses its path argument on every call, and a
# 10,000-pos manifest makes some 400,000 look-ups.
def _child(parent: _Element, name: str) -> _Element | None:
    return next(parent.iterchildren(_q(name)), None)


def _children(parent: _Element | None, name: str) -> Iterator[_Element]:
    if parent is None:
        return iter(())
    return parent.iterchildren(_q(name))


def _req(parent: _Element, name: str) -> _Element:
    element = _child(parent, name)
    if element is None:
        raise _Invalid(parent, f"element {name} is missing")
    return element


def _value(element: _Element) -> str:
    return (element.text or "").strip()


def _text(parent: _Element, name: str) -> str:
    return _value(_req(parent, name))


def _opt_text(parent: _Element, name: str) -> str | None:
    element = _child(parent, name)
    return None if element is None else _value(element)


def _convert(element: _Element, raw: str, convert: Callable[[str], _T], what: str) -> _T:
    try:
        return convert(raw)
    except (ValueError, InvalidOperation, KeyError) as exc:
        raise _Invalid(element, f"the value '{raw}' is not a valid {what}") from exc


def _decimal(parent: _Element, name: str) -> Decimal:
    element = _req(parent, name)
    return _convert(element, _value(element), Decimal, "decimal")


def _opt_decimal(parent: _Element, name: str) -> Decimal | None:
    element = _child(parent, name)
    return None if element is None else _convert(element, _value(element), Decimal, "decimal")


def _opt_int(parent: _Element, name: str) -> int | None:
    element = _child(parent, name)
    return None if element is None else _convert(element, _value(element), int, "integer")


def _parse_instant(raw: str) -> datetime:
    value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("no offset")
    return value


def _instant(parent: _Element, name: str) -> datetime:
    element = _req(parent, name)
    return _convert(element, _value(element), _parse_instant, "date and time with offset")


def _opt_instant(parent: _Element, name: str) -> datetime | None:
    element = _child(parent, name)
    if element is None:
        return None
    return _convert(element, _value(element), _parse_instant, "date and time with offset")


def _date(parent: _Element, name: str) -> date:
    element = _req(parent, name)
    return _convert(element, _value(element), date.fromisoformat, "date")


def _opt_date(parent: _Element, name: str) -> date | None:
    element = _child(parent, name)
    return (
        None if element is None else _convert(element, _value(element), date.fromisoformat, "date")
    )


def _boolean(parent: _Element, name: str, default: bool) -> bool:
    element = _child(parent, name)
    if element is None:
        return default
    raw = _value(element)
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise _Invalid(element, f"the value '{raw}' is not a boolean")


def _int_attribute(element: _Element, name: str, default: int | None = None) -> int:
    raw = element.get(name)
    if raw is None:
        if default is None:
            raise _Invalid(element, f"attribute {name} is missing")
        return default
    return _convert(element, raw.strip(), int, "integer")


# ---------------------------------------------------------------- shared parts


def _header(root: _Element) -> DocumentHeader:
    header = _req(root, "Header")
    return DocumentHeader(
        office_code=_text(header, "OfficeCode"),
        sender_reference=_opt_text(header, "NomorAju"),
        language=_opt_text(header, "Language"),
    )


def _party(element: _Element) -> Party:
    return Party(
        name=_text(element, "Name"),
        npwp=_opt_text(element, "Npwp"),
        address=_opt_text(element, "Address"),
        country=_opt_text(element, "Country"),
    )


def _opt_party(parent: _Element, name: str) -> Party | None:
    element = _child(parent, name)
    return None if element is None else _party(element)


def _conveyance(element: _Element) -> Conveyance:
    mode = _req(element, "Mode")
    return Conveyance(
        mode=_convert(mode, _value(mode), TransportMode, "transport mode"),
        name=_text(element, "Name"),
        imo_number=_opt_text(element, "ImoNumber"),
        call_sign=_opt_text(element, "CallSign"),
        flag=_opt_text(element, "Flag"),
        registration_number=_opt_text(element, "RegistrationNumber"),
        gross_tonnage=_opt_decimal(element, "GrossTonnage"),
        length_overall_m=_opt_decimal(element, "LengthOverallM"),
        draft_fore_m=_opt_decimal(element, "DraftForeM"),
        draft_aft_m=_opt_decimal(element, "DraftAftM"),
    )


def _registration(element: _Element, kind: RegistrationKind) -> RegistrationRef:
    return RegistrationRef(
        kind=kind,
        office_code=_text(element, "OfficeCode"),
        number=_text(element, "Number"),
        date=_date(element, "Date"),
    )


def _opt_registration(
    parent: _Element, name: str, kind: RegistrationKind
) -> RegistrationRef | None:
    element = _child(parent, name)
    return None if element is None else _registration(element, kind)


def _customs_document(element: _Element) -> CustomsDocumentRef:
    return CustomsDocumentRef(
        code=_text(element, "Code"), number=_text(element, "Number"), date=_date(element, "Date")
    )


def _pos_number(element: _Element) -> PosNumber:
    return PosNumber(
        pos=_int_attribute(element, "pos"),
        sub_pos=_int_attribute(element, "subPos", 0),
        sub_sub_pos=_int_attribute(element, "subSubPos", 0),
    )


def _transport_document(element: _Element) -> TransportDocument:
    kind = _req(element, "Kind")
    return TransportDocument(
        kind=_convert(kind, _value(kind), TransportDocumentKind, "transport document kind"),
        number=_text(element, "Number"),
        date=_date(element, "Date"),
    )


# ---------------------------------------------------------------- pos


def _container(element: _Element) -> Container:
    return Container(
        number=_text(element, "Number"),
        size_type=_opt_text(element, "SizeType"),
        seals=tuple(_value(seal) for seal in _children(_child(element, "Seals"), "Seal")),
        loaded=_boolean(element, "Loaded", True),
    )


def _goods_item(element: _Element) -> GoodsItem:
    quantity = _child(element, "Quantity")
    value = _child(element, "Value")
    return GoodsItem(
        hs_code=_text(element, "HsCode"),
        description=_text(element, "Description"),
        quantity=_opt_decimal(element, "Quantity"),
        quantity_unit=None if quantity is None else quantity.get("unit"),
        value=_opt_decimal(element, "Value"),
        currency=None if value is None else value.get("currency"),
    )


def _child_number(element: _Element, parent: PosNumber, index: int) -> PosNumber:
    """The number of a pos ``index`` one level below ``parent``."""
    if parent.sub_pos == 0:
        return PosNumber(pos=parent.pos, sub_pos=index)
    if parent.sub_sub_pos == 0:
        return PosNumber(pos=parent.pos, sub_pos=parent.sub_pos, sub_sub_pos=index)
    raise _Invalid(element, "a pos cannot be nested deeper than sub-sub-pos")


def _pos(element: _Element, number: PosNumber) -> Pos:
    packages = _req(element, "Packages")
    children: list[Pos] = []
    for child_name in ("SubPos", "SubSubPos"):
        for child in _children(element, child_name):
            child_number = _child_number(child, number, _int_attribute(child, "number"))
            children.append(_pos(child, child_number))
    return Pos(
        number=number,
        transport_document=_transport_document(_req(element, "TransportDocument")),
        shipper=_party(_req(element, "Shipper")),
        consignee=_party(_req(element, "Consignee")),
        notify=_opt_party(element, "Notify"),
        port_of_loading=_text(element, "PortOfLoading"),
        port_of_discharge=_text(element, "PortOfDischarge"),
        final_destination=_opt_text(element, "FinalDestination"),
        packages=Packages(
            count=_convert(packages, _text(packages, "Count"), int, "integer"),
            kind_code=_text(packages, "KindCode"),
            marks=_opt_text(packages, "Marks"),
        ),
        gross_weight_kg=_decimal(element, "GrossWeightKg"),
        volume_m3=_opt_decimal(element, "VolumeM3"),
        containers=tuple(
            _container(c) for c in _children(_child(element, "Containers"), "Container")
        ),
        goods=tuple(_goods_item(g) for g in _children(_child(element, "Goods"), "Item")),
        sub_pos=tuple(children),
    )


# ---------------------------------------------------------------- documents


def _rksp(root: _Element) -> Rksp:
    return Rksp(
        header=_header(root),
        conveyance=_conveyance(_req(root, "Conveyance")),
        carrier=_party(_req(root, "Carrier")),
        voyage_number=_text(root, "VoyageNumber"),
        voyage_date=_opt_date(root, "VoyageDate"),
        port_of_origin=_text(root, "PortOfOrigin"),
        last_port_of_call=_text(root, "LastPortOfCall"),
        port_of_arrival=_text(root, "PortOfArrival"),
        next_port=_opt_text(root, "NextPort"),
        eta=_instant(root, "Eta"),
        etd=_opt_instant(root, "Etd"),
        actual_arrival=_opt_instant(root, "Ata"),
        actual_departure=_opt_instant(root, "Atd"),
        amends=_opt_registration(root, "Amends", RegistrationKind.BC10),
    )


def _scheduled_call(element: _Element) -> ScheduledCall:
    return ScheduledCall(
        voyage_number=_text(element, "VoyageNumber"),
        port_of_origin=_text(element, "PortOfOrigin"),
        last_port_of_call=_text(element, "LastPortOfCall"),
        next_port=_opt_text(element, "NextPort"),
        eta=_instant(element, "Eta"),
        etd=_opt_instant(element, "Etd"),
        actual_arrival=_opt_instant(element, "Ata"),
        actual_departure=_opt_instant(element, "Atd"),
    )


def _jksp(root: _Element) -> Jksp:
    return Jksp(
        header=_header(root),
        conveyance=_conveyance(_req(root, "Conveyance")),
        carrier=_party(_req(root, "Carrier")),
        port_of_arrival=_text(root, "PortOfArrival"),
        period_start=_date(root, "PeriodStart"),
        period_end=_date(root, "PeriodEnd"),
        calls=tuple(_scheduled_call(c) for c in _children(_child(root, "Calls"), "Call")),
        amends=_opt_registration(root, "Amends", RegistrationKind.BC10),
    )


def _supporting_list(element: _Element) -> SupportingList:
    kind = _req(element, "Kind")
    return SupportingList(
        kind=_convert(kind, _value(kind), SupportingListKind, "supporting list kind"),
        reference=_text(element, "Reference"),
        entries=_opt_int(element, "Entries"),
    )


def _group(element: _Element) -> PosGroup:
    return PosGroup(
        number=_int_attribute(element, "number"),
        pos=tuple(
            _pos(pos, PosNumber(pos=_int_attribute(pos, "number")))
            for pos in _children(element, "Pos")
        ),
    )


def _manifest(root: _Element) -> Manifest:
    direction = _req(root, "Direction")
    nil = _boolean(root, "Nil", False)
    group_elements = list(_children(root, "Group"))
    if nil and group_elements:
        raise _Invalid(group_elements[0], "a nil manifest must not contain any Group")
    return Manifest(
        header=_header(root),
        direction=_convert(direction, _value(direction), Direction, "direction"),
        nil=nil,
        emergency=_boolean(root, "Emergency", False),
        conveyance=_conveyance(_req(root, "Conveyance")),
        carrier=_party(_req(root, "Carrier")),
        voyage_number=_text(root, "VoyageNumber"),
        port_of_origin=_text(root, "PortOfOrigin"),
        last_port_of_call=_opt_text(root, "LastPortOfCall"),
        port_of_call=_text(root, "PortOfCall"),
        next_port=_opt_text(root, "NextPort"),
        arrival_at=_opt_instant(root, "ArrivalAt"),
        departure_at=_opt_instant(root, "DepartureAt"),
        unloading_started_at=_opt_instant(root, "UnloadingStartedAt"),
        supporting_lists=tuple(
            _supporting_list(s)
            for s in _children(_child(root, "SupportingLists"), "SupportingList")
        ),
        groups=tuple(_group(g) for g in group_elements),
    )


def _field_change(element: _Element) -> FieldChange:
    old = _child(element, "OldValue")
    new = _req(element, "NewValue")
    return FieldChange(
        field=_text(element, "Field"),
        old_value=None if old is None else (old.text or ""),
        new_value=new.text or "",
    )


def _amendment(root: _Element) -> Amendment:
    pos_number = _pos_number(_req(root, "PosNumber"))
    kind = _req(root, "Kind")
    revised = _child(root, "RevisedTransportDocument")
    breakdown: list[Pos] = []
    for element in _children(_child(root, "Breakdown"), "SubPos"):
        number = _child_number(element, pos_number, _int_attribute(element, "number"))
        breakdown.append(_pos(element, number))
    return Amendment(
        header=_header(root),
        bc11=_registration(_req(root, "Bc11"), RegistrationKind.BC11),
        pos_number=pos_number,
        kind=_convert(kind, _value(kind), AmendmentKind, "amendment kind"),
        reason=_text(root, "Reason"),
        requested_by=_party(_req(root, "RequestedBy")),
        supporting_documents=tuple(
            _customs_document(d) for d in _children(_child(root, "SupportingDocuments"), "Document")
        ),
        changes=tuple(_field_change(c) for c in _children(_child(root, "Changes"), "Change")),
        merged_pos=tuple(_pos_number(p) for p in _children(_child(root, "MergedPos"), "PosNumber")),
        revised_transport_document=None if revised is None else _transport_document(revised),
        breakdown=tuple(breakdown),
    )


def _pos_closing(root: _Element) -> PosClosing:
    return PosClosing(
        header=_header(root),
        bc11=_registration(_req(root, "Bc11"), RegistrationKind.BC11),
        pos_number=_pos_number(_req(root, "PosNumber")),
        closing_document=_customs_document(_req(root, "ClosingDocument")),
        packages_closed=_opt_int(root, "PackagesClosed"),
        gross_weight_kg_closed=_opt_decimal(root, "GrossWeightKgClosed"),
    )


_BUILDERS: dict[str, Callable[[_Element], Document]] = {
    "Rksp": _rksp,
    "Jksp": _jksp,
    "Manifest": _manifest,
    "Amendment": _amendment,
    "PosClosing": _pos_closing,
}


def to_record(root: _Element) -> Document:
    """The canonical record for a schema-valid document root; XmlDocumentError (XML-003)
    for what the schema could not rule out."""
    name = etree.QName(root).localname
    try:
        return _BUILDERS[name](root)
    except _Invalid as exc:
        location = Location(line=source_line(exc.element), path=element_path(exc.element))
        raise XmlDocumentError([finding("XML-003", detail=exc.detail, location=location)]) from exc
    except ValueError as exc:  # a record refused a value (e.g. a naive datetime)
        location = Location(line=source_line(root), path=element_path(root))
        raise XmlDocumentError([finding("XML-003", detail=str(exc), location=location)]) from exc
