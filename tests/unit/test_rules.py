"""The rules are pure: documents and a context in, findings and flags out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateway.model import Flag, RegistrationKind, RegistrationRef, Rksp, Severity
from gateway.reference import ReferenceData, load_carriers, load_offices
from handlers import DEFAULT_RULES, RuleContext, evaluate
from parsers.xml import XmlParser

REPO = Path(__file__).resolve().parents[2]
REFERENCE = ReferenceData(
    offices={o.code: o for o in load_offices(REPO / "config" / "offices.toml")},
    carriers={c.code: c for c in load_carriers(REPO / "config" / "carriers.toml")},
)


class NoBc11:
    def pos_numbers(self, ref: RegistrationRef) -> frozenset[str] | None:
        return None


def context(now: datetime, *, sender: str = "DEMO", family: str = "media") -> RuleContext:
    return RuleContext(
        reference=REFERENCE, now=now, sender=sender, channel_family=family, bc11=NoBc11()
    )


def example_rksp() -> Rksp:
    data = (REPO / "docs" / "examples" / "rksp.xml").read_bytes()
    document = XmlParser().parse(data, max_bytes=10**6).documents[0].document
    assert isinstance(document, Rksp)
    return document


def codes(document: Rksp, ctx: RuleContext) -> list[str]:
    return [f.code for f in evaluate(document, ctx, DEFAULT_RULES).findings]


def test_example_passes_every_rule() -> None:
    assert codes(example_rksp(), context(datetime(2026, 5, 1, tzinfo=UTC))) == []


def test_lateness_is_measured_from_receipt_to_24_hours_before_arrival() -> None:
    rksp = dataclasses.replace(example_rksp(), eta=datetime(2026, 5, 2, 6, 0, tzinfo=UTC))
    on_time = evaluate(rksp, context(datetime(2026, 5, 1, 6, 0, tzinfo=UTC)), DEFAULT_RULES)
    assert on_time.flags == () and not on_time.refused
    late = evaluate(rksp, context(datetime(2026, 5, 1, 7, 15, tzinfo=UTC)), DEFAULT_RULES)
    assert late.flags == (
        Flag(code="LATE", lateness=timedelta(hours=1, minutes=15), detail="LATE-001"),
    )
    assert [f.severity for f in late.findings] == [Severity.WARNING] and not late.refused


def test_an_rksp_change_is_never_late_and_gets_no_new_number() -> None:
    from handlers.registration import accepted_status, registration_kind

    change = dataclasses.replace(
        example_rksp(),
        eta=datetime(2026, 5, 1, tzinfo=UTC),
        amends=RegistrationRef(
            kind=RegistrationKind.BC10,
            office_code="040300",
            number="000001",
            date=date(2026, 4, 1),
        ),
    )
    assert evaluate(change, context(datetime(2026, 5, 2, tzinfo=UTC)), DEFAULT_RULES).flags == ()
    assert registration_kind(change) is None
    assert str(accepted_status(change)) == "ACCEPTED"


def test_manual_channel_needs_no_agreement_but_electronic_ones_do() -> None:
    header = dataclasses.replace(example_rksp().header, office_code="050100")
    rksp = dataclasses.replace(example_rksp(), header=header)
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert codes(rksp, context(now, family="media")) == ["SND-002"]
    assert codes(rksp, context(now, family="pde")) == ["SND-002"]
    assert codes(rksp, context(now, family="manual")) == []


def test_agreement_validity_is_judged_on_the_office_calendar_day() -> None:
    header = dataclasses.replace(example_rksp().header, office_code="150100")  # until 2025-12-31
    rksp = dataclasses.replace(example_rksp(), header=header)
    # 2025-12-31 16:30 UTC is already 00:30 on 1 January 2026 in Makassar (WITA, UTC+8).
    assert codes(rksp, context(datetime(2025, 12, 31, 16, 30, tzinfo=UTC))) == ["SND-002"]
    assert codes(rksp, context(datetime(2025, 12, 31, 15, 30, tzinfo=UTC))) == []


def test_office_that_does_not_run_the_channel() -> None:
    header = dataclasses.replace(example_rksp().header, office_code="190100")  # no "pde"
    rksp = dataclasses.replace(example_rksp(), header=header)
    assert "OFF-002" in codes(rksp, context(datetime(2026, 5, 1, tzinfo=UTC), family="pde"))


def test_identifier_checks_use_check_digits_and_code_lists() -> None:
    base = example_rksp()
    now = datetime(2026, 5, 1, tzinfo=UTC)
    bad = dataclasses.replace(
        base,
        conveyance=dataclasses.replace(base.conveyance, imo_number="9321484", flag="XX"),
        carrier=dataclasses.replace(base.carrier, npwp="013467384041000"),
        port_of_origin="ZZABC",
    )
    assert sorted(codes(bad, context(now))) == ["ID-001", "ID-002", "ID-004", "ID-006"]
