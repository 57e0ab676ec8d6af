"""Reference data: customs offices and carriers with their PDE agreements.

Loaded from ``config/offices.toml`` and ``config/carriers.toml`` into a new database; the
database is the source of truth afterwards (``pde-gateway partners add``). Rules receive a
:class:`ReferenceData` snapshot, never a session.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stdnum.id import npwp as npwp_number

from gateway.exceptions import ConfigurationError
from gateway.model.common import RECORD


@dataclass(**RECORD)
class Office:
    code: str
    name: str
    timezone: str
    unlocodes: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("pde", "media", "manual")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(**RECORD)
class Agreement:
    office_code: str
    valid_from: date
    valid_until: date | None = None
    reference: str | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)


@dataclass(**RECORD)
class Agency:
    """The carrier is recorded as agent of a principal: it may file in that party's name.

    A shipping agent (*agen pelayaran*) files for the foreign line whose vessel it handles;
    the principal is named by its NPWP, the identifier documents carry for their carrier.
    """

    principal_npwp: str
    principal_name: str
    valid_from: date
    valid_until: date | None = None
    reference: str | None = None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_until is None or on <= self.valid_until)


@dataclass(**RECORD)
class Carrier:
    code: str
    name: str
    npwp: str
    aju_code: str
    senders: tuple[tuple[str, str], ...] = ()  # (format, identifier)
    agreements: tuple[Agreement, ...] = ()
    active: bool = True
    agencies: tuple[Agency, ...] = ()

    def agreement_for(self, office_code: str, on: date) -> Agreement | None:
        for agreement in self.agreements:
            if agreement.office_code == office_code and agreement.in_force(on):
                return agreement
        return None

    def files_for(self, npwp: str, on: date) -> bool:
        """Whether this carrier may file in the name of the party with ``npwp`` on ``on``:
        it is that party, or its agency for it is in force that day."""
        wanted = compact_npwp(npwp)
        if wanted == self.npwp:
            return True
        return any(a.principal_npwp == wanted and a.in_force(on) for a in self.agencies)


@dataclass(**RECORD)
class ReferenceData:
    offices: dict[str, Office] = field(default_factory=dict)
    carriers: dict[str, Carrier] = field(default_factory=dict)

    def default_office_for(self, carrier_code: str) -> Office | None:
        """The office a carrier's unreadable files are numbered under (its first agreement)."""
        carrier = self.carriers.get(carrier_code)
        if carrier and carrier.agreements:
            return self.offices.get(carrier.agreements[0].office_code)
        return None


def compact_npwp(value: str) -> str:
    """An NPWP as digits only (documents write it with or without dots and dashes)."""
    return str(npwp_number.compact(value))


def default_aju_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())[:6].ljust(6, "0")


def load_offices(path: Path) -> list[Office]:
    offices = []
    for item in _read_table(path, "office"):
        try:
            office = Office(
                code=str(item["code"]),
                name=str(item["name"]),
                timezone=str(item["timezone"]),
                unlocodes=tuple(item.get("unlocodes", ())),
                channels=tuple(item.get("channels", ("pde", "media", "manual"))),
            )
            office.zone  # noqa: B018 - fail now on an unknown time zone, not at midnight
        except (KeyError, ZoneInfoNotFoundError) as exc:
            raise ConfigurationError(f"{path}: bad office entry {item!r}: {exc}") from exc
        if not (len(office.code) == 6 and office.code.isdigit()):
            raise ConfigurationError(f"{path}: office code {office.code!r} must be 6 digits")
        offices.append(office)
    return offices


def load_carriers(path: Path) -> list[Carrier]:
    carriers = []
    for item in _read_table(path, "carrier"):
        try:
            carrier = carrier_from_mapping(item)
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(f"{path}: bad carrier entry {item!r}: {exc}") from exc
        carriers.append(carrier)
    return carriers


def carrier_from_mapping(item: dict[str, Any]) -> Carrier:
    """Build a carrier from a TOML/CLI mapping, checking its NPWP."""
    code = str(item["code"]).upper()
    npwp = npwp_number.compact(str(item["npwp"]))
    if not npwp_number.is_valid(npwp):
        raise ValueError(f"NPWP {item['npwp']!r} of carrier {code} is not valid")
    return Carrier(
        code=code,
        name=str(item["name"]),
        npwp=npwp,
        aju_code=str(item.get("aju_code") or default_aju_code(code)),
        senders=tuple(sorted((str(k), str(v)) for k, v in dict(item.get("senders", {})).items())),
        agreements=tuple(
            Agreement(
                office_code=str(a["office"]),
                valid_from=_as_date(a["valid_from"]),
                valid_until=_as_date(a["valid_until"]) if a.get("valid_until") else None,
                reference=a.get("reference"),
            )
            for a in item.get("agreements", ())
        ),
        agencies=tuple(agency_from_mapping(a) for a in item.get("agencies", ())),
    )


def agency_from_mapping(item: dict[str, Any]) -> Agency:
    """An agency relation from TOML/CLI/console fields, checking the principal's NPWP."""
    npwp = compact_npwp(str(item["npwp"]))
    if not npwp_number.is_valid(npwp):
        raise ValueError(f"NPWP {item['npwp']!r} of the principal is not valid")
    name = str(item["name"]).strip()
    if not name:
        raise ValueError("the principal's name is required")
    return Agency(
        principal_npwp=npwp,
        principal_name=name,
        valid_from=_as_date(item["valid_from"]),
        valid_until=_as_date(item["valid_until"]) if item.get("valid_until") else None,
        reference=item.get("reference") or None,
    )


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _read_table(path: Path, key: str) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read reference data {path}: {exc}") from exc
    items = data.get(key, [])
    if not isinstance(items, list):
        raise ConfigurationError(f"{path}: [[{key}]] must be an array of tables")
    return items
