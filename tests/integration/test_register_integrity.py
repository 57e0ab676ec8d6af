"""The register's integrity (issue 13, points 1-3) through the real pipeline, SQLite and
PostgreSQL: one BC 1.0 per call, one BC 1.1 per call and direction, duplicates by content.

Every test sends files the gateway took before this change: a second RKSP of a registered
call (another ETD, another format, another carrier) got BC 1.0 000002; a second inward
manifest of an arrival got a second BC 1.1; the same document with CRLF line ends or
re-indented got new numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from lxml import etree

from gateway.app import Gateway
from gateway.reference import Agency
from gateway.storage import reference_store
from gateway.storage.database import MIGRATIONS
from gateway.storage.tables import call_keys, documents, registrations
from tests.integration.documents import EXAMPLES, codes, example, rksp, run, with_header

SAMU_NPWP = "021876545041000"
DEMO_NPWP = "013467386041000"


def renumber_x12(text: str, n: int) -> str:
    """Another interchange and group control number (X12 refuses a reused one, DUP-003)."""
    text = re.sub(r"(\*U\*00401\*)\d{9}", rf"\g<1>{n:09d}", text)
    text = re.sub(r"(IEA\*\d+\*)\d{9}", rf"\g<1>{n:09d}", text)
    text = re.sub(r"^(GS(?:\*[^*~]*){5}\*)\d+", rf"\g<1>{n}", text, flags=re.MULTILINE)
    return re.sub(r"(GE\*\d+\*)\d+", rf"\g<1>{n}", text)


def renumber_edifact(text: str, reference: str) -> str:
    """Another interchange reference (UNB 0020 and UNZ 0020)."""
    found = re.search(r"UNB\+(?:[^+']*\+){4}([^+']*)", text)
    assert found is not None
    return text.replace(f"+{found.group(1)}", f"+{reference}")


def other_etd(name: str, n: int) -> bytes:
    """The example RKSP of ``name``'s format, same call, another ETD and envelope."""
    text = (EXAMPLES / name).read_text(encoding="latin-1")
    if name.endswith(".xml"):
        text = text.replace("<Etd>2099-03-16T22:00:00+07:00<", "<Etd>2099-03-17T05:00:00+07:00<")
    elif name.endswith(".x12"):
        text = renumber_x12(text.replace("DTM*369*20990316*2200", "DTM*369*20990317*0500"), n)
    else:
        text = renumber_edifact(text.replace("DTM+133:209903162200", "DTM+133:209903170500"), n)
    assert text != (EXAMPLES / name).read_text(encoding="latin-1")
    return text.encode("latin-1")


def bc_numbers(gateway: Gateway, kind: str) -> list[str]:
    with gateway.db.engine.connect() as conn:
        return sorted(
            conn.execute(
                sa.select(registrations.c.number).where(registrations.c.kind == kind)
            ).scalars()
        )


def refusal(result: dict[str, Any], code: str) -> dict[str, Any]:
    assert result["status"] == "REFUSED" and result["registration"] is None, result
    [found] = [e for e in result["errors"] if e["code"] == code]
    assert found["severity"] == "ERROR"
    return found


# -- point 1: one BC 1.0 per call ----------------------------------------------------------


