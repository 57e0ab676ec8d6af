"""The pos storage contract on SQLite and PostgreSQL: schema = migrations, guarded updates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.app import Gateway
from gateway.model.registered_pos import PosStatus
from gateway.storage import pos as pos_store
from gateway.storage.pos import PosChanged
from gateway.storage.tables import metadata
from tests.integration.documents import example, run


def test_the_migrations_make_the_tables_the_code_declares(gateway: Gateway) -> None:
    with gateway.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        ours = {"amendments", "pos_versions", "pos_closings", "manifest_pos"}
        diff = [
            d for d in compare_metadata(context, metadata) if any(name in repr(d) for name in ours)
        ]
    assert diff == []


def test_a_decision_on_a_pos_that_changed_meanwhile_takes_no_effect(gateway: Gateway) -> None:
    [manifest] = run(gateway, example("manifest-inward.xml").encode())
    now = gateway.clock()
    with gateway.db.transaction() as conn:
        document_id = pos_store.bc11_by_nomor_aju(conn, manifest["nomor_aju"])
        assert document_id is not None
        stale = pos_store.registered_pos(conn, document_id, ["000200000000"])["000200000000"]
        assert stale.state.pos is not None
    with gateway.db.transaction() as conn:  # a closing by another worker
        pos_store.set_status(conn, [stale.id], PosStatus.PARTIALLY_CLOSED, now=now)
        conn.execute(
            pos_store.manifest_pos.update()
            .where(pos_store.manifest_pos.c.id == stale.id)
            .values(packages_closed=1)
        )
    with pytest.raises(PosChanged), gateway.db.transaction() as conn:
        pos_store.record_closing(
            conn,
            stale,
            document_id=document_id,
            closing_document=pos_store.CustomsDocumentRef(code="1", number="9", date=now.date()),
            packages=2,
            gross_weight_kg=None,
            packages_closed_after=2,
            gross_weight_kg_closed_after=stale.state.gross_weight_kg_closed,
            status=PosStatus.CLOSED,
            now=now + timedelta(minutes=1),
        )
    with gateway.db.engine.connect() as conn:
        state = pos_store.registered_pos(conn, document_id, ["000200000000"])["000200000000"]
        assert (state.state.packages_closed, state.state.status) == (1, PosStatus.PARTIALLY_CLOSED)
        assert pos_store.closings(conn, stale.id) == []


def test_weights_round_trip_to_the_gram(gateway: Gateway) -> None:
    [manifest] = run(gateway, example("manifest-inward.xml").encode())
    with gateway.db.engine.connect() as conn:
        document_id = pos_store.bc11_by_nomor_aju(conn, manifest["nomor_aju"])
        assert document_id is not None
        found = pos_store.registered_pos(conn, document_id)
    pos = found["000100010000"].state.pos
    assert pos is not None and str(pos.gross_weight_kg) == "5400.500"
    assert pos_store.kilograms(pos_store.grams(pos.gross_weight_kg)) == pos.gross_weight_kg
