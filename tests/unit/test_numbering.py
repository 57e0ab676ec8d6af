from __future__ import annotations

from datetime import date

import pytest

from gateway.model import DocumentType
from gateway.numbering import NOMOR_AJU, aju_prefix, check_supplied, format_nomor_aju


def test_nomor_aju_has_the_ceisa_layout() -> None:
    prefix = aju_prefix("040300", DocumentType.INWARD_MANIFEST, "DEMO01", date(2026, 3, 1))
    aju = format_nomor_aju(prefix, 42)
    assert aju == "040311DEMO0120260301000042"
    assert len(aju) == 26 and NOMOR_AJU.match(aju)


def test_unknown_office_and_sequence_bounds() -> None:
    assert aju_prefix(None, DocumentType.UNKNOWN, "XXXXXX", date(2026, 1, 2)).startswith("000000")
    with pytest.raises(ValueError):
        format_nomor_aju("0403", 1_000_000)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("040301DEMO0120260310123456", None),
        ("040301DEMO012026031012345", "26 characters"),
        ("040301SAMU0120260310123456", "not this sender's code"),
        ("040301DEMO0120261310123456", "not a date"),
    ],
)
def test_supplied_nomor_aju_checks(value: str, problem: str | None) -> None:
    result = check_supplied(value, aju_code="DEMO01")
    assert (result is None) if problem is None else (problem in (result or ""))
