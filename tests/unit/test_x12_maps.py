"""Our pyx12 maps (schemas/x12): the examples validate clean, broken variants get AK3/AK4.

pyx12 loads maps.xml, the control maps, dataele.xml and codes.xml from ``map_path``, so the
folder must be complete. It picks a map by (ISA12, GS08, GS01) only; 309, 323 and 355 share
GS01 ``SO`` in 004010, hence so.4010.xml for inbound groups (309 or 323) and a separate map
folder for validating our outbound 355.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

pyx12_errors = pytest.importorskip("pyx12.errors")
import pyx12.params  # noqa: E402
import pyx12.x12n_document  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MAPS = ROOT / "schemas" / "x12"
EXAMPLES = ROOT / "docs" / "examples"
GUIDE = ROOT / "docs" / "formats" / "x12.md"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.x12"))


@pytest.fixture(autouse=True)
def _quiet_pyx12() -> Iterator[None]:
    logger = logging.getLogger("pyx12")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


def validate(source: str | Path, map_path: Path = MAPS) -> tuple[bool, list[str]]:
    """Run pyx12 like the gateway does; return its verdict and the 997's segments."""
    if isinstance(source, str):
        source = io.StringIO(source)
    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        pyx12.params.params(), source, ack, None, map_path=str(map_path)
    )
    segments = [s.strip() for s in ack.getvalue().split("~") if s.strip()]
    return ok, segments


def ak(segments: list[str], prefix: str) -> list[str]:
    return [s for s in segments if s.startswith(prefix + "*")]


def variant(name: str, old: str, new: str) -> str:
    text = (EXAMPLES / name).read_text()
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.fixture
def maps_for_355(tmp_path: Path) -> Path:
    """A map folder whose maps.xml sends group SO to the 355 map."""
    folder = tmp_path / "maps355"
    shutil.copytree(MAPS, folder)
    index = folder / "maps.xml"
    text = index.read_text()
    index.write_text(re.sub(r">so\.4010\.xml<", ">355.4010.xml<", text))
    return folder


def strict_maps(tmp_path: Path, set_id: str) -> Path:
    folder = tmp_path / f"maps{set_id}"
    shutil.copytree(MAPS, folder)
    index = folder / "maps.xml"
    index.write_text(re.sub(r">so\.4010\.xml<", f">{set_id}.4010.xml<", index.read_text()))
    return folder


