"""Field values every EDI format writes the same way, read once for all of them.

X12 and EDIFACT both carry a customs office as six digits, a date as CCYYMMDD and a pos number
as 4 digits (a pos) or 12 (pos + sub-pos + sub-sub-pos). The readers here raise
:class:`FieldError` with what the value should have been; each format's mapper turns that into
its own located finding (X12-103, EDI-103), since only it knows the element's name.
"""

from __future__ import annotations

import re
from datetime import date

from gateway.model import PosNumber

OFFICE_CODE = re.compile(r"\d{6}")
POS_NUMBER = re.compile(r"\d{12}|\d{1,4}")
_CCYYMMDD = re.compile(r"\d{8}")

Element = str | tuple[str, ...]  # a simple (data) element, or the components of a composite


class FieldError(ValueError):
    """A value that is not what its field holds; ``detail`` says what it should be."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def ccyymmdd(raw: str) -> date:
    """``20260131`` -> 2026-01-31."""
    try:
        if not _CCYYMMDD.fullmatch(raw):
            raise ValueError(raw)
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise FieldError("not a date CCYYMMDD") from None


def pos_number(raw: str, *, shape: str) -> PosNumber:
    """``2`` -> pos 2, ``000100020000`` -> pos 1.2; ``shape`` is the format's own words for a
    value of the wrong shape."""
    if not POS_NUMBER.fullmatch(raw) or int(raw) == 0:
        raise FieldError(shape)
    if len(raw) <= 4:
        return PosNumber(pos=int(raw))
    number = PosNumber(pos=int(raw[:4]), sub_pos=int(raw[4:8]), sub_sub_pos=int(raw[8:]))
    if number.pos == 0 or (number.sub_pos == 0 and number.sub_sub_pos != 0):
        raise FieldError("not a pos number")
    return number


def component(elements: tuple[Element, ...], index: int, part: int) -> str:
    """Element ``index``, component ``part`` (both 1-based) as text; '' when absent."""
    if index > len(elements):
        return ""
    value = elements[index - 1]
    parts = value if isinstance(value, tuple) else (value,)
    return parts[part - 1] if part <= len(parts) else ""
