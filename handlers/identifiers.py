"""Identifier checks: NPWP, IMO, ISO 6346 and country with maintained libraries; UN/LOCODE
and package type codes against their code lists (:mod:`gateway.codelists`).

These are the gateway's own rules (SPEC §2, identifiers), not articles of the regulation: a
document whose identifiers do not exist cannot be matched against anything customs holds.
One walk over the document lists every identifier with its kind and place; each rule checks
its own kind. (The HS heading is Art. 4(5)'s, in :mod:`handlers.content`.)
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterator

import pycountry
from stdnum import imo, iso6346
from stdnum.id import npwp

from gateway.codelists import package_types, unlocodes
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

ARTICLE = "gateway (SPEC §2 identifiers)"


class Kind(enum.Enum):
    NPWP = "npwp"
    IMO = "imo"
    CONTAINER = "container"
    LOCODE = "locode"
    COUNTRY = "country"
    PACKAGE = "package"


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
        for i, change in enumerate(document.changes):
            if change.field == "packages.kind_code":
                yield Kind.PACKAGE, change.new_value, f"changes[{i}]/packages.kind_code"
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
    yield Kind.PACKAGE, pos.packages.kind_code, f"{where}/packages/kind_code"
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
def known_locode(code: str) -> bool:
    """In the UN/LOCODE list: a code of the right shape but of no real place is unknown too."""
    return code in unlocodes()


@functools.lru_cache(maxsize=1024)
def known_package_type(code: str) -> bool:
    return code in package_types()


def check_locodes(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    # An office's own codes (config/offices.toml) count as known even where the list has not
    # caught up with them: the office is the authority for the places it serves.
    own: frozenset[str] | None = None
    for found, value, where in identifiers(document):
        if found is not Kind.LOCODE or known_locode(value):
            continue
        if own is None:
            own = frozenset(c for o in ctx.reference.offices.values() for c in o.unlocodes)
        if value not in own:
            yield finding(
                "ID-004",
                value=value,
                edition=unlocodes().edition,
                location=Location(path=where),
            )


def check_package_types(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    for found, value, where in identifiers(document):
        if found is Kind.PACKAGE and not known_package_type(value):
            yield finding(
                "ID-007",
                value=value,
                edition=package_types().edition,
                location=Location(path=where),
            )


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
    checks="Every port and place (origin, calls, loading, discharge, final destination) is in "
    "the UN/LOCODE code list (schemas/codes/unlocode.txt, UNECE edition in its header) or is "
    "one of a customs office's own codes (config/offices.toml unlocodes).",
    example="Port of loading IDQ9Z (well formed, but no such place): refused, with its pos.",
    codes=["ID-004"],
)(check_locodes)

check_country = rule(
    id="GW-ID-COUNTRY",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="Every country (flag, party country) is an ISO 3166 alpha-2 code.",
    example="Flag XX: refused.",
    codes=["ID-006"],
)(_checker(Kind.COUNTRY, "ID-006", known_country))

check_package_type = rule(
    id="GW-ID-PACKAGE",
    article=ARTICLE,
    severity=RuleSeverity.REFUSE,
    checks="Every pos's package type (and an amendment's new packages.kind_code) is a UN/ECE "
    "Recommendation 21 code (schemas/codes/rec21.txt, Annexes V and VI).",
    example="Packages of kind QX (no such Rec. 21 code): refused, with its pos.",
    codes=["ID-007"],
)(check_package_types)