@pytest.mark.parametrize("first", ["rksp.xml", "rksp.x12", "rksp.edi"])
def test_a_second_rksp_of_a_call_is_refused_in_every_format(gateway: Gateway, first: str) -> None:
    [registered] = run(gateway, (EXAMPLES / first).read_bytes(), name=first)
    assert registered["status"] == "REGISTERED", registered
    ref = registered["registration"]
    for n, name in enumerate(("rksp.xml", "rksp.x12", "rksp.edi"), start=700):
        [again] = run(gateway, other_etd(name, n), name=name)
        assert codes(again) == ["CALL-001"], (name, again["errors"])
        error = refusal(again, "CALL-001")
        assert f"BC 1.0 number {ref['number']} of {ref['date']} (RKSP)" in error["message_en"]
        assert "send a change" in error["message_en"] and "Art. 2(3)" in error["message_en"]
        assert f"BC 1.0 nomor {ref['number']} tanggal {ref['date']}" in error["message_id"]
        assert "Pasal 2 ayat 3" in error["message_id"]
        assert "[ART2-5-ONE-BC10]" in error["message_en"]
    assert bc_numbers(gateway, "BC 1.0") == ["000001"]
    # A change of that BC 1.0 (it names it) is no second RKSP.
    change = other_etd("rksp.xml", 0).replace(
        b"</Header>",
        f"</Header>\n  <Amends><OfficeCode>{ref['office']}</OfficeCode><Number>"
        f"{ref['number']}</Number><Date>{ref['date']}</Date></Amends>".encode(),
        1,
    )
    [changed] = run(gateway, change, name="change.xml")
    assert changed["status"] == "ACCEPTED", changed["errors"]
    assert bc_numbers(gateway, "BC 1.0") == ["000001"]


def test_a_call_is_office_conveyance_voyage_and_arrival_day(gateway: Gateway) -> None:
    [first] = run(gateway, rksp())
    assert first["registration"]["number"] == "000001"
    # The same arrival day, later that day: the same call.
    [later] = run(gateway, rksp(Eta="2099-03-14T21:00:00+07:00"))
    assert codes(later) == ["CALL-001"]
    # Identifiers, voyage and case spelled otherwise: the same call.
    [spelled] = run(gateway, rksp(voyage=" 025 n ", ImoNumber="9321483", Name="km demo nusantara"))
    assert codes(spelled) == ["CALL-001"]
    # The next day, another voyage, another ship (IMO), another office: other calls.
    others = [
        rksp(Eta="2099-03-15T06:00:00+07:00", Etd="2099-03-17T22:00:00+07:00"),
        rksp(voyage="026N"),
        rksp(ImoNumber="9074729"),
        rksp(OfficeCode="070100", PortOfArrival="IDSUB", NextPort="IDBPN"),
    ]
    numbers = []
    for data in others:
        [other] = run(gateway, data)
        assert other["status"] == "REGISTERED", other["errors"]
        numbers.append(other["registration"]["number"])
    assert numbers == ["000002", "000003", "000004", "000001"]  # 070100 counts on its own


def test_without_an_imo_number_the_call_sign_identifies_the_ship(gateway: Gateway) -> None:
    def no_imo(call_sign: str, **replace: str) -> bytes:
        data = rksp(voyage="031N", CallSign=call_sign, **replace)
        return data.replace(b"<ImoNumber>9321483</ImoNumber>", b"")

    [first] = run(gateway, no_imo("PKDN"))
    assert first["status"] == "REGISTERED", first["errors"]
    [again] = run(gateway, no_imo("pk-dn", Name="KM DEMO NUSANTARA (EX KM DEMO)"))
    assert codes(again) == ["CALL-001"]
    [other] = run(gateway, no_imo("PKXY"))
    assert other["status"] == "REGISTERED", other["errors"]


