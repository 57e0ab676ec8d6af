"""Validation of transaction sets against our pyx12 maps (``schemas/x12``).

pyx12 walks the file against the map of each functional group and writes a 997 (004010) or
999 (005010). We read that acknowledgment back into per-set verdicts (AK3/AK4/AK5 or
IK3/IK4/IK5), so the detail of what is wrong reaches both our own 997 and the refusal.
pyx12 stops at a group it has no map for, so only groups we serve are given to it.
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyx12.errors
import pyx12.map_index
import pyx12.params
import pyx12.x12n_document
from lxml import etree

from gateway.resources import schema_path
from parsers.x12.verdicts import ElementError, SegmentError

MAP_PATH = schema_path("x12")

logging.getLogger("pyx12").setLevel(logging.CRITICAL)


@functools.cache
def _index() -> pyx12.map_index.map_index:
    return pyx12.map_index.map_index(str(MAP_PATH))


@functools.cache
def _params() -> pyx12.params.params:
    return pyx12.params.params()


def served(icvn: str, version: str, functional_id: str) -> bool:
    """Whether we have a map for this group (ISA12, GS08, GS01)."""
    if not (MAP_PATH / "maps.xml").exists():
        return False
    return _index().get_filename(icvn, version, functional_id) is not None


@functools.cache
def set_ids(icvn: str, version: str, functional_id: str) -> frozenset[str]:
    """The transaction sets (ST01) the map of this group has a place for."""
    name = (
        _index().get_filename(icvn, version, functional_id)
        if served(icvn, version, functional_id)
        else None
    )
    if name is None:
        return frozenset()
    tree = etree.parse(str(MAP_PATH / name))
    return frozenset(
        str(code.text)
        for element in tree.iter("element")
        if element.get("xid") == "ST01"
        for code in element.iter("code")
    )


SetKey = tuple[str, str]  # (GS06, ST02)
Verdict = tuple[str, list[str], list[SegmentError]]  # AK501, AK502s, AK3/AK4s


def validate_streaming(
    text: str, on_segment: Callable[[Any, list[Any]], None]
) -> dict[SetKey, Verdict] | None:
    """Validate and hand every segment to ``on_segment(segment, errors)`` in the same pass.

    ``errors`` are the reader's findings for that segment (control numbers, counts, HL...),
    taken from pyx12's reader as its driver consumes them; the caller empties the list.
    Findings left after the last segment are in the list the last call saw. Returns None when
    pyx12 stops (a group without a map): the caller reads the file on its own instead.
    """
    out = io.StringIO()
    pending: list[Any] = []
    teed: list[Any] = []

    def callback(segment: Any, reader: Any, _node: Any, _valid: bool) -> None:
        if not teed:  # the reader is made inside the driver: tee its findings once
            original = reader.pop_errors

            def tee() -> Any:
                found = original()
                pending.extend(found)
                return found

            reader.pop_errors = tee
            teed.append(reader)
        on_segment(segment, pending)

    try:
        pyx12.x12n_document.x12n_document(
            _params(), io.StringIO(text), out, None, map_path=str(MAP_PATH), callback=callback
        )
    except pyx12.errors.EngineError:
        return None
    on_segment(None, pending)  # findings of the end of file (missing trailers)
    return read_ack(out.getvalue())


def read_ack(ack: str) -> dict[SetKey, Verdict]:
    """Per (GS06, ST02): status, set-level codes and segment errors from a 997/999."""
    if len(ack) < 106:
        return {}
    element, terminator = ack[3], ack[105]
    verdicts: dict[SetKey, Verdict] = {}
    group = ""
    current: SetKey | None = None
    segments: list[SegmentError] = []
    for raw in ack.replace("\n", "").split(terminator):
        fields = raw.split(element)
        tag = fields[0]
        if tag == "AK1":
            group = fields[2] if len(fields) > 2 else ""
        elif tag == "AK2":
            current, segments = (group, fields[2] if len(fields) > 2 else ""), []
        elif tag in {"AK3", "IK3"}:
            segments.append(
                SegmentError(
                    segment_id=fields[1],
                    position=int(fields[2] or 0),
                    code=fields[4] if len(fields) > 4 else "8",
                )
            )
        elif tag in {"AK4", "IK4"} and segments:
            position = fields[1].split(":")[0] if len(fields) > 1 else "0"
            error = ElementError(
                position=int(position or 0),
                code=fields[3] if len(fields) > 3 else "",
                value=fields[4] if len(fields) > 4 else "",
            )
            last = segments[-1]
            segments[-1] = SegmentError(
                segment_id=last.segment_id,
                position=last.position,
                code=last.code,
                elements=(*last.elements, error),
            )
        elif tag in {"AK5", "IK5"} and current is not None:
            verdicts[current] = (fields[1], [f for f in fields[2:] if f], segments)
            current = None
    return verdicts


@functools.cache
def _outbound_map_path() -> str:
    """A map folder where group SO means our 355 (inbound SO means 309/323)."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="pde-x12-355-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for item in MAP_PATH.iterdir():
        if item.name != "maps.xml":
            (folder / item.name).symlink_to(item)
    (folder / "maps.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<maps>\n  <version icvn="00401">\n'
        '    <map vriic="004010" fic="SO" abbr="355">355.4010.xml</map>\n'
        "  </version>\n</maps>\n",
        encoding="utf-8",
    )
    return str(folder)


def validate_355(text: str) -> list[str]:
    """pyx12's complaints about a 355 we wrote (empty when it is valid)."""
    out = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(
            _params(), io.StringIO(text), out, None, map_path=_outbound_map_path()
        )
    except pyx12.errors.EngineError as exc:
        return [str(exc)]
    if ok:
        return []
    problems = []
    for (_, _), (status, codes, segments) in read_ack(out.getvalue()).items():
        problems += [f"AK5 {status} {' '.join(codes)}"]
        problems += [
            f"{s.segment_id}@{s.position} AK304 {s.code} "
            + " ".join(f"{e.position}:{e.code}" for e in s.elements)
            for s in segments
        ]
    return problems or ["pyx12 reported the 355 invalid"]
