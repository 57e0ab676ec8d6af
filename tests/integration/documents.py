"""Variants of the example documents for tests (the examples themselves stay untouched)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gateway.app import Gateway
from gateway.channels.base import Inbound
from gateway.storage import submissions as store

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def example(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def rksp(voyage: str = "025N", **replace: str) -> bytes:
    text = example("rksp.xml").replace("<VoyageNumber>025N<", f"<VoyageNumber>{voyage}<")
    return _apply(text, replace)


def with_header(text: str, *, office: str | None = None, nomor_aju: str | None = None) -> str:
    if office:
        text = re.sub(
            r"<OfficeCode>\d+</OfficeCode>", f"<OfficeCode>{office}</OfficeCode>", text, count=1
        )
    if nomor_aju:
        text = text.replace(
            "</OfficeCode>", f"</OfficeCode>\n    <NomorAju>{nomor_aju}</NomorAju>", 1
        )
    return text


def _apply(text: str, replace: dict[str, str]) -> bytes:
    for element, value in replace.items():
        text, n = re.subn(
            rf"<{element}>[^<]*</{element}>", f"<{element}>{value}</{element}>", text, count=1
        )
        assert n == 1, f"no <{element}> in the document"
    return text.encode("utf-8")


def run(
    gateway: Gateway,
    data: bytes,
    *,
    partner: str = "DEMO",
    name: str = "doc.xml",
    key: str | None = None,
) -> list[dict[str, Any]]:
    """One file through receive → process → deliver on the CLI channel; the JSON report."""
    import io
    import uuid

    pipeline = gateway.pipeline
    inbound = Inbound(
        channel="cli", sender=partner, source_name=name, intake_key=key or uuid.uuid4().hex
    )
    received = pipeline.receive(inbound, io.BytesIO(data))
    pipeline.process(received.submission_id)
    pipeline.deliver(received.submission_id)
    with gateway.db.engine.connect() as conn:
        return store.report(conn, received.submission_id)


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["errors"]]
