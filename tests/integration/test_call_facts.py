"""Deadlines rest on facts (issue 13, point 6), on SQLite and PostgreSQL.

The actual arrival and departure of a call are recorded (an officer's record, the carrier's
arrival report in XML, X12 or EDIFACT); the deadline watch measures from them and says so,
reports a departure without its outward manifest, and the console lets an officer of the
BC 1.0's own office, and only them, record them.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.app import Gateway
from gateway.deadline_watch import Basis, WatchReport, watch
from gateway.storage import call_facts, users
from gateway.storage.call_facts import CallEvent, FactSource
from gateway.storage.tables import audit_log
from tests.integration.conftest import FakeClock
from tests.integration.documents import example, run
from tests.integration.web import log_in

WIB = ZoneInfo("Asia/Jakarta")
ARRIVAL = datetime(2026, 3, 12, 6, 0, tzinfo=WIB)  # the clock starts on 10 March 09:30 WIB
H = timedelta(hours=1)


def rksp(voyage: str, eta: datetime = ARRIVAL, etd: datetime | None = None) -> bytes:
    text = example("rksp.xml").replace("<VoyageNumber>025N<", f"<VoyageNumber>{voyage}<")
    text = re.sub(r"<Eta>[^<]+</Eta>", f"<Eta>{eta.isoformat()}</Eta>", text, count=1)
    etd = etd or eta + timedelta(days=2)
    return re.sub(r"<Etd>[^<]+</Etd>", f"<Etd>{etd.isoformat()}</Etd>", text, count=1).encode()


def registered(gateway: Gateway, data: bytes) -> call_facts.Bc10Registration:
    [result] = run(gateway, data)
    assert result["status"] == "REGISTERED", result["errors"]
    reg = result["registration"]
    with gateway.db.engine.connect() as conn:
        found = call_facts.find_bc10(
            conn, reg["office"], reg["number"], datetime.fromisoformat(reg["date"]).date()
        )
    assert found is not None
    return found


def officer_records(
    gateway: Gateway, call: call_facts.Bc10Registration, event: CallEvent, at: datetime
) -> None:
    with gateway.db.transaction() as conn:
        call_facts.record(
            conn,
            call,
            voyage=call.voyages[0],
            event=event,
            occurred_at=at,
            source=FactSource.OFFICER,
            recorded_by="user:petugas",
            now=gateway.clock(),
        )


def report(gateway: Gateway) -> WatchReport:
    with gateway.db.engine.connect() as conn:
        return watch(conn, now=gateway.clock(), reference=gateway.pipeline.reference())


# -- the watch ---------------------------------------------------------------------------------


def test_the_watch_measures_from_the_recorded_arrival_and_says_which(
    gateway: Gateway, clock: FakeClock
) -> None:
    early = registered(gateway, rksp("030S"))
    late = registered(gateway, rksp("031S"))
    unknown = registered(gateway, rksp("032S"))

    clock.now = ARRIVAL + 20 * H  # by the ETA the manifests are due in 4 h
    assert report(gateway).overdue_manifests == ()
    officer_records(gateway, early, CallEvent.ARRIVAL, ARRIVAL - 6 * H)  # anchored early
    [overdue] = report(gateway).overdue_manifests
    assert overdue.bc10_nomor_aju == early.nomor_aju and overdue.voyages == ("030S",)
    assert (overdue.basis, overdue.source) == (Basis.ACTUAL, "OFFICER")
    assert overdue.arrival == ARRIVAL - 6 * H and str(overdue.arrival.utcoffset()) == "7:00:00"
    assert overdue.due == ARRIVAL + 18 * H and overdue.overdue_by == 2 * H
    [entry] = report(gateway).to_json()["overdue_manifests"]
    assert (entry["basis"], entry["source"]) == ("actual", "OFFICER")

    officer_records(gateway, late, CallEvent.ARRIVAL, ARRIVAL + 10 * H)  # anchored late
    clock.now = ARRIVAL + 25 * H
    by_voyage = {o.voyages: o for o in report(gateway).overdue_manifests}
    assert set(by_voyage) == {("030S",), ("032S",)}  # 031S: due 10 h after its ETA's deadline
    assert by_voyage[("032S",)].bc10_nomor_aju == unknown.nomor_aju
    assert (by_voyage[("032S",)].basis, by_voyage[("032S",)].source) == (Basis.ANNOUNCED, None)
    assert by_voyage[("032S",)].due == ARRIVAL + 24 * H


def test_a_departure_without_an_outward_manifest_is_reported_until_one_is_registered(
    gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("025N", etd=ARRIVAL + 48 * H))
    [inward] = run(gateway, example("manifest-inward.xml").encode())  # voyage 025N
    assert inward["status"] == "REGISTERED"
    clock.now = ARRIVAL + 2 * H
    officer_records(gateway, call, CallEvent.ARRIVAL, ARRIVAL)
    clock.now = ARRIVAL + 21 * H
    officer_records(gateway, call, CallEvent.DEPARTURE, ARRIVAL + 20 * H)  # left early

    clock.now = ARRIVAL + 44 * H  # 24 h after the recorded departure: not yet overdue
    assert report(gateway).overdue_outward == ()
    clock.advance(minutes=1)
    [overdue] = report(gateway).overdue_outward
    assert overdue.bc10_nomor_aju == call.nomor_aju and overdue.voyages == ("025N",)
    assert (overdue.basis, overdue.source) == (Basis.ACTUAL, "OFFICER")
    assert overdue.departure == ARRIVAL + 20 * H and overdue.due == ARRIVAL + 44 * H
    assert report(gateway).overdue_manifests == ()

    # The outward manifest numbers the voyage 025S and states the departure: it is the call's.
    departure = (ARRIVAL + 20 * H).isoformat()
    outward = re.sub(
        r"<DepartureAt>[^<]+</DepartureAt>",
        f"<DepartureAt>{departure}</DepartureAt>",
        example("manifest-outward.xml"),
    )
    [manifest] = run(gateway, outward.encode())
    assert manifest["status"] == "REGISTERED" and manifest["flags"] == ["LATE"]
    [late] = [e for e in manifest["errors"] if e["code"] == "LATE-002"]
    assert "1 min" in late["message_en"]  # 24 h after the recorded departure
    assert report(gateway).overdue_outward == ()


def test_without_a_recorded_departure_the_outward_deadline_runs_from_the_etd(
    gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("025N", etd=ARRIVAL + 30 * H))
    run(gateway, example("manifest-inward.xml").encode())
    clock.now = ARRIVAL + 54 * H + timedelta(minutes=1)
    [overdue] = report(gateway).overdue_outward
    assert overdue.bc10_nomor_aju == call.nomor_aju
    assert (overdue.basis, overdue.departure) == (Basis.ANNOUNCED, ARRIVAL + 30 * H)
    assert report(gateway).to_json()["overdue_outward"][0]["basis"] == "announced"


def jksp(amends: call_facts.Bc10Registration | None = None, ata: datetime | None = None) -> bytes:
    """The example JKSP moved to calls a week apart from ARRIVAL; ``ata`` for its 2nd call."""
    text = example("jksp.xml")
    for week, voyage in enumerate(("001N", "003N", "005N")):
        eta = ARRIVAL + timedelta(days=7 * week)
        text = re.sub(
            rf"(<VoyageNumber>{voyage}</VoyageNumber>.*?)<Eta>[^<]+</Eta>(\s*<Etd>[^<]+</Etd>)?",
            rf"\g<1><Eta>{eta.isoformat()}</Eta><Etd>{(eta + 30 * H).isoformat()}</Etd>"
            + (f"<Ata>{ata.isoformat()}</Ata>" if ata is not None and week == 1 else ""),
            text,
            count=1,
            flags=re.S,
        )
    text = text.replace("2099-01-01", "2026-03-01").replace("2099-03-31", "2026-04-30")
    if amends is not None:
        text = text.replace(
            "</Header>",
            "</Header>\n  <Amends><OfficeCode>040300</OfficeCode>"
            f"<Number>{amends.ref.number}</Number><Date>{amends.ref.date.isoformat()}</Date>"
            "</Amends>",
            1,
        )
    return text.encode()


def test_each_call_of_a_jksp_is_watched_on_its_own_facts(
    gateway: Gateway, clock: FakeClock
) -> None:
    schedule = registered(gateway, jksp())
    clock.now = ARRIVAL + 24 * H + timedelta(minutes=1)
    [overdue] = report(gateway).overdue_manifests  # only the first call has arrived
    assert overdue.voyages == ("001N",) and overdue.basis is Basis.ANNOUNCED

    # The second call is reported by the carrier in a change of the JKSP, after the fact.
    clock.now = ARRIVAL + timedelta(days=7) + 3 * H
    anchored = ARRIVAL + timedelta(days=7) + 2 * H
    [result] = run(gateway, jksp(amends=schedule, ata=anchored))
    assert result["status"] == "ACCEPTED" and [e["code"] for e in result["errors"]] == [
        "ACT-004"
    ], result["errors"]
    clock.now = anchored + 24 * H + timedelta(minutes=1)
    by_voyage = {o.voyages: o for o in report(gateway).overdue_manifests}
    assert set(by_voyage) == {("001N",), ("003N",)}
    assert (by_voyage[("003N",)].basis, by_voyage[("003N",)].arrival) == (Basis.ACTUAL, anchored)
    assert by_voyage[("001N",)].basis is Basis.ANNOUNCED


# -- the carrier's arrival report ----------------------------------------------------------------


def xml_report(call: call_facts.Bc10Registration, ata: datetime, atd: datetime) -> bytes:
    text = rksp("025N").decode()
    amends = (
        "</Header>\n  <Amends><OfficeCode>040300</OfficeCode>"
        f"<Number>{call.ref.number}</Number><Date>{call.ref.date.isoformat()}</Date></Amends>"
    )
    text = text.replace("</Header>", amends, 1)
    etd = re.search(r"<Etd>[^<]+</Etd>", text)
    assert etd is not None
    actual = f"{etd.group(0)}\n  <Ata>{ata.isoformat()}</Ata>\n  <Atd>{atd.isoformat()}</Atd>"
    return text.replace(etd.group(0), actual).encode()


def x12_report(call: call_facts.Bc10Registration, ata: datetime, atd: datetime) -> bytes:
    lines = example("rksp.x12").splitlines()
    text = "\n".join(lines)
    text = text.replace(
        "K1*CS PKDN GT 27250 VD 20990310*LOA 210.50 DF 10.20 DA 10.80~",
        f"K1*BC10 {call.ref.number} {call.ref.date:%Y%m%d}~",
    )
    text = text.replace("DTM*371*20990314*0600*LT~", f"DTM*371*{ARRIVAL:%Y%m%d*%H%M}*LT~")
    text = text.replace(
        "DTM*369*20990316*2200*LT~",
        f"DTM*369*{ARRIVAL + 48 * H:%Y%m%d*%H%M}*LT~\n"
        f"DTM*372*{ata.astimezone(WIB):%Y%m%d*%H%M}*LT~\n"
        f"DTM*370*{atd.astimezone(WIB):%Y%m%d*%H%M}*07~",
    )
    return text.replace("SE*11*0001~", "SE*13*0001~").encode()


def edifact_report(call: call_facts.Bc10Registration, ata: datetime, atd: datetime) -> bytes:
    text = example("rksp.edi")
    text = text.replace("+RKSP-025N-IDTPP+9'", "+RKSP-025N-IDTPP+4'")
    text = text.replace(
        "DTM+171:20990310:102'\n",
        f"DTM+171:20990310:102'\nRFF+ACW:{call.ref.number}'\nDTM+171:{call.ref.date:%Y%m%d}:102'\n",
    )
    text = text.replace("DTM+132:209903140600:203'", f"DTM+132:{ARRIVAL:%Y%m%d%H%M}:203'")
    text = text.replace(
        "DTM+133:209903162200:203'",
        f"DTM+133:{ARRIVAL + 48 * H:%Y%m%d%H%M}:203'\n"
        f"DTM+178:{ata.astimezone(WIB):%Y%m%d%H%M}:203'\n"
        f"DTM+186:{atd.astimezone(WIB):%Y%m%d%H%M}?+07:303'",
    )
    return text.replace("UNT+19+RKSP025N'", "UNT+23+RKSP025N'").encode()


@pytest.mark.parametrize(
    ("build", "name"),
    [(xml_report, "report.xml"), (x12_report, "report.x12"), (edifact_report, "report.edi")],
    ids=["xml", "x12", "edifact"],
)
def test_the_carriers_arrival_report_records_what_happened(
    gateway: Gateway, clock: FakeClock, build: Any, name: str
) -> None:
    call = registered(gateway, rksp("025N"))
    clock.now = ARRIVAL + 26 * H
    ata, atd = ARRIVAL + H, ARRIVAL + 25 * H
    [result] = run(gateway, build(call, ata, atd), name=name)
    # Received after the arrival: the report is accepted for its facts, said so.
    assert result["status"] == "ACCEPTED", result["errors"]
    assert [e["code"] for e in result["errors"]] == ["ACT-004"]
    with gateway.db.engine.connect() as conn:
        history = call_facts.history(conn, call.registration_id)
    assert [(f.event, f.occurred_at, f.source, f.voyage) for f in history] == [
        (CallEvent.ARRIVAL, ata, FactSource.CARRIER, "025N"),
        (CallEvent.DEPARTURE, atd, FactSource.CARRIER, "025N"),
    ]
    assert all(f.document_id is not None and f.recorded_by == "carrier:DEMO" for f in history)
    [overdue] = report(gateway).overdue_manifests  # 24 h after the reported arrival
    assert (overdue.basis, overdue.source, overdue.arrival) == (Basis.ACTUAL, "CARRIER", ata)


def test_an_officers_record_outranks_the_carriers_report(
    gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("025N"))
    clock.now = ARRIVAL + 2 * H
    officer_records(gateway, call, CallEvent.ARRIVAL, ARRIVAL - H)
    [result] = run(gateway, xml_report(call, ARRIVAL + H, ARRIVAL + H + H / 2))
    assert result["status"] == "ACCEPTED", result["errors"]
    with gateway.db.engine.connect() as conn:
        [facts] = call_facts.current(conn, [call.registration_id])[call.registration_id].values()
    assert facts.arrival is not None and facts.arrival.source is FactSource.OFFICER
    assert facts.arrival.occurred_at == ARRIVAL - H
    assert facts.departure is not None and facts.departure.source is FactSource.CARRIER


def test_a_late_change_without_actual_times_is_still_refused(
    gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("025N"))
    clock.now = ARRIVAL + 2 * H
    text = xml_report(call, ARRIVAL, ARRIVAL).decode()
    text = re.sub(r"\s*<At[ad]>[^<]+</At[ad]>", "", text)
    [result] = run(gateway, text.encode())
    assert result["status"] == "REFUSED"
    assert [e["code"] for e in result["errors"]] == ["DL-001"]
    future = xml_report(call, ARRIVAL + 3 * H, ARRIVAL + 4 * H)
    [result] = run(gateway, future)
    assert result["status"] == "REFUSED" and "ACT-001" in [e["code"] for e in result["errors"]]
    with gateway.db.engine.connect() as conn:
        assert call_facts.history(conn, call.registration_id) == []


def test_facts_cannot_contradict_themselves_nor_name_another_call(
    gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("025N"))
    clock.now = ARRIVAL + 5 * H
    officer_records(gateway, call, CallEvent.ARRIVAL, ARRIVAL)
    with pytest.raises(call_facts.CallFactError) as caught:
        officer_records(gateway, call, CallEvent.DEPARTURE, ARRIVAL - H)
    assert caught.value.finding.code == "ACT-002"
    with pytest.raises(call_facts.CallFactError) as caught:
        officer_records(gateway, call, CallEvent.DEPARTURE, ARRIVAL + 6 * H)
    assert caught.value.finding.code == "ACT-001"
    with gateway.db.transaction() as conn, pytest.raises(call_facts.CallFactError) as caught:
        call_facts.record(
            conn,
            call,
            voyage="099X",
            event=CallEvent.ARRIVAL,
            occurred_at=ARRIVAL,
            source=FactSource.OFFICER,
            recorded_by="user:petugas",
            now=clock(),
        )
    assert caught.value.finding.code == "ACT-003"
    with gateway.db.engine.connect() as conn:
        assert len(call_facts.history(conn, call.registration_id)) == 1


def test_the_migrations_make_the_table_the_code_declares(gateway: Gateway) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gateway.storage.tables import metadata

    with gateway.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = [d for d in compare_metadata(context, metadata) if "call_facts" in repr(d)]
    assert diff == []


# -- the console ---------------------------------------------------------------------------------


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_an_officer_records_the_arrival_in_the_console_and_the_dashboard_says_so(
    client: TestClient, gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("030S"))
    path = f"/calls/040300/{call.ref.number}/{call.ref.date.isoformat()}"
    clock.now = ARRIVAL + 20 * H  # by the ETA, the inward manifest is due in 4 h
    log_in(client, gateway, "petugas", users.Role.OFFICER, office_code="040300")
    submission = client.get(f"/submissions/{call.submission_id}").text
    assert f'href="{path}"' in submission  # the BC 1.0's page links to its facts
    page = client.get(path)
    assert page.status_code == 200 and 'id="fact-form"' in page.text
    assert 'data-basis="announced"' in page.text
    csrf = csrf_of(page.text)
    assert 'id="overdue"' in client.get("/").text and "030S" not in client.get("/").text
    form = {"csrf": csrf, "voyage": "030S", "event": "ARRIVAL", "at": "2026-03-12T00:00"}

    assert client.post(path, data={**form, "csrf": ""}).status_code == 403
    control = client.post(path, data={**form, "at": "2026-03-12T00:00\x00"})
    assert control.status_code == 400 and "karakter kendali" in control.text
    future = client.post(path, data={**form, "at": "2026-03-13T05:00"}, params={"lang": "en"})
    assert future.status_code == 400 and "had not happened" in future.text
    garbled = client.post(path, data={**form, "at": "kemarin"})
    assert garbled.status_code == 400 and "cannot be read" in garbled.text  # (lang=en kept)

    done = client.post(path, data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == path
    with gateway.db.engine.connect() as conn:
        [fact] = call_facts.history(conn, call.registration_id)
        audited = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.submission_id).where(
                audit_log.c.action == "actual arrival recorded"
            )
        ).all()
    # Typed in the office's time (WIB): 00:00 WIB is 17:00 UTC the day before.
    assert fact.occurred_at == datetime(2026, 3, 12, 0, 0, tzinfo=WIB)
    assert (fact.source, fact.recorded_by) == (FactSource.OFFICER, "user:petugas")
    assert audited == [("user:petugas", "actual arrival recorded", call.submission_id)]
    shown = client.get(path, params={"lang": "en"}).text
    assert 'data-basis="actual"' in shown and "recorded by an officer" in shown
    assert "2026-03-12 00:00" in shown and "2026-03-13 00:00" in shown  # arrival, inward due

    dashboard = client.get("/", params={"lang": "en"}).text
    overdue = dashboard.split('id="overdue"', 1)[1].split("</table>", 1)[0]
    assert "030S" in overdue and 'data-basis="actual"' in overdue and path in overdue


def test_only_officers_of_the_bc10s_office_record_its_facts(
    client: TestClient, gateway: Gateway, clock: FakeClock
) -> None:
    call = registered(gateway, rksp("030S"))
    path = f"/calls/040300/{call.ref.number}/{call.ref.date.isoformat()}"
    clock.now = ARRIVAL + 2 * H
    form = {"voyage": "030S", "event": "ARRIVAL", "at": "2026-03-12T06:00"}

    log_in(client, gateway, "perak", users.Role.OFFICER, office_code="070100")
    assert client.get(path).status_code == 404  # as if there were no such BC 1.0
    csrf = csrf_of(client.get("/upload").text)
    assert client.post(path, data={**form, "csrf": csrf}).status_code == 404

    log_in(client, gateway, "kepala-perak", users.Role.HEAD_OF_OFFICE, office_code="070100")
    csrf = csrf_of(client.get("/upload").text)
    assert client.post(path, data={**form, "csrf": csrf}).status_code == 404

    log_in(client, gateway, "demo-op", users.Role.CARRIER_OPERATOR, carrier_code="DEMO")
    own = client.get(path)  # the carrier reads its own BC 1.0's facts, without the form
    assert own.status_code == 200 and 'id="fact-form"' not in own.text
    csrf = csrf_of(client.get("/upload").text)
    assert client.post(path, data={**form, "csrf": csrf}).status_code == 403

    log_in(client, gateway, "samu-op", users.Role.CARRIER_OPERATOR, carrier_code="SAMU")
    assert client.get(path).status_code == 404

    log_in(client, gateway, "ops", users.Role.ADMIN)
    page = client.get(path)
    assert page.status_code == 200 and 'id="fact-form"' not in page.text
    assert client.post(path, data={**form, "csrf": csrf_of(page.text)}).status_code == 403

    with gateway.db.engine.connect() as conn:
        assert call_facts.history(conn, call.registration_id) == []
    log_in(client, gateway, "kepala-priok", users.Role.HEAD_OF_OFFICE, office_code="040300")
    csrf = csrf_of(client.get(path).text)
    assert client.post(path, data={**form, "csrf": csrf}, follow_redirects=False).status_code == 303
    with gateway.db.engine.connect() as conn:
        assert len(call_facts.history(conn, call.registration_id)) == 1
