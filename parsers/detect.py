"""Tell the format of a file from its first bytes."""

from __future__ import annotations

from parsers.base import Format

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def detect_format(data: bytes) -> Format:
    head = data[:512]
    for bom in _BOMS:
        if head.startswith(bom):
            # UTF-16 XML is still XML; anything else behind a BOM is judged on its text.
            if bom != _BOMS[0]:
                return Format.XML if b"<\x00" in head or b"\x00<" in head else Format.UNKNOWN
            head = head[len(bom) :]
    head = head.lstrip()
    if head.startswith(b"<"):
        return Format.XML
    if head.startswith(b"ISA"):
        return Format.X12
    if head.startswith((b"UNA", b"UNB")):
        return Format.EDIFACT
    if head.startswith((b"{", b"[")):
        return Format.JSON
    return Format.UNKNOWN
