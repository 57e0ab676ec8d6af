"""Identifier checks with maintained libraries: NPWP, IMO, ISO 6346, UN/LOCODE, HS, country."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pycountry
from stdnum import imo, iso6346
from stdnum.id import npwp

from gateway.messages import finding
from gateway.model import (
    Amendment,
    Conveyance,
    Document,
    Finding,
    Flag,
    Jksp,
    Location,
    Manifest,
    Party,
    Pos,
    PosClosing,
    Rksp,
)
from handlers.base import RuleContext

# UN/LOCODE: ISO 3166 country + 3 characters from A-Z and 2-9 (UNECE Rec. 16).
LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
HS_CODE = re.compile(r"^\d{4,10}$")


def check_identifiers(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if isinstance(document, Rksp):
        yield from _conveyance(document.conveyance)
        yield from _party(document.carrier, "carrier")
        for name in ("port_of_origin", "last_port_of_call", "port_of_arrival", "next_port"):
            yield from _locode(getattr(document, name), name)
    elif isinstance(document, Jksp):
        yield from _conveyance(document.conveyance)
        yield from _party(document.carrier, "carrier")
        yield from _locode(document.port_of_arrival, "port_of_arrival")
        for i, call in enumerate(document.calls):
            for name in ("port_of_origin", "last_port_of_call", "next_port"):
                yield from _locode(getattr(call, name), f"calls[{i}].{name}")
    elif isinstance(document, Manifest):
        yield from _manifest(document)
    elif isinstance(document, Amendment):
        yield from _party(document.requested_by, "requested_by")
        for pos in document.breakdown:
            yield from _pos(pos, "breakdown")
    elif isinstance(document, PosClosing):
        return


def _manifest(manifest: Manifest) -> Iterator[Finding]:
    yield from _conveyance(manifest.conveyance)
    yield from _party(manifest.carrier, "carrier")
    for name in ("port_of_origin", "last_port_of_call", "port_of_call", "next_port"):
        yield from _locode(getattr(manifest, name), name)
    for group in manifest.groups:
        for pos in group.pos:
            for item in pos.walk():
                yield from _pos(item, f"group {group.number}")


def _pos(pos: Pos, prefix: str) -> Iterator[Finding]:
    where = f"{prefix}/pos {pos.number}"
    yield from _party(pos.shipper, f"{where}/shipper")
    yield from _party(pos.consignee, f"{where}/consignee")
    if pos.notify is not None:
        yield from _party(pos.notify, f"{where}/notify")
    yield from _locode(pos.port_of_loading, f"{where}/port_of_loading")
    yield from _locode(pos.port_of_discharge, f"{where}/port_of_discharge")
    yield from _locode(pos.final_destination, f"{where}/final_destination")
    for i, container in enumerate(pos.containers):
        if not iso6346.is_valid(container.number):
            yield finding(
                "ID-003",
                value=container.number,
                location=Location(path=f"{where}/containers[{i}]"),
            )
    for i, goods in enumerate(pos.goods):
        if not HS_CODE.match(goods.hs_code):
            yield finding(
                "ID-005", value=goods.hs_code, location=Location(path=f"{where}/goods[{i}]")
            )


def _conveyance(conveyance: Conveyance) -> Iterator[Finding]:
    if conveyance.imo_number is not None and not imo.is_valid(conveyance.imo_number):
        yield finding(
            "ID-002", value=conveyance.imo_number, location=Location(path="conveyance/imo")
        )
    yield from _country(conveyance.flag, "conveyance/flag")


def _party(party: Party, where: str) -> Iterator[Finding]:
    if party.npwp is not None and not _valid_npwp(party.npwp):
        yield finding("ID-001", value=party.npwp, location=Location(path=f"{where}/npwp"))
    yield from _country(party.country, f"{where}/country")


def _country(code: str | None, where: str) -> Iterator[Finding]:
    if code is not None and not _known_country(code):
        yield finding("ID-006", value=code, location=Location(path=where))


def _locode(code: str | None, where: str) -> Iterator[Finding]:
    if code is not None and not _valid_locode(code):
        yield finding("ID-004", value=code, location=Location(path=where))


# Manifests repeat the same few ports and countries thousands of times.
@functools.lru_cache(maxsize=4096)
def _valid_npwp(value: str) -> bool:
    return bool(npwp.is_valid(value))


@functools.lru_cache(maxsize=4096)
def _known_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@functools.lru_cache(maxsize=4096)
def _valid_locode(code: str) -> bool:
    return bool(LOCODE.match(code)) and _known_country(code[:2])