def test_a_registered_jksp_holds_each_of_its_calls(gateway: Gateway) -> None:
    [schedule] = run(gateway, example("jksp.xml").encode(), name="jksp.xml")
    assert schedule["status"] == "REGISTERED"
    ref = schedule["registration"]
    # An RKSP of its second call (voyage 003N, 21 January 2099), another hour that day.
    call = rksp(
        voyage="003N",
        Eta="2099-01-21T13:00:00+07:00",
        Etd="2099-01-22T20:00:00+07:00",
        PortOfOrigin="SGSIN",
    )
    [covered] = run(gateway, call)
    error = refusal(covered, "CALL-001")
    assert f"BC 1.0 number {ref['number']} of {ref['date']} (JKSP)" in error["message_en"]
    assert "voyage 003N on 2099-01-21" in error["message_en"]
    # A second JKSP sharing one call; X12 and EDIFACT spell the same schedule.
    overlapping = example("jksp.xml").replace("<VoyageNumber>001N<", "<VoyageNumber>101N<")
    for name, data in (
        ("again.xml", overlapping.encode()),
        ("jksp.x12", renumber_x12(example("jksp.x12"), 901).encode()),
        ("jksp.edi", renumber_edifact(example("jksp.edi"), "J0000901").encode()),
    ):
        [second] = run(gateway, data, name=name)
        assert codes(second)[0] == "CALL-001", (name, second["errors"])
    # The voyage number used again in another year is another call.
    [next_year] = run(gateway, call.replace(b"2099-01-2", b"2100-01-2"))
    assert next_year["status"] == "REGISTERED", next_year["errors"]
    assert bc_numbers(gateway, "BC 1.0") == ["000001", "000002"]


def test_the_call_is_held_whoever_sends_it(gateway: Gateway) -> None:
    [demo] = run(gateway, rksp())
    assert demo["status"] == "REGISTERED"
    # Another carrier, in its own name, for the same ship, voyage and day.
    samu = (
        rksp(Eta="2099-03-14T10:00:00+07:00")
        .replace(DEMO_NPWP.encode(), SAMU_NPWP.encode())
        .replace(b"PT Demo Pelayaran Nusantara", b"PT Samudera Indonesia Tbk")
    )
    [theirs] = run(gateway, samu, partner="SAMU")
    assert codes(theirs) == ["CALL-001"], theirs["errors"]
    # An agent filing for its principal: the principal's call has its number already.
    with gateway.db.transaction() as conn:
        reference_store.add_agency(
            conn,
            "SAMU",
            Agency(
                principal_npwp=DEMO_NPWP,
                principal_name="PT Demo Pelayaran Nusantara",
                valid_from=date(2026, 1, 1),
            ),
            now=gateway.clock(),
            actor="t",
        )
    gateway.pipeline._reference = None  # read the new agency at once
    [agent] = run(gateway, rksp(Etd="2099-03-18T22:00:00+07:00"), partner="SAMU")
    assert codes(agent) == ["CALL-001"], agent["errors"]
    assert bc_numbers(gateway, "BC 1.0") == ["000001"]


def test_a_refused_document_does_not_hold_the_call(gateway: Gateway) -> None:
    bad_npwp = rksp(Npwp="013467384041000")  # wrong check digit: refused (ID-001)
    [refused] = run(gateway, bad_npwp)
    assert refused["status"] == "REFUSED" and "ID-001" in codes(refused)
    [registered] = run(gateway, rksp())
    assert registered["status"] == "REGISTERED", registered["errors"]
    with gateway.db.engine.connect() as conn:
        held = conn.execute(sa.select(call_keys.c.key)).scalars().all()
    assert held == ["BC10|040300|IMO:9321483|025N|2099-03-14"]


# -- point 2: one BC 1.1 per call and direction --------------------------------------------


def renumbered(name: str, n: int) -> bytes:
    text = (EXAMPLES / name).read_text(encoding="latin-1")
    if name.endswith(".x12"):
        text = renumber_x12(text, n)
    elif name.endswith(".edi"):
        text = renumber_edifact(text, f"M{n:07d}")
    return text.encode("latin-1")


