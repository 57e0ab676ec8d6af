"""Places and package types exist: UN/LOCODE and UN/ECE Rec. 21 code lists (GW-ID-LOCODE,
GW-ID-PACKAGE), the lists themselves and the script that makes them."""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from gateway.codelists import CODES_DIR, package_types, read_code_list, unlocodes
from gateway.exceptions import ConfigurationError
from gateway.model import (
    Amendment,
    AmendmentKind,
    DocumentHeader,
    FieldChange,
    Finding,
    Packages,
    PosGroup,
    PosNumber,
    RegistrationKind,
    RegistrationRef,
)
from gateway.reference import Office, ReferenceData
from tests.unit.rulebook_records import (
    CARRIER,
    REFERENCE,
    apply,
    codes,
    context,
    manifest,
    pos,
    rksp,
)

NOW = datetime(2026, 5, 1, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]
POS_1 = "group 1/pos 000100000000"


def findings(items: list[object]) -> list[Finding]:
    return [i for i in items if isinstance(i, Finding)]


def with_pos(**changes: object) -> object:
    return manifest(groups=(PosGroup(number=1, pos=(dataclasses.replace(pos(1), **changes),)),))


# -- GW-ID-LOCODE -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["IDTPP", "SGSIN", "CNSHA", "IDSUB", "MYPKG", "DEHAM"])
def test_real_places_are_accepted(code: str) -> None:
    document = with_pos(port_of_loading=code, final_destination=code)
    assert codes(apply("GW-ID-LOCODE", document, context(NOW))) == []
    assert codes(apply("GW-ID-LOCODE", rksp(port_of_origin=code), context(NOW))) == []


def test_a_well_formed_code_of_no_place_is_refused_with_its_place() -> None:
    [item] = findings(
        apply("GW-ID-LOCODE", with_pos(port_of_loading="IDQ9Z"), context(NOW))
    )  # shaped like a UN/LOCODE (country ID, A-Z and 2-9), but no such place
    assert item.code == "ID-004" and item.is_error
    assert item.location is not None and item.location.path == f"{POS_1}/port_of_loading"
    assert "IDQ9Z" in item.message_en and "IDQ9Z" in item.message_id
    assert "not in UN/LOCODE (edition 2023-1)" in item.message_en
    assert "tidak ada dalam UN/LOCODE (edisi 2023-1)" in item.message_id
    assert item.message_en.endswith("[GW-ID-LOCODE]")


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("port_of_origin", "port_of_origin"),
        ("last_port_of_call", "last_port_of_call"),
        ("next_port", "next_port"),
    ],
)
def test_every_port_of_an_rksp_is_looked_up(field: str, path: str) -> None:
    items = findings(apply("GW-ID-LOCODE", rksp(**{field: "IDQ9Z"}), context(NOW)))
    assert [(i.code, i.location and i.location.path) for i in items] == [("ID-004", path)]


def test_an_offices_own_code_is_accepted_though_the_list_lacks_it() -> None:
    assert "IDQ9Z" not in unlocodes()
    priok = REFERENCE.offices["040300"]
    own = dataclasses.replace(priok, unlocodes=(*priok.unlocodes, "IDQ9Z"))
    reference = ReferenceData(offices={**REFERENCE.offices, own.code: own})
    ctx = dataclasses.replace(context(NOW), reference=reference)
    document = with_pos(port_of_discharge="IDQ9Z")
    assert codes(apply("GW-ID-LOCODE", document, ctx)) == []
    # Still unknown to a gateway whose offices do not name it.
    assert codes(apply("GW-ID-LOCODE", document, context(NOW))) == ["ID-004"]


def test_office_codes_count_only_as_whole_codes() -> None:
    other = Office(code="999998", name="X", timezone="Asia/Jakarta", unlocodes=("IDQ9Y",))
    ctx = dataclasses.replace(
        context(NOW), reference=ReferenceData(offices={**REFERENCE.offices, "999998": other})
    )
    assert codes(apply("GW-ID-LOCODE", with_pos(port_of_loading="IDQ9Z"), ctx)) == ["ID-004"]


# -- GW-ID-PACKAGE ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["CT", "PK", "BX", "PX", "CN", "BG", "NE", "VR", "1A", "43"])
def test_rec21_package_types_are_accepted(kind: str) -> None:
    document = with_pos(packages=Packages(count=10, kind_code=kind))
    assert codes(apply("GW-ID-PACKAGE", document, context(NOW))) == []


