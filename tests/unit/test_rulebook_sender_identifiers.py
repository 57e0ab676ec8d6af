"""Decision tables for the office, channel, sender and identifier rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from gateway.model import Container, DocumentHeader, Party, PosGroup
from tests.unit.rulebook_records import (
    JAYAPURA,
    MAKASSAR,
    PRIOK,
    apply,
    codes,
    context,
    conveyance,
    manifest,
    pos,
    rksp,
)

NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("office", "family", "sender", "expected"),
    [
        (PRIOK, "pde", "DEMO", []),
        (PRIOK, "manual", "DEMO", []),
        ("999999", "media", "DEMO", ["OFF-001"]),
        (JAYAPURA, "pde", "DEMO", ["OFF-002", "SND-002"]),  # Jayapura runs no PDE
        (JAYAPURA, "manual", "DEMO", []),  # paper needs no agreement
        ("050100", "media", "DEMO", ["SND-002"]),  # no agreement at Soekarno-Hatta
        ("050100", "media", "GIAA", []),
        (PRIOK, "media", "NOBODY", ["SND-001"]),  # no second refusal for the agreement
    ],
)
def test_office_channel_sender_agreement(
    office: str, family: str, sender: str, expected: list[str]
) -> None:
    document = rksp(header=DocumentHeader(office_code=office))
    ctx = context(NOW, sender=sender, family=family)
    found = [
        code
        for rule_id in ("ART3-1-OFFICE", "ART3-1-CHANNEL", "GW-SENDER", "ART13-AGREEMENT")
        for code in codes(apply(rule_id, document, ctx))
    ]
    assert found == expected


@pytest.mark.parametrize(
    ("received", "in_force"),
    [
        (datetime(2025, 12, 31, 15, 59, tzinfo=UTC), True),  # 23:59 WITA on 31 December
        (datetime(2025, 12, 31, 16, 0, tzinfo=UTC), False),  # 00:00 WITA on 1 January
    ],
)
def test_agreement_judged_on_the_office_calendar_day(received: datetime, in_force: bool) -> None:
    document = rksp(header=DocumentHeader(office_code=MAKASSAR))  # DEMO's ends 2025-12-31
    items = apply("ART13-AGREEMENT", document, context(received))
    assert codes(items) == ([] if in_force else ["SND-002"])


@pytest.mark.parametrize(
    ("rule_id", "changes", "expected"),
    [
        ("GW-ID-IMO", {"conveyance": conveyance(imo_number="9321483")}, []),
        ("GW-ID-IMO", {"conveyance": conveyance(imo_number="9321484")}, ["ID-002"]),
        ("GW-ID-IMO", {"conveyance": conveyance(imo_number=None)}, []),
        ("GW-ID-COUNTRY", {"conveyance": conveyance(flag="XX")}, ["ID-006"]),
        ("GW-ID-COUNTRY", {"conveyance": conveyance(flag="SG")}, []),
        ("GW-ID-NPWP", {"carrier": Party(name="X", npwp="013467386041000")}, []),
        ("GW-ID-NPWP", {"carrier": Party(name="X", npwp="013467384041000")}, ["ID-001"]),
        ("GW-ID-LOCODE", {"port_of_origin": "CNSHA"}, []),
        ("GW-ID-LOCODE", {"port_of_origin": "ZZABC"}, ["ID-004"]),
        ("GW-ID-LOCODE", {"port_of_origin": "IDTP1"}, ["ID-004"]),  # 1 is not in A-Z, 2-9
    ],
)
def test_identifiers_of_an_rksp(
    rule_id: str, changes: dict[str, object], expected: list[str]
) -> None:
    assert codes(apply(rule_id, rksp(**changes), context(NOW))) == expected


@pytest.mark.parametrize(
    ("container", "valid"), [("MSKU1234565", True), ("MSKU1234566", False), ("MSKU123456", False)]
)
def test_container_numbers_of_a_manifest(container: str, valid: bool) -> None:
    with_container = dataclasses.replace(pos(1), containers=(Container(number=container),))
    document = manifest(groups=(PosGroup(number=1, pos=(with_container,)),))
    items = apply("GW-ID-CONTAINER", document, context(NOW))
    assert codes(items) == ([] if valid else ["ID-003"])
    if not valid:
        assert container in str(items) and "containers[0]" in str(items)
