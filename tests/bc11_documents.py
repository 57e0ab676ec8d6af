"""Amendments and pos closings pointed at a BC 1.1 registered in the test.

Built from ``docs/examples/amendment.xml``, ``pos-closing.xml`` and ``manifest-inward.xml``
(the examples themselves stay untouched): the example's BC 1.1 reference is replaced by the
one the test registered, and the parts a scenario needs are swapped in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def example(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def _pointed(text: str, number: str, day: str) -> str:
    text = re.sub(
        r"(<Bc11>.*?<Number>)[^<]+(</Number>\s*<Date>)[^<]+(</Date>)",
        rf"\g<1>{number}\g<2>{day}\g<3>",
        text,
        count=1,
        flags=re.S,
    )
    return text


def _pos_number(pos: str) -> str:
    parts = pos.split(".")
    attrs = [f'pos="{parts[0]}"']
    if len(parts) > 1:
        attrs.append(f'subPos="{parts[1]}"')
    return f"<PosNumber {' '.join(attrs)}/>"


def amendment(
    number: str,
    day: str,
    *,
    kind: str = "C",
    pos: str = "2",
    changes: Sequence[tuple[str, str | None, str]] | None = None,
    merged: Sequence[str] = (),
    revised_bl: str | None = None,
    breakdown: str = "",
) -> bytes:
    """The example amendment (kind C, consignee of pos 2) as another scenario.

    ``changes`` replaces the example's changes (``[]`` drops them); ``merged`` and
    ``revised_bl`` make a merge (kind D); ``breakdown`` is the XML of the SubPos to add (E).
    """
    text = _pointed(example("amendment.xml"), number, day)
    text = re.sub(r"<PosNumber [^>]*/>", _pos_number(pos), text, count=1)
    text = text.replace("<Kind>C</Kind>", f"<Kind>{kind}</Kind>")
    if changes is not None:
        block = "".join(
            "\n    <Change>"
            f"\n      <Field>{field}</Field>"
            + ("" if old is None else f"\n      <OldValue>{old}</OldValue>")
            + f"\n      <NewValue>{new}</NewValue>"
            "\n    </Change>"
            for field, old, new in changes
        )
        replacement = f"<Changes>{block}\n  </Changes>" if changes else ""
        text = re.sub(r"<Changes>.*</Changes>", replacement, text, count=1, flags=re.S)
    extra = ""
    if merged:
        extra += "  <MergedPos>\n"
        extra += "".join(f"    {_pos_number(p)}\n" for p in merged)
        extra += "  </MergedPos>\n"
    if revised_bl:
        extra += (
            "  <RevisedTransportDocument>\n"
            "    <Kind>BL</Kind>\n"
            f"    <Number>{revised_bl}</Number>\n"
            "    <Date>2025-01-16</Date>\n"
            "  </RevisedTransportDocument>\n"
        )
    if breakdown:
        extra += f"  <Breakdown>\n{breakdown}\n  </Breakdown>\n"
    return text.replace("</Amendment>", f"{extra}</Amendment>").encode()


def house_bill(sub_pos: int, bl: str, *, packages: int = 10, weight: str = "400.000") -> str:
    """Sub-pos 2 of the example manifest (a house bill) renumbered, for a breakdown (E)."""
    manifest = example("manifest-inward.xml")
    block = re.search(r'<SubPos number="2">.*?</SubPos>', manifest, flags=re.S)
    assert block is not None
    text = block.group(0).replace('number="2"', f'number="{sub_pos}"')
    text = text.replace("SKKSHA25010018", bl)
    text = re.sub(r"<Count>\d+</Count>", f"<Count>{packages}</Count>", text, count=1)
    return re.sub(r"<GrossWeightKg>[^<]+<", f"<GrossWeightKg>{weight}<", text, count=1)


def closing(
    number: str,
    day: str,
    *,
    pos: str = "1.1",
    document: str = "000123",
    packages: int | None = 120,
    weight: str | None = "5400.500",
) -> bytes:
    """The example pos closing (PIB 000123 for house bill 0001/0001) for another pos/quantity."""
    text = _pointed(example("pos-closing.xml"), number, day)
    text = re.sub(r"<PosNumber [^>]*/>", _pos_number(pos), text, count=1)
    text = re.sub(
        r"(<ClosingDocument>.*?<Number>)[^<]+", rf"\g<1>{document}", text, count=1, flags=re.S
    )
    text = re.sub(
        r"<PackagesClosed>[^<]*</PackagesClosed>\s*",
        "" if packages is None else f"<PackagesClosed>{packages}</PackagesClosed>\n  ",
        text,
    )
    text = re.sub(
        r"<GrossWeightKgClosed>[^<]*</GrossWeightKgClosed>\s*",
        "" if weight is None else f"<GrossWeightKgClosed>{weight}</GrossWeightKgClosed>\n",
        text,
    )
    return text.encode()


def manifest_with_twin_pos() -> bytes:
    """The example manifest with pos 2 given pos 3's shipper, consignee and port of loading.

    Pos 2 and pos 3 can then be merged (Art. 6(1) d): same parties, same port of loading.
    """
    text = example("manifest-inward.xml")
    swaps = [
        (
            "<Name>Lion City Polymers Pte. Ltd.</Name>\n"
            "        <Address>21 Tuas Avenue 3, Singapore</Address>\n"
            "        <Country>SG</Country>",
            "<Name>Ningbo Machinery Export Corp.</Name>\n        <Country>CN</Country>",
        ),
        (
            "<Name>PT Cahya Abadi Logistik</Name>\n        <Npwp>031245780041000</Npwp>",
            "<Name>PT Mesin Jaya Surabaya</Name>\n        <Npwp>021876545041000</Npwp>",
        ),
        ("<PortOfLoading>SGSIN</PortOfLoading>", "<PortOfLoading>CNSHA</PortOfLoading>"),
        ("<VoyageNumber>025N</VoyageNumber>", "<VoyageNumber>026N</VoyageNumber>"),
    ]
    for old, new in swaps:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text.encode()