def guide_examples(set_id: str) -> list[str]:
    blocks = re.findall(r"```x12\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [b for b in blocks if f"ST*{set_id}*" in b]


# ---------------------------------------------------------------- the maps themselves


@pytest.mark.parametrize(
    "name", ["309.4010.xml", "323.4010.xml", "355.4010.xml", "so.4010.xml", "997.4010.xml"]
)
def test_maps_are_valid_against_pyx12_map_xsd(name: str) -> None:
    schema = etree.XMLSchema(etree.parse(str(MAPS / "map.xsd")))
    assert schema.validate(etree.parse(str(MAPS / name))), schema.error_log


def test_map_folder_is_complete() -> None:
    index = etree.parse(str(MAPS / "maps.xml"))
    for map_file in index.xpath("//map/text()"):
        assert (MAPS / map_file).is_file(), map_file
    for name in ("dataele.xml", "codes.xml", "x12.control.00401.xml", "x12.control.00501.xml"):
        assert (MAPS / name).is_file()
    notice = (MAPS / "NOTICE").read_text()
    for name in ("x12.control.00401.xml", "997.4010.xml", "999.5010.xml", "dataele.xml"):
        assert name in notice


def test_every_data_element_used_is_defined() -> None:
    defined = set(etree.parse(str(MAPS / "dataele.xml")).xpath("//data_ele/@ele_num"))
    for name in ("309.4010.xml", "323.4010.xml", "355.4010.xml", "so.4010.xml"):
        used = set(etree.parse(str(MAPS / name)).xpath("//element/data_ele/text()"))
        assert used <= defined, (name, used - defined)


@pytest.mark.parametrize("set_id", ["309", "323"])
def test_combined_so_map_carries_the_set_maps_unchanged(set_id: str) -> None:
    def body(path: Path) -> bytes:
        loop = etree.parse(str(path)).xpath(f"//loop[@xid='BODY_{set_id}']")[0]
        copy = etree.fromstring(etree.tostring(loop))
        copy.find("usage").text = "-"
        copy.find("pos").text = "-"
        return etree.tostring(copy, method="c14n")

    assert body(MAPS / "so.4010.xml") == body(MAPS / f"{set_id}.4010.xml")


# ---------------------------------------------------------------- examples validate clean


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_validates_clean(path: Path) -> None:
    ok, ack = validate(path)
    assert ok, ack
    assert ak(ack, "AK5") == ["AK5*A"]
    assert ak(ack, "AK9") == ["AK9*A*1*1*1"]
    assert not ak(ack, "AK3") and not ak(ack, "AK4")


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_validates_against_its_own_set_map(path: Path, tmp_path: Path) -> None:
    set_id = re.search(r"ST\*(\d{3})\*", path.read_text()).group(1)  # type: ignore[union-attr]
    ok, ack = validate(path, strict_maps(tmp_path, set_id))
    assert ok and ak(ack, "AK5") == ["AK5*A"], ack


def test_examples_cover_the_guide() -> None:
    names = {p.name for p in EXAMPLE_FILES}
    assert {"rksp.x12", "jksp.x12", "manifest-inward.x12", "manifest-outward.x12"} <= names
    assert {"manifest-nil.x12", "amendment.x12"} <= names
    assert any("*1*T*>~" in p.read_text().splitlines()[0] for p in EXAMPLE_FILES)  # ISA14 = 1


def test_355_examples_in_the_guide_validate(maps_for_355: Path) -> None:
    examples = guide_examples("355")
    assert len(examples) >= 2
    for text in examples:
        ok, ack = validate(text, maps_for_355)
        assert ok and ak(ack, "AK5") == ["AK5*A"], ack


# ---------------------------------------------------------------- broken variants


def test_missing_mandatory_m10_element() -> None:
    ok, ack = validate(variant("manifest-outward.x12", "M10*DEMO*S*", "M10*DEMO**"))
    assert not ok
    assert ak(ack, "AK3") == ["AK3*M10*2**8"]  # segment has data element errors
    assert ak(ack, "AK4") == ["AK4*2*91*1"]  # M10-02 (element 91) mandatory missing
    assert ak(ack, "AK5") == ["AK5*R*5"]
    assert ak(ack, "AK9") == ["AK9*R*1*1*0"]


def test_unknown_segment() -> None:
    text = variant("manifest-outward.x12", "N9*ZZ*LANGUAGE*en~", "N9*ZZ*LANGUAGE*en~\nXYZ*1~")
    ok, ack = validate(text)
    assert not ok
    assert ak(ack, "AK3") == ["AK3*XYZ*5**1"]  # unrecognized segment ID
    assert ak(ack, "AK5")[0].startswith("AK5*R")


def test_invalid_date() -> None:
    ok, ack = validate(variant("rksp.x12", "DTM*371*20990314", "DTM*371*20991314"))
    assert not ok
    assert ak(ack, "AK3") == ["AK3*DTM*8**8"]
    assert ak(ack, "AK4") == ["AK4*2*373*8*20991314"]  # invalid date


def test_missing_hs_code() -> None:
    ok, ack = validate(variant("manifest-inward.x12", "*J*3901*", "*J**"))
    assert not ok
    assert ak(ack, "AK4") == ["AK4*5*22*1"]  # N10-05 commodity code missing


def test_invalid_code() -> None:
    ok, ack = validate(variant("manifest-nil.x12", "*027N**0*I*", "*027N**0*X*"))
    assert not ok
    assert ak(ack, "AK4") == ["AK4*9*256*7*X"]  # M10-09 not I or O


def test_element_too_long() -> None:
    ok, ack = validate(
        variant("rksp.x12", "KM DEMO NUSANTARA*", "KM DEMO NUSANTARA WITH A VERY LONG NAME*")
    )
    assert not ok
    assert ak(ack, "AK4") == ["AK4*2*182*5*KM DEMO NUSANTARA WITH A VERY LONG NAME"]


def test_mandatory_loop_missing_in_323() -> None:
    text = (EXAMPLES / "rksp.x12").read_text()
    body = re.sub(r"R4\*.*?~\n|DTM\*.*?~\n", "", text).replace("SE*11*", "SE*4*")
    ok, ack = validate(body)
    assert not ok
    assert any(s.startswith("AK3*R4*") and s.endswith("*3") for s in ak(ack, "AK3")), ack


# ---------------------------------------------------------------- pyx12 behaviour we rely on


def test_group_without_a_map_raises_instead_of_acknowledging() -> None:
    """pyx12 raises EngineError for a GS01/GS08 with no map; the gateway must catch it."""
    with pytest.raises(pyx12_errors.EngineError, match="Map not found"):
        validate(variant("manifest-nil.x12", "GS*SO*", "GS*SH*"))


def test_pyx12_does_not_check_st01_so_the_mapper_must() -> None:
    """ST01 outside the map's codes is not reported (pyx12 4.0.0); X12-101 refuses it."""
    ok, ack = validate(variant("manifest-nil.x12", "ST*309*0001", "ST*355*0001"))
    assert ok and ak(ack, "AK9") == ["AK9*A*1*1*1"]


def test_qualifier_outside_the_guide_is_an_unrecognized_segment() -> None:
    ok, ack = validate(variant("manifest-nil.x12", "N9*ZZ*LANGUAGE*id~", "N9*XX*LANGUAGE*id~"))
    assert not ok
    assert ak(ack, "AK3") == ["AK3*N9*4**1"]
