"""Synthetic, schema-valid input files for the benchmarks.

Everything is built from string templates (fast, no dependency on the product's models) and
checked with the product's own parser, so a benchmark never measures refusals by accident.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from stdnum import imo, iso6346

if TYPE_CHECKING:
    from gateway.model import Document

NAMESPACE = "urn:pde-gateway:xml:1"
OFFICE = "040300"  # KPU Tanjung Priok: DEMO has a PDE agreement there
CARRIER_NAME = "PT Demo Pelayaran Nusantara"
CARRIER_NPWP = "013467386041000"  # DEMO's NPWP (valid check digit)
# NPWPs with a valid check digit (from docs/examples), used for consignees.
CONSIGNEE_NPWPS = ("021876545041000", "074551235041000", "031245780041000")
VESSELS = ("NUSANTARA", "SAMUDERA", "BAHARI", "MERAPI", "RINJANI", "MAHAKAM", "BARITO", "TOBA")
ORIGINS = ("CNSHA", "SGSIN", "MYPKG", "HKHKG", "KRPUS", "JPTYO", "THBKK", "VNSGN")
CONTAINER_OWNERS = ("MSKU", "TGHU", "TCLU", "CSQU", "MSCU", "OOLU", "HLXU", "CMAU")
HS_CODES = ("85171300", "6403", "640399", "3901", "8474200000", "87089999", "0901", "94036090")
MAX_POS_NUMBER = 9999  # PosIndexType: pos numbers are 1..9999 and unique in a manifest


def imo_number(serial: int) -> str:
    """A valid 7-digit IMO ship number (6 digits + check digit) from ``serial``."""
    body = f"{900000 + serial % 100000:06d}"
    return body + imo.calc_check_digit(body)


def container_number(serial: int) -> str:
    """A valid ISO 6346 container number: owner + category, 6-digit serial, check digit."""
    owner = CONTAINER_OWNERS[serial % len(CONTAINER_OWNERS)]
    body = f"{owner}{serial % 1_000_000:06d}"
    return body + iso6346.calc_check_digit(body)


# ---------------------------------------------------------------------------- RKSP


def rksp_xml(index: int) -> bytes:
    """RKSP ``index``: vessel, IMO, voyage and ETA vary, so every file has other content."""
    vessel = f"KM {VESSELS[index % len(VESSELS)]} {index // len(VESSELS) + 1}"
    voyage = f"{index % 1000:03d}{'NS'[index % 2]}{index // 1000}"
    eta = date(2099, 1, 1) + timedelta(days=index % 3000)
    etd = eta + timedelta(days=2)
    origin = ORIGINS[index % len(ORIGINS)]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Rksp xmlns="{NAMESPACE}">
  <Header>
    <OfficeCode>{OFFICE}</OfficeCode>
    <Language>id</Language>
  </Header>
  <Conveyance>
    <Mode>SEA</Mode>
    <Name>{vessel}</Name>
    <ImoNumber>{imo_number(index)}</ImoNumber>
    <CallSign>PK{index % 10000:04d}</CallSign>
    <Flag>ID</Flag>
    <GrossTonnage>{20000 + index % 15000}</GrossTonnage>
    <LengthOverallM>210.50</LengthOverallM>
  </Conveyance>
  <Carrier>
    <Name>{CARRIER_NAME}</Name>
    <Npwp>{CARRIER_NPWP}</Npwp>
    <Address>Jl. Enggano No. 5, Tanjung Priok, Jakarta Utara 14310</Address>
    <Country>ID</Country>
  </Carrier>
  <VoyageNumber>{voyage}</VoyageNumber>
  <VoyageDate>{(eta - timedelta(days=4)).isoformat()}</VoyageDate>
  <PortOfOrigin>{origin}</PortOfOrigin>
  <LastPortOfCall>SGSIN</LastPortOfCall>
  <PortOfArrival>IDTPP</PortOfArrival>
  <NextPort>IDSUB</NextPort>
  <Eta>{eta.isoformat()}T06:00:00+07:00</Eta>
  <Etd>{etd.isoformat()}T22:00:00+07:00</Etd>
</Rksp>
""".encode()


def rksp_name(index: int) -> str:
    return f"rksp-{index:06d}.xml"


# ---------------------------------------------------------------------------- manifest