@pytest.mark.parametrize(
    "kind",
    [
        "QX",  # no such code
        "SX",  # "Set": deleted from Rec. 21
        "PKG",  # X12's manifest unit code for a package, not Rec. 21's (PK)
        "XCT",  # EN 16931's spelling of CT
        "ct",
    ],
)
def test_other_package_types_are_refused_with_their_place(kind: str) -> None:
    document = with_pos(packages=Packages(count=10, kind_code=kind))
    [item] = findings(apply("GW-ID-PACKAGE", document, context(NOW)))
    assert item.code == "ID-007" and item.is_error
    assert item.location is not None and item.location.path == f"{POS_1}/packages/kind_code"
    assert kind in item.message_en and "Recommendation 21 (revision 12)" in item.message_en
    assert "Rekomendasi 21 (revisi 12)" in item.message_id


def test_a_house_bills_package_type_is_checked_under_its_master() -> None:
    house = dataclasses.replace(pos(1, sub=1), packages=Packages(count=1, kind_code="QX"))
    master = dataclasses.replace(pos(1), sub_pos=(house,))
    document = manifest(groups=(PosGroup(number=1, pos=(master,)),))
    [item] = findings(apply("GW-ID-PACKAGE", document, context(NOW)))
    assert item.location and item.location.path == "group 1/pos 000100010000/packages/kind_code"


def amendment(kind: AmendmentKind, **changes: object) -> Amendment:
    base = Amendment(
        header=DocumentHeader(office_code="040300"),
        bc11=RegistrationRef(
            kind=RegistrationKind.BC11, office_code="040300", number="000001", date=date(2026, 3, 1)
        ),
        pos_number=PosNumber(pos=1),
        kind=kind,
        reason="corrected bill of lading",
        requested_by=CARRIER,
    )
    return dataclasses.replace(base, **changes)


def test_an_amendment_changing_the_package_type_names_a_rec21_code() -> None:
    change = FieldChange(field="packages.kind_code", old_value="CT", new_value="QX")
    marks = FieldChange(field="packages.marks", old_value="A", new_value="QX")
    bad = amendment(AmendmentKind.PACKAGES_MARKS, changes=(marks, change))
    [item] = findings(apply("GW-ID-PACKAGE", bad, context(NOW)))
    assert item.location and item.location.path == "changes[1]/packages.kind_code"
    good = dataclasses.replace(change, new_value="PX")
    assert (
        codes(
            apply(
                "GW-ID-PACKAGE",
                amendment(AmendmentKind.PACKAGES_MARKS, changes=(good,)),
                context(NOW),
            )
        )
        == []
    )
    breakdown = amendment(
        AmendmentKind.BREAKDOWN,
        breakdown=(dataclasses.replace(pos(1, sub=1), packages=Packages(count=1, kind_code="QX")),),
    )
    assert codes(apply("GW-ID-PACKAGE", breakdown, context(NOW))) == ["ID-007"]


# -- the lists --------------------------------------------------------------------------------


def test_the_lists_load_with_their_editions() -> None:
    places = unlocodes()
    assert (places.name, places.edition, len(places)) == ("UN/LOCODE", "2023-1", 115_770)
    kinds = package_types()
    assert (kinds.edition, len(kinds)) == ("12", 405)
    for value in ("", "ID", "ID TP", "IDTPPX", "idtpp", None, 12345):
        assert value not in places
    assert "" not in kinds and None not in kinds


def test_every_office_code_and_every_place_in_the_examples_and_corpus_is_known() -> None:
    """The offices' codes, the examples in every format and the third-party corpus (the
    CUSCAR and CUSREP samples) name real places: none may be refused as unknown. (The CBP 309
    names its ports by CBP's Schedule D/K numbers, which are no UN/LOCODEs, and is refused
    before the rules for its SE01 anyway.)"""
    places = unlocodes()
    offices = {c for o in REFERENCE.offices.values() for c in o.unlocodes}
    assert offices and {code for code in offices if code not in places} == set()
    texts = [p.read_text("latin-1") for p in (REPO / "docs" / "examples").iterdir()]
    corpus = (REPO / "tests" / "fixtures").rglob("*")
    texts += [p.read_text("latin-1") for p in corpus if p.suffix in (".edi", ".x12", ".txt")]
    found: set[str] = set()
    for text in texts:
        found.update(
            re.findall(r"<(?:Port\w*|NextPort|LastPortOfCall|FinalDestination)>(\w+)<", text)
        )
        found.update(re.findall(r"LOC\+\d+\+([A-Z]{2}[A-Z2-9]{3})(?:'|:[^']*:(?:6|139)')", text))
        found.update(re.findall(r"\*(?:UN|PORT OF \w+)\*([A-Z]{2}[A-Z2-9]{3})~", text))
        found.update(re.findall(r"^M11\*\w+\*([A-Z]{2}[A-Z2-9]{3})\*", text, re.M))
    assert {"GBPME", "CRMOB", "NZAKL", "CNSHA", "SGSIN", "IDTPP"} <= found
    assert {code for code in found if code not in places} == set()


