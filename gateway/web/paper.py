"""Paper documents keyed in by an officer, turned into the XML a carrier would send.

Pure: form values in, bytes of an RKSP or manifest (``docs/formats/xml.md``) out. Nothing is
checked here: the document goes through the same parser, schema, rules and numbering as any
other, so a typo is refused with the same reason and place a carrier would get. Local times
typed in the form are the office's (WIB/WITA/WIT).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from lxml import etree

NS = "urn:pde-gateway:xml:1"
POS_ROWS = 10  # pos lines on the paper manifest form
POS_FIELDS = (
    "group",
    "doc_kind",
    "doc_number",
    "doc_date",
    "shipper",
    "shipper_country",
    "consignee",
    "consignee_npwp",
    "consignee_country",
    "loading",
    "discharge",
    "packages",
    "package_kind",
    "weight",
    "hs",
    "description",
)


class _Builder:
    def __init__(self, root: str) -> None:
        self.root = etree.Element(f"{{{NS}}}{root}", nsmap={None: NS})  # type: ignore[dict-item]

    def add(
        self, parent: etree._Element | None, tag: str, text: str | None = None, **attrs: str
    ) -> etree._Element:
        element = etree.SubElement(self.root if parent is None else parent, f"{{{NS}}}{tag}")
        for name, value in attrs.items():
            element.set(name, value)
        if text is not None:
            element.text = text
        return element

    def bytes(self) -> bytes:
        data: bytes = etree.tostring(
            self.root, xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
        return data


def local_instant(text: str, zone: ZoneInfo) -> str:
    """``2099-05-01T08:00`` typed in the office's time -> ISO 8601 with its offset."""
    if not text:
        return ""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text  # the schema refuses it, with its place
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _header(b: _Builder, values: Mapping[str, str], carrier: tuple[str, str]) -> None:
    header = b.add(None, "Header")
    b.add(header, "OfficeCode", values["office"])
    if values.get("language"):
        b.add(header, "Language", values["language"])


def _conveyance(b: _Builder, values: Mapping[str, str], carrier: tuple[str, str]) -> None:
    conveyance = b.add(None, "Conveyance")
    b.add(conveyance, "Mode", values.get("mode") or "SEA")
    b.add(conveyance, "Name", values["conveyance"])
    for tag, key in (("ImoNumber", "imo"), ("CallSign", "call_sign"), ("Flag", "flag")):
        if values.get(key):
            b.add(conveyance, tag, values[key])
    party = b.add(None, "Carrier")
    b.add(party, "Name", carrier[0])
    b.add(party, "Npwp", carrier[1])


def rksp_xml(values: Mapping[str, str], carrier: tuple[str, str], zone: ZoneInfo) -> bytes:
    """``carrier`` = (name, NPWP) of the carrier the paper is from."""
    b = _Builder("Rksp")
    _header(b, values, carrier)
    _conveyance(b, values, carrier)
    b.add(None, "VoyageNumber", values["voyage"])
    b.add(None, "PortOfOrigin", values["origin"])
    b.add(None, "LastPortOfCall", values["last_port"])
    b.add(None, "PortOfArrival", values["arrival_port"])
    if values.get("next_port"):
        b.add(None, "NextPort", values["next_port"])
    b.add(None, "Eta", local_instant(values["eta"], zone))
    if values.get("etd"):
        b.add(None, "Etd", local_instant(values["etd"], zone))
    return b.bytes()


def manifest_xml(
    values: Mapping[str, str],
    pos_rows: Sequence[Mapping[str, str]],
    carrier: tuple[str, str],
    zone: ZoneInfo,
) -> bytes:
    """A manifest with one pos per filled row, grouped by the row's group; none -> nil."""
    rows = [r for r in pos_rows if r.get("doc_number")]
    b = _Builder("Manifest")
    _header(b, values, carrier)
    inward = values.get("direction", "INWARD") == "INWARD"
    b.add(None, "Direction", "INWARD" if inward else "OUTWARD")
    b.add(None, "Nil", "false" if rows else "true")
    _conveyance(b, values, carrier)
    b.add(None, "VoyageNumber", values["voyage"])
    b.add(None, "PortOfOrigin", values["origin"])
    if values.get("last_port"):
        b.add(None, "LastPortOfCall", values["last_port"])
    b.add(None, "PortOfCall", values["port_of_call"])
    if values.get("next_port"):
        b.add(None, "NextPort", values["next_port"])
    b.add(None, "ArrivalAt" if inward else "DepartureAt", local_instant(values["moment"], zone))
    groups: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        groups.setdefault(row.get("group") or "1", []).append(row)
    for group, members in sorted(groups.items()):
        element = b.add(None, "Group", number=group)
        for number, row in enumerate(members, start=1):
            _pos(b, element, number, row)
    return b.bytes()


def _pos(b: _Builder, group: etree._Element, number: int, row: Mapping[str, str]) -> None:
    pos = b.add(group, "Pos", number=str(number))
    document = b.add(pos, "TransportDocument")
    b.add(document, "Kind", row.get("doc_kind") or "BL")
    b.add(document, "Number", row["doc_number"])
    b.add(document, "Date", row.get("doc_date", ""))
    shipper = b.add(pos, "Shipper")
    b.add(shipper, "Name", row.get("shipper", ""))
    if row.get("shipper_country"):
        b.add(shipper, "Country", row["shipper_country"])
    consignee = b.add(pos, "Consignee")
    b.add(consignee, "Name", row.get("consignee", ""))
    if row.get("consignee_npwp"):
        b.add(consignee, "Npwp", row["consignee_npwp"])
    if row.get("consignee_country"):
        b.add(consignee, "Country", row["consignee_country"])
    b.add(pos, "PortOfLoading", row.get("loading", ""))
    b.add(pos, "PortOfDischarge", row.get("discharge", ""))
    packages = b.add(pos, "Packages")
    b.add(packages, "Count", row.get("packages", ""))
    b.add(packages, "KindCode", row.get("package_kind") or "PK")
    b.add(pos, "GrossWeightKg", row.get("weight", ""))
    goods = b.add(pos, "Goods")
    item = b.add(goods, "Item")
    b.add(item, "HsCode", row.get("hs", ""))
    b.add(item, "Description", row.get("description", ""))