@pytest.mark.parametrize("first", ["xml", "x12", "edi"])
def test_one_bc11_per_arrival_and_per_departure_in_every_format(
    gateway: Gateway, first: str
) -> None:
    [inward] = run(gateway, renumbered(f"manifest-inward.{first}", 1), name=f"in.{first}")
    assert inward["status"] == "REGISTERED", inward["errors"]
    ref = inward["registration"]
    # A second inward manifest of that arrival, in every format, with a pos changed.
    changed = {
        "xml": lambda d: d.replace(b"PT Cahya Abadi Logistik", b"PT Cahaya Abadi Logistik"),
        "x12": lambda d: d.replace(b"PT Cahya Abadi Logistik", b"PT Cahaya Abadi Logistik"),
        "edi": lambda d: d.replace(b"PT Cahya Abadi Logistik", b"PT Cahaya Abadi Logistik"),
    }
    for n, fmt in enumerate(("xml", "x12", "edi"), start=10):
        data = changed[fmt](renumbered(f"manifest-inward.{fmt}", n))
        [second] = run(gateway, data, name=f"second.{fmt}")
        error = refusal(second, "CALL-002")
        assert [c for c in codes(second) if c != "MAN-010"] == ["CALL-002"], second["errors"]
        assert f"inward BC 1.1 number {ref['number']} of {ref['date']}" in error["message_en"]
        assert "arrival of KM DEMO NUSANTARA voyage 025N on 2099-03-14" in error["message_en"]
        assert "amendments" in error["message_en"] and "Art. 6" in error["message_en"]
        assert "Pasal 6" in error["message_id"] and "[ART4-12-ONE-BC11]" in error["message_id"]
    # A nil manifest of that arrival is an inward manifest too.
    nil = (
        example("manifest-nil.xml")
        .replace("<VoyageNumber>027N<", "<VoyageNumber>025N<")
        .replace("2099-04-02T07:15:00+07:00", "2099-03-14T06:30:00+07:00")
    )
    [nil_again] = run(gateway, nil.encode(), name="nil.xml")
    assert "CALL-002" in codes(nil_again)
    # The departure is the other direction: its own BC 1.1, once.
    [outward] = run(gateway, renumbered(f"manifest-outward.{first}", 30), name=f"out.{first}")
    assert outward["status"] == "REGISTERED", outward["errors"]
    for n, fmt in enumerate(("xml", "x12", "edi"), start=40):
        data = renumbered(f"manifest-outward.{fmt}", n).replace(b"Hamburg", b"Bremen")
        [second_out] = run(gateway, data, name=f"out2.{fmt}")
        error = refusal(second_out, "CALL-002")
        assert "departure of KM DEMO NUSANTARA voyage 025S on 2099-03-16" in error["message_en"]
        assert f"outward BC 1.1 number {outward['registration']['number']}" in error["message_en"]
    assert bc_numbers(gateway, "BC 1.1") == ["000001", "000002"]


def test_a_nil_manifest_first_holds_the_arrival(gateway: Gateway) -> None:
    [nil] = run(gateway, example("manifest-nil.xml").encode(), name="nil.xml")
    assert nil["status"] == "REGISTERED", nil["errors"]
    goods = (
        example("manifest-inward.xml")
        .replace("<VoyageNumber>025N<", "<VoyageNumber>027N<")
        .replace("2099-03-14T06:30:00+07:00", "2099-04-02T07:15:00+07:00")
    )
    [second] = run(gateway, goods.encode(), name="in.xml")
    error = refusal(second, "CALL-002")
    assert f"inward BC 1.1 number {nil['registration']['number']}" in error["message_en"]


# -- point 3: duplicates by content --------------------------------------------------------


def reindent(data: bytes) -> bytes:
    root = etree.fromstring(data)
    etree.indent(root, space="\t")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