def _pos_body(serial: int, *, house: bool) -> str:
    """The PosContent of pos ``serial``: B/L (or house B/L), parties, one container, one item."""
    origin = ORIGINS[serial % len(ORIGINS)]
    kind, number = ("HBL", f"HBL{serial:09d}") if house else ("BL", f"DPN{serial:09d}")
    npwp = CONSIGNEE_NPWPS[serial % len(CONSIGNEE_NPWPS)]
    hs = HS_CODES[serial % len(HS_CODES)]
    return f"""<TransportDocument><Kind>{kind}</Kind><Number>{number}</Number>\
<Date>2099-02-{serial % 28 + 1:02d}</Date></TransportDocument>
<Shipper><Name>Shipper {serial} Trading Co., Ltd.</Name><Address>No. {serial % 500 + 1} \
Harbour Road</Address><Country>{origin[:2]}</Country></Shipper>
<Consignee><Name>PT Penerima Barang {serial}</Name><Npwp>{npwp}</Npwp>\
<Address>Jl. Yos Sudarso Kav. {serial % 90 + 1}, Jakarta Utara</Address><Country>ID</Country>\
</Consignee>
<PortOfLoading>{origin}</PortOfLoading><PortOfDischarge>IDTPP</PortOfDischarge>
<Packages><Count>{serial % 400 + 1}</Count><KindCode>CT</KindCode><Marks>PB/{serial}</Marks>\
</Packages>
<GrossWeightKg>{1000 + serial % 20000}.250</GrossWeightKg><VolumeM3>{serial % 60 + 1}.500\
</VolumeM3>
<Containers><Container><Number>{container_number(serial)}</Number><SizeType>22G1</SizeType>\
<Seals><Seal>SL{serial:08d}</Seal></Seals></Container></Containers>
<Goods><Item><HsCode>{hs}</HsCode><Description>General cargo lot {serial}</Description>\
<Quantity unit="PCE">{serial % 5000 + 1}</Quantity><Value currency="USD">{serial % 90000 + 100}.00\
</Value></Item></Goods>
"""


def manifest_layout(pos_count: int) -> tuple[int, int]:
    """(master pos, records per master) so that ``pos_count`` pos records fit the schema.

    Pos numbers are unique in a manifest and at most 9999, so beyond 9999 records the extra
    ones are house bills (sub-pos) under the masters: 10,000 -> 5,000 masters x 2 records.
    """
    if pos_count < 1:
        raise ValueError("a manifest needs at least one pos")
    per_master = math.ceil(pos_count / MAX_POS_NUMBER)
    return math.ceil(pos_count / per_master), per_master


def manifest_xml(pos_count: int, *, groups: int = 3) -> bytes:
    """An inward manifest with ``pos_count`` pos records (masters + house bills) in groups."""
    masters, per_master = manifest_layout(pos_count)
    parts = [
        f"""<?xml version="1.0" encoding="UTF-8"?>
<Manifest xmlns="{NAMESPACE}">
<Header><OfficeCode>{OFFICE}</OfficeCode><Language>id</Language></Header>
<Direction>INWARD</Direction>
<Nil>false</Nil>
<Conveyance><Mode>SEA</Mode><Name>KM BENCH NUSANTARA</Name><ImoNumber>{imo_number(1)}</ImoNumber>\
<CallSign>PKBN</CallSign><Flag>ID</Flag><GrossTonnage>98000</GrossTonnage></Conveyance>
<Carrier><Name>{CARRIER_NAME}</Name><Npwp>{CARRIER_NPWP}</Npwp><Country>ID</Country></Carrier>
<VoyageNumber>BENCH{pos_count}</VoyageNumber>
<PortOfOrigin>CNSHA</PortOfOrigin>
<LastPortOfCall>SGSIN</LastPortOfCall>
<PortOfCall>IDTPP</PortOfCall>
<NextPort>IDSUB</NextPort>
<ArrivalAt>2099-03-14T06:30:00+07:00</ArrivalAt>
"""
    ]
    per_group = math.ceil(masters / groups)
    serial = 0
    remaining = pos_count
    for group in range(1, groups + 1):
        first = (group - 1) * per_group + 1
        last = min(group * per_group, masters)
        if first > last:
            break
        parts.append(f'<Group number="{group}">\n')
        for number in range(first, last + 1):
            serial += 1
            remaining -= 1
            parts.append(f'<Pos number="{number}">\n')
            parts.append(_pos_body(serial, house=False))
            for sub in range(1, min(per_master - 1, remaining) + 1):
                serial += 1
                remaining -= 1
                parts.append(f'<SubPos number="{sub}">\n')
                parts.append(_pos_body(serial, house=True))
                parts.append("</SubPos>\n")
            parts.append("</Pos>\n")
        parts.append("</Group>\n")
    parts.append("</Manifest>\n")
    assert remaining == 0, remaining
    return "".join(parts).encode()


# ---------------------------------------------------------------------------- checks


def validate(data: bytes) -> Document:
    """Parse ``data`` with the product's XML parser (schema + record); raises if refused."""
    from parsers.xml import XmlParser

    # 10 MB is what the bench brief asks for; a bigger generated file gets its own size.
    limit = 10**7 if len(data) <= 10**7 else len(data)
    result = XmlParser().parse(data, max_bytes=limit)
    (parsed,) = result.documents
    return parsed.document


def count_pos(document: Document) -> int:
    """How many pos records (pos + sub-pos) a parsed manifest holds."""
    from gateway.model import Manifest

    assert isinstance(document, Manifest), type(document)
    return sum(1 for _ in document.all_pos())


def write_file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
