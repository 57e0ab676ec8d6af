"""Identifier checks with maintained libraries: NPWP, IMO, ISO 6346, UN/LOCODE, country.

These are the gateway's own rules (SPEC §2, identifiers), not articles of the regulation: a
document whose identifiers do not exist cannot be matched against anything customs holds.
One walk over the document lists every identifier with its kind and place; each rule checks
its own kind. (The HS heading is Art. 4(5)'s, in :mod:`handlers.content`.)
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterator

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
    Rksp,
)
from handlers.base import RuleContext
from handlers.rulebook import RuleSeverity, rule

# UN/LOCODE: ISO 3166 country + 3 characters from A-Z and 2-9 (UNECE Rec. 16).
LOCODE = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
ARTICLE = "gateway (SPEC §2 identifiers)"


class Kind(enum.Enum):
    NPWP = "npwp"
    IMO = "imo"
    CONTAINER = "container"
    LOCODE = "locode"
    COUNTRY = "country"


def identifiers(document: Document) -> Iterator[tuple[Kind, str, str]]:
    """Every identifier the document carries: (kind, value, place in the document)."""
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
        yield from _conveyance(document.conveyance)
        yield from _party(document.carrier, "carrier")
        for name in ("port_of_origin", "last_port_of_call", "port_of_call", "next_port"):
            yield from _locode(getattr(document, name), name)
        for group in document.groups:
            for pos in group.pos:
                for item in pos.walk():
                    yield from _pos(item, f"group {group.number}")
    elif isinstance(document, Amendment):
        yield from _party(document.requested_by, "requested_by")
        for pos in document.breakdown:
            yield from _pos(pos, "breakdown")
    # A pos closing carries no identifier of these kinds.


def _pos(pos: Pos, prefix: str) -> Iterator[tuple[Kind, str, str]]:
    where = f"{prefix}/pos {pos.number}"
    yield from _party(pos.shipper, f"{where}/shipper")
    yield from _party(pos.consignee, f"{where}/consignee")
    if pos.notify is not None:
        yield from _party(pos.notify, f"{where}/notify")
    yield from _locode(pos.port_of_loading, f"{where}/port_of_loading")
    yield from _locode(pos.port_of_discharge, f"{where}/port_of_discharge")
    yield from _locode(pos.final_destination, f"{where}/final_destination")
    for i, container in enumerate(pos.containers):
        yield Kind.CONTAINER, container.number, f"{where}/containers[{i}]"


def _conveyance(conveyance: Conveyance) -> Iterator[tuple[Kind, str, str]]:
    if conveyance.imo_number is not None:
        yield Kind.IMO, conveyance.imo_number, "conveyance/imo"
    if conveyance.flag is not None:
        yield Kind.COUNTRY, conveyance.flag, "conveyance/flag"


def _party(party: Party, where: str) -> Iterator[tuple[Kind, str, str]]:
    if party.npwp is not None:
        yield Kind.NPWP, party.npwp, f"{where}/npwp"
    if party.country is not None:
        yield Kind.COUNTRY, party.country, f"{where}/country"


def _locode(code: str | None, where: str) -> Iterator[tuple[Kind, str, str]]:
    if code is not None:
        yield Kind.LOCODE, code, where


def _checker(
    kind: Kind, code: str, valid: Callable[[str], bool]
) -> Callable[[Document, RuleContext], Iterator[Finding | Flag]]:
    def check(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
        for found, value, where in identifiers(document):
            if found is kind and not valid(value):
                yield finding(code, value=value, location=Location(path=where))

    check.__name__ = f"check_{kind.value}"
    return check


# Manifests repeat the same few ports and countries thousands of times.
@functools.lru_cache(maxsize=4096)
def valid_npwp(value: str) -> bool:
    return bool(npwp.is_valid(value))


@functools.lru_cache(maxsize=4096)
def known_country(code: str) -> bool:
    return pycountry.countries.get(alpha_2=code) is not None


@functools.lru_cache(maxsize=4096)
def valid_locode(code: str) -> bool:
    return bool(LOCODE.match(code)) and known_country(code[:2])


def valid_imo(value: str) -> bool:
    return bool(imo.is_valid(value))


def valid_container(value: str) -> bool:
    return bool(iso6346.is_valid(value))


check_npwp = rule(
    id="GW-ID-NPWP",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="Every NPWP (carrier, shipper, consignee, notify party) has a valid check digit.",
    example="Carrier NPWP 013467384041000 (wrong check digit): refused.",
    codes=["ID-001"],
)(_checker(Kind.NPWP, "ID-001", valid_npwp))

check_imo = rule(
    id="GW-ID-IMO",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="The conveyance's IMO number, when given, has 7 digits with a valid check digit.",
    example="IMO 9321484 (check digit should be 3): refused.",
    codes=["ID-002"],
)(_checker(Kind.IMO, "ID-002", valid_imo))

check_container = rule(
    id="GW-ID-CONTAINER",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="Every container number is an ISO 6346 number with a valid check digit.",
    example="Container MSKU1234566 (check digit should be 5): refused.",
    codes=["ID-003"],
)(_checker(Kind.CONTAINER, "ID-003", valid_container))

check_locode = rule(
    id="GW-ID-LOCODE",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="Every port is a UN/LOCODE: an ISO 3166 country and 3 characters from A-Z, 2-9.",
    example="Port of origin ZZABC (no country ZZ): refused.",
    codes=["ID-004"],
)(_checker(Kind.LOCODE, "ID-004", valid_locode))

check_country = rule(
    id="GW-ID-COUNTRY",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="Every country (flag, party country) is an ISO 3166 alpha-2 code.",
    example="Flag XX: refused.",
    codes=["ID-006"],
)(_checker(Kind.COUNTRY, "ID-006", known_country))
