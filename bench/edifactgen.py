"""Synthetic UN/EDIFACT CUSCAR D.95B inward manifests for the ``edifact`` benchmark.

The file follows ``docs/formats/edifact.md`` §4 and copies the structure of
``docs/examples/manifest-inward.edi``: UNA/UNB, the header (BGM, DTM, SG1 references, NAD+CA,
the TDT group with the office and ports, GIS+I:DIR), one EQD per container, then one CNI group
per consignment with its counts, B/L, ports, group, parties and one goods item.

The CUSCAR consignment group (SG7) repeats at most 9999 times, so N consignments go into
``ceil(N / 9999)`` messages of one interchange (each message a manifest with its own BC 1.1),
split evenly: 10,000 consignments -> 2 messages x 5,000. Inside a message every master B/L is
followed by one house B/L (a sub-pos, ``CNI+n+<pos>0001 0000``), as the X12 benchmark lays out
its 10,000 bills, so the two benchmarks measure the same manifest in two syntaxes.
"""

from __future__ import annotations

import math

from bench.generate import (
    CARRIER_NAME,
    CARRIER_NPWP,
    HS_CODES,
    OFFICE,
    ORIGINS,
    container_number,
    imo_number,
)
from bench.x12gen import npwp_number

MAX_CNI_PER_MESSAGE = 9999  # SG7 repetitions in CUSCAR D.95B (schemas/edifact)
SENDER = "DEMOLINE"  # DEMO's EDIFACT sender id (config/carriers.toml senders.edifact)
RECIPIENT = "DJBCPDE"
GROUPS = 3  # kelompok pos 1..3 (inward allows 1..6)


def message_sizes(consignments: int) -> list[int]:
    """Consignments per message: as few messages as SG7 allows, split evenly."""
    if consignments < 1:
        raise ValueError("a manifest needs at least one consignment")
    count = math.ceil(consignments / MAX_CNI_PER_MESSAGE)
    base, extra = divmod(consignments, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def _consignment(
    sequence: int, serial: int, pos: int, group: int, master_bl: str | None
) -> tuple[list[str], str, list[str]]:
    """One CNI group: (segments, B/L number, containers it names). ``master_bl``: a house."""
    origin = ORIGINS[serial % len(ORIGINS)]
    house = master_bl is not None
    bl = f"HBL{serial:09d}" if house else f"DPN{serial:09d}"
    number = f"{pos:04d}0001" + "0000" if house else f"{pos:04d}"
    container = container_number(serial)
    hs = HS_CODES[serial % len(HS_CODES)]
    packages = serial % 400 + 1
    consignee = npwp_number(serial)
    segments = [
        f"CNI+{sequence}+{number}",
        f"CNT+7:{1000 + serial % 20000}.250:KGM",
        f"CNT+11:{packages}",
        f"CNT+15:{serial % 60 + 1}.500:MTQ",
        f"RFF+{'BH' if house else 'BM'}:{bl}",
        f"DTM+95:209902{serial % 28 + 1:02d}:102",
    ]
    if house:
        segments.append(f"RFF+MB:{master_bl}")
    segments += [f"LOC+9+{origin}", "LOC+11+IDTPP"]
    if not house:
        segments.append(f"GIS+{group}:KPOS")
    segments += [
        f"NAD+CZ+++Shipper {serial} Trading Co. Ltd.+No. {serial % 500 + 1} Harbour Road"
        f"++++{origin[:2]}",
        f"NAD+CN+{consignee}:NPWP++PT Penerima Barang {serial}+Jl. Yos Sudarso Kav. "
        f"{serial % 90 + 1}:Jakarta Utara++++ID",
    ]
    if serial % 4 == 0:  # a notify party on some bills, as in the example
        segments.append(f"NAD+N1+{consignee}:NPWP++PT Penerima Barang {serial}+++++ID")
    segments += [
        f"GID+1+{packages}:CT",
        f"FTX+AAA+++General cargo lot {serial}",
        f"MEA+CT+SQ+PCE:{serial % 5000 + 1}",
        f"MOA+44:{serial % 90000 + 100}.00:USD",
    ]
    if not house:
        segments.append(f"SGP+{container}+{packages}")
    segments += [f"PCI+24+PB/{serial}", f"CST++{hs}:HS"]
    return segments, bl, [] if house else [container]


def _message(reference: str, consignments: int, first_serial: int, voyage: str) -> str:
    """One CUSCAR with ``consignments`` CNI groups: masters each followed by one house."""
    masters = math.ceil(consignments / 2)
    per_group = math.ceil(masters / GROUPS)
    body: list[str] = []
    containers: list[str] = []
    serial, sequence = first_serial, 0
    for pos in range(1, masters + 1):
        group = (pos - 1) // per_group + 1
        sequence += 1
        segments, master_bl, named = _consignment(sequence, serial, pos, group, None)
        body += segments
        containers += named
        serial += 1
        if sequence < consignments:
            sequence += 1
            segments, _bl, _ = _consignment(sequence, serial, pos, group, master_bl)
            body += segments
            serial += 1
    assert sequence == consignments, (sequence, consignments)
    head = [
        f"UNH+{reference}+CUSCAR:D:95B:UN",
        f"BGM+85+MAN-{voyage}-IDTPP+9",
        "DTM+137:209903010900:203",
        f"RFF+CRL:CREW-{voyage}:22",
        f"RFF+SSL:STORES-{voyage}",
        f"RFF+SPL:BAPLIE-{voyage}-IDTPP",
        f"NAD+CA+{CARRIER_NPWP}:NPWP++{CARRIER_NAME}+Jl. Enggano No. 5:Tanjung Priok++++ID",
        f"TDT+20+{voyage}+1+++++{imo_number(1)}:146:11:KM BENCH NUSANTARA:ID",
        f"LOC+22+{OFFICE}",
        "LOC+76+CNSHA",
        "LOC+125+SGSIN",
        "LOC+60+IDTPP",
        "LOC+61+IDSUB",
        "DTM+132:209903140630:203",
        "GIS+I:DIR",
    ]
    head += [f"EQD+CN+{c}+22G1+++5" for c in containers]
    segments = [*head, *body]
    segments.append(f"UNT+{len(segments) + 1}+{reference}")
    return "'\n".join(segments) + "'\n"


def manifest_cuscar(consignments: int, *, reference: str = "BENCH0001") -> bytes:
    """One interchange of CUSCAR inward manifests holding ``consignments`` consignments."""
    sizes = message_sizes(consignments)
    parts = [
        "UNA:+.? '\n",
        f"UNB+UNOC:3+{SENDER}:ZZZ+{RECIPIENT}:ZZZ+990301:0900+{reference}'\n",
    ]
    serial = 1
    for index, size in enumerate(sizes, start=1):
        voyage = f"E{consignments % 100000:05d}{index:02d}N"
        parts.append(_message(f"M{index:04d}", size, serial, voyage))
        serial += size
    parts.append(f"UNZ+{len(sizes)}+{reference}'\n")
    return "".join(parts).encode("latin-1")