SPELLINGS: dict[str, Callable[[bytes], bytes]] = {
    "extra newline": lambda d: d + b"\n",
    "CRLF": lambda d: d.replace(b"\n", b"\r\n"),
    "re-indented": reindent,
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_an_amendment_spelled_otherwise_is_the_same_document(
    gateway: Gateway, spelling: str
) -> None:
    [bc11] = run(gateway, example("manifest-inward.xml").encode(), name="in.xml")
    ref = bc11["registration"]
    amendment = (
        example("amendment.xml")
        .replace("<Number>000001</Number>", f"<Number>{ref['number']}</Number>")
        .replace("<Date>2025-01-15</Date>", f"<Date>{ref['date']}</Date>")
        .encode()
    )
    [first] = run(gateway, amendment, name="amd.xml")
    assert first["status"] == "PENDING_APPROVAL", first["errors"]
    other = SPELLINGS[spelling](amendment)
    assert other != amendment
    [again] = run(gateway, other, name="amd-again.xml")
    assert codes(again) == ["DUP-001"], again["errors"]
    assert first["nomor_aju"] in refusal(again, "DUP-001")["message_en"]
    # In X12, with its own control numbers and CRLF segment ends: the same amendment.
    x12 = (
        renumber_x12(example("amendment.x12"), 500)
        .replace("000001*20250115", f"{ref['number']}*{ref['date'].replace('-', '')}")
        .replace("~\n", "~\r\n")
    )
    [x12_first] = run(gateway, x12.encode(), name="amd.x12")
    [x12_again] = run(
        gateway, renumber_x12(x12, 501).replace("~\r\n", "~").encode(), name="amd2.x12"
    )
    # (The X12 example says a little less than the XML one: a document of its own.)
    assert x12_first["status"] == "PENDING_APPROVAL", x12_first["errors"]
    assert codes(x12_again) == ["DUP-001"], x12_again["errors"]
    assert x12_first["nomor_aju"] in refusal(x12_again, "DUP-001")["message_en"]


def test_the_same_document_under_another_nomor_aju_is_a_duplicate(gateway: Gateway) -> None:
    """Carriers' systems often number a file anew when they send it again."""
    [bc11] = run(gateway, example("manifest-inward.xml").encode(), name="in.xml")
    ref = bc11["registration"]
    amendment = (
        example("amendment.xml")
        .replace("<Number>000001</Number>", f"<Number>{ref['number']}</Number>")
        .replace("<Date>2025-01-15</Date>", f"<Date>{ref['date']}</Date>")
    )
    sent = [
        with_header(amendment, nomor_aju=f"040314DEMO0120260310{seq}").encode()
        for seq in ("000555", "000777")
    ]
    [first] = run(gateway, sent[0], name="amd.xml")
    assert first["status"] == "PENDING_APPROVAL" and first["nomor_aju"].endswith("000555")
    [again] = run(gateway, sent[1], name="amd-again.xml")
    assert codes(again) == ["DUP-001"], again["errors"]
    assert first["nomor_aju"] in refusal(again, "DUP-001")["message_en"]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_an_rksp_spelled_otherwise_names_its_bc10_and_its_first_submission(
    gateway: Gateway, spelling: str
) -> None:
    data = example("rksp.xml").encode()
    [first] = run(gateway, data)
    [again] = run(gateway, SPELLINGS[spelling](data))
    assert codes(again) == ["CALL-001", "DUP-001"]
    assert "BC 1.0 number 000001" in again["errors"][0]["message_en"]
    assert first["nomor_aju"] in again["errors"][1]["message_en"]
    assert bc_numbers(gateway, "BC 1.0") == ["000001"]


def test_edi_files_with_other_envelopes_are_the_same_documents(gateway: Gateway) -> None:
    for name, voyage, renumber in (
        ("rksp.x12", "025N", lambda t: renumber_x12(t, 333).replace("~\n", "~")),
        ("rksp.edi", "026N", lambda t: renumber_edifact(t, "R0000333").replace("'\n", "'")),
    ):
        text = example(name).replace("025N", voyage)
        [first] = run(gateway, text.encode("latin-1"), name=name)
        assert first["status"] == "REGISTERED", first["errors"]
        [again] = run(gateway, renumber(text).encode("latin-1"), name=name)
        assert codes(again) == ["CALL-001", "DUP-001"], (name, again["errors"])
        assert first["nomor_aju"] in refusal(again, "DUP-001")["message_en"]
    assert bc_numbers(gateway, "BC 1.0") == ["000001", "000002"]


# -- existing data -------------------------------------------------------------------------


def migrate(gateway: Gateway, revision: str, *, down: bool = False) -> None:
    from alembic import command
    from alembic.config import Config

    with gateway.db.engine.connect() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)
        conn.commit()


