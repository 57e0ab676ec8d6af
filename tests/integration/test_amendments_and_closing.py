"""Amendments (Art. 6) and pos closings (Art. 10) against a registered BC 1.1, on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from gateway import pos_ledger
from gateway.app import Gateway
from gateway.decision_responses import DecisionResponder
from gateway.model.registered_pos import PosStatus, RegisteredPos
from gateway.storage import pos as pos_store
from gateway.storage.tables import audit_log
from tests.bc11_documents import amendment, closing, house_bill, manifest_with_twin_pos
from tests.integration.conftest import FakeClock
from tests.integration.documents import codes, example, run

CONSIGNEE = ("consignee.name", "PT Cahya Abadi Logistik", "PT Cahaya Abadi Logistik")


def register(gateway: Gateway, data: bytes | None = None) -> tuple[str, str, str]:
    [manifest] = run(gateway, data or example("manifest-inward.xml").encode())
    assert manifest["status"] == "REGISTERED", manifest
    reg = manifest["registration"]
    return reg["number"], reg["date"], manifest["nomor_aju"]


def pos_now(gateway: Gateway, nomor_aju: str) -> dict[str, RegisteredPos]:
    with gateway.db.engine.connect() as conn:
        document_id = pos_store.bc11_by_nomor_aju(conn, nomor_aju)
        assert document_id is not None
        return {n: s.state for n, s in pos_store.registered_pos(conn, document_id).items()}


def versions(gateway: Gateway, nomor_aju: str, number: str) -> list[pos_store.PosVersion]:
    with gateway.db.engine.connect() as conn:
        document_id = pos_store.bc11_by_nomor_aju(conn, nomor_aju)
        assert document_id is not None
        stored = pos_store.registered_pos(conn, document_id, [number])[number]
        return pos_store.history(conn, stored.id)


def audit(gateway: Gateway, action: str) -> list[Any]:
    with gateway.db.engine.connect() as conn:
        return list(conn.execute(sa.select(audit_log).where(audit_log.c.action == action)))


POS_1, POS_1_1, POS_1_2, POS_2, POS_3 = (
    "000100000000",
    "000100010000",
    "000100020000",
    "000200000000",
    "000300000000",
)


# -- amendments -----------------------------------------------------------------------------------


def test_a_consignee_correction_changes_the_pos_only_once_approved(
    gateway: Gateway, clock: FakeClock
) -> None:
    number, day, bc11 = register(gateway)
    [amend] = run(gateway, amendment(number, day))
    assert amend["status"] == "PENDING_APPROVAL" and amend["errors"] == [], amend
    assert amend["flags"] == ["APPROVAL"]
    assert amend["amendment"]["status"] == "PENDING_APPROVAL"
    before = pos_now(gateway, bc11)[POS_2]
    assert before.version == 1 and before.pos is not None
    assert before.pos.consignee.name == "PT Cahya Abadi Logistik"

    clock.advance(hours=3)
    decision = pos_ledger.approve(
        gateway.db,
        amend["nomor_aju"],
        by="Kepala Kantor A",
        now=clock(),
        respond=DecisionResponder(gateway.pipeline),
    )
    assert (decision.status, decision.pos_version) == ("APPROVED", 2)
    assert "disetujui" in decision.message.message_id and "approved" in decision.message.message_en

    after = pos_now(gateway, bc11)[POS_2]
    assert after.version == 2 and after.pos is not None
    assert after.pos.consignee.name == "PT Cahaya Abadi Logistik"
    assert after.pos.consignee.npwp == "074551235041000"  # the example's second change
    history = versions(gateway, bc11, POS_2)
    assert [(v.version, v.amendment_nomor_aju) for v in history] == [
        (1, None),
        (2, amend["nomor_aju"]),
    ]
    assert history[0].pos.consignee.name == "PT Cahya Abadi Logistik"  # version 1 kept
    assert history[1].valid_from == clock()
    [approved] = audit(gateway, "amendment approved")
    assert approved.actor == "user:Kepala Kantor A" and approved.to_status == "APPROVED"

    with pytest.raises(pos_ledger.DecisionError) as again:
        pos_ledger.approve(
            gateway.db,
            amend["nomor_aju"],
            by="Kepala Kantor A",
            now=clock(),
            respond=DecisionResponder(gateway.pipeline),
        )
    assert again.value.finding.code == "AMD-103"


def test_the_head_of_office_refusing_leaves_the_pos_as_it_was(
    gateway: Gateway, clock: FakeClock
) -> None:
    number, day, bc11 = register(gateway)
    [amend] = run(gateway, amendment(number, day))
    clock.advance(minutes=30)
    decision = pos_ledger.refuse(
        gateway.db,
        amend["nomor_aju"],
        by="Kepala Kantor B",
        reason="B/L revisi tidak ada",
        now=clock(),
        respond=DecisionResponder(gateway.pipeline),
    )
    assert decision.status == "REFUSED"
    assert "B/L revisi tidak ada" in decision.message.message_en
    [status] = run_status(gateway, amend["submission_id"])
    assert status["status"] == "REFUSED"
    assert status["amendment"] == {
        "kind": "C",
        "bc11": {"number": number, "date": day},
        "pos": POS_2,
        "status": "REFUSED",
        "decided_by": "Kepala Kantor B",
        "decided_at": clock().isoformat(),
        "reason": "B/L revisi tidak ada",
    }
    assert pos_now(gateway, bc11)[POS_2].version == 1
    [refused] = audit(gateway, "amendment refused")
    assert refused.actor == "user:Kepala Kantor B"
    assert refused.detail["reason"] == "B/L revisi tidak ada"


def run_status(gateway: Gateway, submission_id: int) -> list[dict[str, Any]]:
    from gateway.storage import submissions as store

    with gateway.db.engine.connect() as conn:
        return store.report(conn, submission_id)


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        # stale: the pos says "PT Cahya Abadi Logistik"
        ("C", [("consignee.name", "PT Lain", "PT Baru")], "AMD-003"),
        # kind C covers consignee and notify, not quantities (Art. 6(1) c)
        ("C", [("packages.count", "2", "3")], "AMD-002"),
        ("B", [("packages.count", "2", "tiga")], "AMD-011"),
        ("B", [], "AMD-004"),
        ("A", [("containers.5.number", "X", "TGHU9876542")], "AMD-011"),
    ],
)
def test_amendments_that_cannot_apply_are_refused(
    gateway: Gateway, kind: str, changes: list[tuple[str, str, str]], expected: str
) -> None:
    number, day, _ = register(gateway)
    [amend] = run(gateway, amendment(number, day, kind=kind, changes=changes))
    assert amend["status"] == "REFUSED" and codes(amend) == [expected], amend
    error = amend["errors"][0]
    assert error["message_id"] and error["message_en"].endswith("]")


def test_quantity_correction_compares_numbers_as_numbers(gateway: Gateway) -> None:
    number, day, bc11 = register(gateway)
    change = [("gross_weight_kg", "42100.000", "42150.5"), ("packages.count", "2", "3")]
    [amend] = run(gateway, amendment(number, day, kind="B", changes=change))
    assert amend["status"] == "PENDING_APPROVAL", amend
    pos_ledger.approve(
        gateway.db,
        amend["nomor_aju"],
        by="kk",
        now=gateway.clock(),
        respond=DecisionResponder(gateway.pipeline),
    )
    pos = pos_now(gateway, bc11)[POS_2].pos
    assert pos is not None and (pos.packages.count, pos.gross_weight_kg) == (3, Decimal("42150.5"))


def test_a_merge_of_pos_with_different_shippers_is_refused_with_the_reason(
    gateway: Gateway,
) -> None:
    number, day, bc11 = register(gateway)
    [merge] = run(
        gateway,
        amendment(
            number, day, kind="D", pos="1", changes=[], merged=["2"], revised_bl="DPNSHA2501001R"
        ),
    )
    assert merge["status"] == "REFUSED"
    differing = {e["message_en"].split("the ")[1].split(" differs")[0] for e in merge["errors"]}
    assert differing == {"shipper", "consignee", "notify", "port_of_loading"}
    shipper = next(e for e in merge["errors"] if "shipper" in e["message_en"])
    assert (
        "Lion City Polymers" in shipper["message_en"] and "Shanghai Global" in shipper["message_id"]
    )
    assert all(p.status is PosStatus.OPEN for p in pos_now(gateway, bc11).values())


def test_a_merge_needs_the_revised_bill_of_lading(gateway: Gateway) -> None:
    number, day, _ = register(gateway, manifest_with_twin_pos())
    [merge] = run(gateway, amendment(number, day, kind="D", pos="3", changes=[], merged=["2"]))
    assert merge["status"] == "REFUSED" and codes(merge) == ["AMD-005"]


def test_an_approved_merge_puts_both_pos_under_the_revised_bill(gateway: Gateway) -> None:
    number, day, bc11 = register(gateway, manifest_with_twin_pos())
    [merge] = run(
        gateway,
        amendment(number, day, kind="D", pos="3", changes=[], merged=["2"], revised_bl="REV-001"),
    )
    assert merge["status"] == "PENDING_APPROVAL", merge
    assert pos_now(gateway, bc11)[POS_2].status is PosStatus.OPEN  # nothing before approval
    decision = pos_ledger.approve(
        gateway.db,
        merge["nomor_aju"],
        by="kk",
        now=gateway.clock(),
        respond=DecisionResponder(gateway.pipeline),
    )
    assert decision.pos_version == 2
    now = pos_now(gateway, bc11)
    merged, absorbed = now[POS_3], now[POS_2]
    assert merged.pos is not None
    assert merged.pos.transport_document.number == "REV-001"
    assert merged.pos.packages.count == 3  # 1 + 2
    assert merged.pos.gross_weight_kg == Decimal("18250.750") + Decimal("42100")
    assert {c.number for c in merged.pos.containers} == {
        "CSQU3054383",
        "TGHU9876542",
        "TCLU1234568",
    }
    assert (absorbed.status, absorbed.version) == (PosStatus.MERGED, 2)
    [closed] = run(gateway, closing(number, day, pos="2", packages=None, weight=None))
    assert codes(closed) == ["CLS-003"]  # a merged pos is settled through the pos it joined


def test_a_breakdown_creates_sub_pos_at_once(gateway: Gateway) -> None:
    number, day, bc11 = register(gateway)
    [split] = run(
        gateway,
        amendment(
            number,
            day,
            kind="E",
            pos="1",
            changes=[],
            breakdown=house_bill(3, "SKKSHA25010099"),
        ),
    )
    assert split["status"] == "ACCEPTED" and split["flags"] == [], split
    assert split["amendment"]["status"] == "ACCEPTED"
    now = pos_now(gateway, bc11)
    house = now["000100030000"]
    assert (house.status, house.version, house.group) == (PosStatus.OPEN, 1, 1)
    assert house.pos is not None and house.pos.transport_document.number == "SKKSHA25010099"
    assert now[POS_1].version == 2  # the breakdown is in the master's history
    [history] = versions(gateway, bc11, "000100030000")
    assert history.amendment_nomor_aju == split["nomor_aju"]
    [applied] = audit(gateway, "amendment applied")
    assert applied.detail["sub_pos"] == ["000100030000"]

    [again] = run(
        gateway,
        amendment(
            number, day, kind="E", pos="1", changes=[], breakdown=house_bill(1, "SKKSHA2501X")
        ),
    )
    assert again["status"] == "REFUSED" and codes(again) == ["AMD-007"]


# -- pos closing ----------------------------------------------------------------------------------


def test_partial_then_full_closing_and_over_closing(gateway: Gateway, clock: FakeClock) -> None:
    number, day, bc11 = register(gateway)
    [first] = run(gateway, closing(number, day, pos="2", document="1001", packages=1, weight=None))
    assert first["status"] == "ACCEPTED", first
    state = pos_now(gateway, bc11)[POS_2]
    assert (state.status, state.packages_remaining) == (PosStatus.PARTIALLY_CLOSED, 1)

    [over] = run(gateway, closing(number, day, pos="2", document="1002", packages=2, weight=None))
    assert over["status"] == "REFUSED" and codes(over) == ["CLS-001"]
    assert "1 packages remain" in over["errors"][0]["message_en"]
    assert "tinggal 1 kemasan" in over["errors"][0]["message_id"]
    [heavy] = run(
        gateway, closing(number, day, pos="2", document="1003", packages=None, weight="42100.001")
    )
    assert codes(heavy) == ["CLS-002"] and "42100.000 kg remain" in heavy["errors"][0]["message_en"]

    [rest] = run(gateway, closing(number, day, pos="2", document="1004", packages=1, weight=None))
    assert rest["status"] == "ACCEPTED"
    state = pos_now(gateway, bc11)[POS_2]
    assert (state.status, state.packages_remaining) == (PosStatus.CLOSED, 0)

    [closed_again] = run(
        gateway, closing(number, day, pos="2", document="1005", packages=None, weight=None)
    )
    assert codes(closed_again) == ["CLS-003"]
    [amend] = run(gateway, amendment(number, day))
    assert amend["status"] == "REFUSED" and codes(amend) == ["AMD-001"]
    with gateway.db.engine.connect() as conn:
        stored = pos_store.registered_pos(
            conn, pos_store.bc11_by_nomor_aju(conn, bc11) or 0, [POS_2]
        )[POS_2]
        settled = pos_store.closings(conn, stored.id)
    assert [(c.closing_document.number, c.packages_closed) for c in settled] == [
        ("1001", 1),
        ("1004", 1),
    ]


def test_closing_every_house_bill_closes_the_master(gateway: Gateway) -> None:
    number, day, bc11 = register(gateway)
    [one] = run(gateway, closing(number, day))  # the example: all of house bill 0001/0001
    [two] = run(
        gateway, closing(number, day, pos="1.2", document="000124", packages=None, weight=None)
    )
    assert (one["status"], two["status"]) == ("ACCEPTED", "ACCEPTED")
    now = pos_now(gateway, bc11)
    assert {n: now[n].status for n in (POS_1, POS_1_1, POS_1_2)} == dict.fromkeys(
        (POS_1, POS_1_1, POS_1_2), PosStatus.CLOSED
    )


def test_the_open_pos_report(gateway: Gateway, clock: FakeClock) -> None:
    number, day, bc11 = register(gateway)
    run(gateway, closing(number, day))  # house bill 0001/0001 fully
    run(gateway, closing(number, day, pos="2", document="9", packages=1, weight="21000"))
    clock.advance(hours=50)
    with gateway.db.engine.connect() as conn:
        lines = pos_store.open_pos(conn, "040300")
        assert pos_store.open_pos(conn, "040400") == []
    assert [(p.pos_number, p.status) for p in lines] == [
        (POS_1, PosStatus.OPEN),
        (POS_1_2, PosStatus.OPEN),
        (POS_2, PosStatus.PARTIALLY_CLOSED),
        (POS_3, PosStatus.OPEN),
    ]
    partial = lines[2]
    assert (partial.bc11_number, partial.bc11_nomor_aju) == (number, bc11)
    assert (partial.packages, partial.packages_closed) == (2, 1)
    assert (partial.gross_weight_kg, partial.gross_weight_kg_closed) == (
        Decimal("42100.000"),
        Decimal("21000.000"),
    )
    assert clock() - partial.registered_at == timedelta(hours=50)


def test_an_approval_after_the_pos_was_closed_is_not_applied(gateway: Gateway) -> None:
    number, day, bc11 = register(gateway)
    [amend] = run(gateway, amendment(number, day))
    [close] = run(gateway, closing(number, day, pos="2", packages=None, weight=None))
    assert (amend["status"], close["status"]) == ("PENDING_APPROVAL", "ACCEPTED")
    with pytest.raises(pos_ledger.DecisionError) as refused:
        pos_ledger.approve(
            gateway.db,
            amend["nomor_aju"],
            by="kk",
            now=gateway.clock(),
            respond=DecisionResponder(gateway.pipeline),
        )
    assert refused.value.finding.code == "AMD-104"
    assert "AMD" not in refused.value.finding.message_id.split(":")[0]
    assert "closed" in refused.value.finding.message_en
    assert pos_now(gateway, bc11)[POS_2].version == 1
    [status] = run_status(gateway, amend["submission_id"])
    assert status["amendment"]["status"] == "PENDING_APPROVAL"  # the head may still refuse it
