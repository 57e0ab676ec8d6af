"""Synthetic ANSI X12 309 inward manifests for the ``x12`` benchmark.

The file follows ``docs/formats/x12.md`` section 4 and copies the structure of
``docs/examples/manifest-inward.x12``: envelope, heading (M10, N9*TJ, N9*ZZ references), P4,
then one LX loop per bill with M11, N9*BM, N9*MB (house bills), N9*ZZ GROUP/MARKS, N1/N3/N4
parties, a VID*CN container and an N10 goods line.

A 309 has one P4 loop whose LX loop repeats at most 9999 times (``schemas/x12/309.4010.xml``);
every bill, house bills included, is an LX loop. So N bills go into ``ceil(N / 9999)``
transaction sets of one functional group (each set is a manifest with its own BC 1.1), split
evenly; 10,000 bills -> 2 sets x 5,000 bills. Inside a set the bills are masters each with
one house bill (sub-pos), as the XML ``manifest`` benchmark lays out its 10,000 pos: 2 x
(2,500 master B/L + 2,500 house B/L) here, 5,000 masters + 5,000 house bills in all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from zoneinfo import ZoneInfo

from stdnum import luhn
from stdnum.id import npwp as stdnum_npwp

from bench.generate import (
    CARRIER_NAME,
    CARRIER_NPWP,
    HS_CODES,
    OFFICE,
    ORIGINS,
    container_number,
    imo_number,
)

MAX_LX_PER_SET = 9999  # LX loop <repeat> of the 309 map (one P4 loop per set)
SENDER = "DEMOLINE"  # DEMO's X12 sender id (config/carriers.toml senders.x12)
RECEIVER = "DJBCPDE"
CARRIER_CODE = "DEMO"  # M10-01 / M11-12 of master bills
FORWARDER_CODE = "SKKS"  # M11-12 of house bills
GROUPS = 3  # kelompok pos 1..3 (inward allows 1..6)


def npwp_number(serial: int) -> str:
    """A valid 15-digit NPWP: 0 + entity type + 6-digit taxpayer + Luhn digit + KPP + branch."""
    body = f"0{1 + serial % 9}{serial % 1_000_000:06d}"
    number = body + luhn.calc_check_digit(body) + f"{41 + serial % 50:03d}000"
    assert stdnum_npwp.is_valid(number), number
    return number


def set_sizes(bills: int) -> list[int]:
    """Bills per transaction set: as few sets as the LX limit allows, split evenly."""
    if bills < 1:
        raise ValueError("a manifest needs at least one bill")
    sets = math.ceil(bills / MAX_LX_PER_SET)
    base, extra = divmod(bills, sets)
    return [base + (1 if i < extra else 0) for i in range(sets)]


def _party(code: str, name: str, npwp: str | None, address: str | None, country: str) -> str:
    n1 = f"N1*{code}*{name}" + (f"*FI*{npwp}" if npwp else "")
    n3 = f"N3*{address}~\n" if address else ""
    return f"{n1}~\n{n3}N4****{country}~\n"


def _bill(serial: int, lx: int, group: int, master_bl: str | None) -> tuple[str, str, int]:
    """One LX loop: (text, B/L number, segment count). ``master_bl`` set: a house bill."""
    origin = ORIGINS[serial % len(ORIGINS)]
    house = master_bl is not None
    bl = f"HBL{serial:09d}" if house else f"DPN{serial:09d}"
    kind, issuer = ("HBL", FORWARDER_CODE) if house else ("BL", CARRIER_CODE)
    container = container_number(serial)
    hs = HS_CODES[serial % len(HS_CODES)]
    lines = [
        f"LX*{lx}~\n",
        f"M11*{bl[-12:]}*{origin}*{serial % 400 + 1}*CT*{1000 + serial % 20000}.250*K*"
        f"{serial % 60 + 1}.500*X****{issuer}~\n",
        f"N9*BM*{bl}*{kind}*209902{serial % 28 + 1:02d}~\n",
    ]
    if house:
        lines.append(f"N9*MB*{master_bl}~\n")
    else:
        lines.append(f"N9*ZZ*GROUP*{group}~\n")
    lines.append(f"N9*ZZ*MARKS*PB/{serial}~\n")
    lines.append(
        _party(
            "SH",
            f"Shipper {serial} Trading Co., Ltd.",
            None,
            f"No. {serial % 500 + 1} Harbour Road",
            origin[:2],
        )
    )
    consignee_npwp = npwp_number(serial)
    lines.append(
        _party(
            "CN",
            f"PT Penerima Barang {serial}",
            consignee_npwp,
            f"Jl. Yos Sudarso Kav. {serial % 90 + 1}, Jakarta Utara",
            "ID",
        )
    )
    if serial % 4 == 0:  # a notify party on some bills, as in the example
        lines.append(_party("N1", f"PT Penerima Barang {serial}", consignee_npwp, None, "ID"))
    if not house and serial % 10 == 0:  # a final destination on some masters
        lines.append("N1*FS*TANJUNG PERAK~\nN4****ID*UN*IDSUB~\n")
    lines.append(
        f"VID*CN*{container[:4]}*{container[4:]}*SL{serial:08d}*****22G1*L~\n"
        f"N10*{serial % 5000 + 1}*General cargo lot {serial}**J*{hs}*{serial % 90000 + 100}"
        f"****PCE***USD~\n"
    )
    text = "".join(lines)
    return text, bl, text.count("~")


def _transaction_set(control: int, bills: int, first_serial: int, voyage: str) -> tuple[str, int]:
    """One 309 with ``bills`` LX loops: masters each followed by one house bill."""
    masters = math.ceil(bills / 2)
    heading = (
        f"ST*309*{control:04d}~\n"
        f"M10*{CARRIER_CODE}*S*ID*{imo_number(1)}*KM BENCH NUSANTARA*{voyage}**{bills}"
        "*I*L*N*PKBN~\n"
        f"N9*TJ*{CARRIER_NPWP}*{CARRIER_NAME}~\n"
        "N9*ZZ*LANGUAGE*id~\n"
        "N9*ZZ*PORT OF ORIGIN*CNSHA~\n"
        "N9*ZZ*LAST PORT OF CALL*SGSIN~\n"
        "N9*ZZ*NEXT PORT*IDSUB~\n"
        f"N9*ZZ*CREW 22*CREW-{voyage}~\n"
        f"N9*ZZ*SHIPS_STORES*STORES-{voyage}~\n"
        f"N9*ZZ*STOWAGE_PLAN*BAPLIE-{voyage}-IDTPP~\n"
        f"P4*IDTPP*20990314*{bills}**0630~\n"
    )
    parts = [heading]
    segments = heading.count("~")
    per_group = math.ceil(masters / GROUPS)
    serial = first_serial
    written = 0
    for pos in range(1, masters + 1):
        group = (pos - 1) // per_group + 1
        text, master_bl, count = _bill(serial, pos, group, None)
        parts.append(text)
        segments += count
        serial += 1
        written += 1
        if written < bills:  # one house bill (sub-pos 1) under every master
            text, _bl, count = _bill(serial, 1, group, master_bl)
            parts.append(text)
            segments += count
            serial += 1
            written += 1
    assert written == bills, (written, bills)
    segments += 1  # SE
    parts.append(f"SE*{segments}*{control:04d}~\n")
    return "".join(parts), segments


def manifest_309(bills: int, *, control: int = 900001) -> bytes:
    """An interchange with one SO group of 309 inward manifests holding ``bills`` bills."""
    sizes = set_sizes(bills)
    isa = (
        f"ISA*00*          *00*          *ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}*250301*0900*U*00401*"
        f"{control:09d}*0*T*>~\n"
    )
    parts = [isa, f"GS*SO*{SENDER}*{OFFICE}*20250301*0900*{control}*X*004010~\n"]
    serial = 1
    for index, size in enumerate(sizes, start=1):
        voyage = f"B{bills % 100000:05d}{index:02d}N"
        text, _segments = _transaction_set(index, size, serial, voyage)
        parts.append(text)
        serial += size
    parts.append(f"GE*{len(sizes)}*{control}~\nIEA*1*{control:09d}~\n")
    return "".join(parts).encode("ascii")


def jakarta(_office: str) -> ZoneInfo:
    return ZoneInfo("Asia/Jakarta")


def parse(data: bytes, zone_for_office: Callable[[str], ZoneInfo] = jakarta) -> list[object]:
    """The product's X12 parser (pyx12 validation + envelope + mapping); one item per set.

    Each item is the parsed document, or the findings of a refused set.
    """
    from parsers.x12 import X12Parser

    result = X12Parser(zone_for_office=zone_for_office).parse(data, max_bytes=10**9)
    return [d.document if d.document is not None else list(d.findings) for d in result.documents]


def count_bills(documents: list[object]) -> int:
    """Pos records (pos + sub-pos) over the parsed manifests; raises if a set was refused."""
    from gateway.model import Manifest

    total = 0
    for document in documents:
        if not isinstance(document, Manifest):
            raise ValueError(f"a transaction set was refused: {document}")
        total += sum(1 for _ in document.all_pos())
    return total