def test_every_package_type_in_the_examples_is_known() -> None:
    kinds = package_types()
    found: set[str] = set()
    for path in (REPO / "docs" / "examples").iterdir():
        text = path.read_text("latin-1")
        found.update(re.findall(r"<KindCode>(\w+)<", text))
        found.update(re.findall(r"GID\+\d+\+\d+:(\w+)'", text))
        found.update(re.findall(r"^M11\*\w+\*\w+\*\d+\*(\w+)\*", text, re.M))
    assert {"CT", "CN", "BG", "PX"} <= found
    assert {kind for kind in found if kind not in kinds} == set()


def test_a_missing_or_empty_list_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        read_code_list(tmp_path / "absent.txt", "UN/LOCODE")
    (tmp_path / "empty.txt").write_text("# no edition\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no edition line or no codes"):
        read_code_list(tmp_path / "empty.txt", "UN/LOCODE", grouped=True)


# -- scripts/update_code_lists.py -------------------------------------------------------------


def _unece_release(path: Path) -> Path:
    """A miniature UNECE CSV release: a country line, codes, a reference line, a deletion."""
    rows = [
        ["", "ID", "", ".INDONESIA"] + [""] * 8,
        ["", "ID", "TPP", "Tanjung Priok"] + [""] * 8,
        ["X", "ID", "OLD", "Old place, marked for deletion"] + [""] * 8,
        ["=", "ID", "", "Batavia = Jakarta"] + [""] * 8,
        ["+", "SG", "SIN", "Singapore"] + [""] * 8,
    ]
    text = io.StringIO()
    csv.writer(text, quoting=csv.QUOTE_ALL).writerows(rows)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("csv/2099-1 UNLOCODE CodeListPart1.csv", text.getvalue())
        archive.writestr("csv/2099-1 SubdivisionCodes.csv", '"ID","JK","Jakarta"\n')
    return path


def test_the_script_makes_lists_the_gateway_reads(tmp_path: Path) -> None:
    # Real rows (a deleted one, names with stray spaces), padded to the 300 codes at least
    # that make a plausible Rec. 21 list.
    pad = "".join(
        f",{a}{b},Made up,,0\n" for a in "0123456789AB" for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    )
    rec21 = tmp_path / "code-list.csv"
    rec21.write_text(
        "Status,Code,Name,Description,NumericCode\n,CT,Carton ,,22\nX,SX,Set,,11\n"
        ",PX,Pallet  (wooden) ,x,92\n" + pad,
        encoding="utf-8",
    )
    made = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "update_code_lists.py"),
            "--unlocode",
            str(_unece_release(tmp_path / "loc991csv.zip")),
            "--rec21",
            str(rec21),
            "--rec21-edition",
            "99",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    places = read_code_list(tmp_path / "unlocode.txt", "UN/LOCODE", grouped=True)
    assert (places.edition, len(places)) == ("2099-1", 3)
    assert [c in places for c in ("IDTPP", "IDOLD", "SGSIN", "IDBAT")] == [True, True, True, False]
    kinds = read_code_list(tmp_path / "rec21.txt", "UN/ECE Rec. 21")
    assert kinds.edition == "99" and "CT" in kinds and "PX" in kinds and "SX" not in kinds
    written = (tmp_path / "rec21.txt").read_text(encoding="utf-8")
    assert "CT\tCarton\n" in written and "PX\tPallet (wooden)\n" in written


def test_the_shipped_lists_are_where_the_gateway_reads_them() -> None:
    assert (CODES_DIR / "unlocode.txt").is_file() and (CODES_DIR / "rec21.txt").is_file()
    assert (CODES_DIR / "README.md").read_text(encoding="utf-8").count("2023-1") >= 2