def test_the_migration_keys_the_registrations_a_database_already_holds(gateway: Gateway) -> None:
    for name in ("rksp.xml", "jksp.xml", "manifest-inward.xml", "manifest-outward.xml"):
        [result] = run(gateway, example(name).encode(), name=name)
        assert result["status"] == "REGISTERED", (name, result["errors"])
    [nil] = run(gateway, example("manifest-nil.xml").encode(), name="nil.xml")
    assert nil["status"] == "REGISTERED"
    with gateway.db.engine.connect() as conn:
        keyed = set(conn.execute(sa.select(call_keys.c.key, call_keys.c.document_id)).all())
    assert len(keyed) == 7  # RKSP, 3 JKSP calls, inward, outward, nil

    migrate(gateway, "0007", down=True)
    # Registered twice before this revision: the same call with another BC 1.0 number, as
    # the gateway did then (a copy of the RKSP's rows under a new nomor aju and number).
    with gateway.db.transaction() as conn:
        original = conn.execute(
            sa.select(documents).where(documents.c.document_type == "RKSP")
        ).one()
        copy = {k: v for k, v in original._mapping.items() if k != "id"}
        copy.update(nomor_aju=original.nomor_aju[:-6] + "000099", doc_index=1)
        twin = conn.execute(sa.insert(documents).returning(documents.c.id), copy).scalar_one()
        reg = conn.execute(
            sa.select(registrations).where(registrations.c.document_id == original.id)
        ).one()
        conn.execute(
            sa.insert(registrations),
            {
                **{k: v for k, v in reg._mapping.items() if k != "id"},
                "document_id": twin,
                "number": "000099",
            },
        )
    migrate(gateway, "head")

    with gateway.db.engine.connect() as conn:
        backfilled = set(conn.execute(sa.select(call_keys.c.key, call_keys.c.document_id)).all())
    assert backfilled == keyed  # the earlier registration keeps the call; the twin holds none
    [again] = run(gateway, rksp(Etd="2099-03-18T22:00:00+07:00"))
    assert codes(again) == ["CALL-001"]
    [inward_again] = run(
        gateway, example("manifest-inward.xml").replace("Cahya", "Cahaya").encode(), name="i.xml"
    )
    assert "CALL-002" in codes(inward_again)


def test_supplied_and_generated_nomor_aju_share_one_namespace(gateway: Gateway) -> None:
    """A carrier may supply its own nomor aju; the gateway's sequence for the same sender code
    and day never hands out one in use, and a supplied one the gateway gave out already is a
    duplicate (DUP-002), not a crash."""

    def rksp_of(voyage: str, aju: str | None = None) -> bytes:
        text = example("rksp.xml").replace("<VoyageNumber>025N<", f"<VoyageNumber>{voyage}<")
        return with_header(text, nomor_aju=aju).encode() if aju else text.encode()

    [first] = run(gateway, rksp_of("101N"))
    generated = first["nomor_aju"]
    assert first["status"] == "REGISTERED" and generated.endswith("000001")
    [again] = run(gateway, rksp_of("102N", generated))
    assert again["status"] == "REFUSED"
    assert [e["code"] for e in again["errors"] if e["severity"] == "ERROR"] == ["DUP-002"]
    next_one = generated[:-6] + "000003"  # the one after the refusal's own number
    [own] = run(gateway, rksp_of("103N", next_one))
    assert own["status"] == "REGISTERED" and own["nomor_aju"] == next_one
    [later] = run(gateway, rksp_of("104N"))
    assert later["status"] == "REGISTERED", later["errors"]
    assert later["nomor_aju"] not in {generated, next_one}
    assert later["nomor_aju"][:-6] == generated[:-6]
