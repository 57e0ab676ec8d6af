"""Paper documents keyed in by an officer: an RKSP or a manifest typed into a form.

The keyed-in document enters like any arrival (the manual channel); the workers decide it with
the same rules and numbering, and the audit trail says who typed it.
"""

from __future__ import annotations

import io
import re
import uuid

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from gateway.channels.base import Inbound
from gateway.storage import audit
from gateway.storage.users import Role
from gateway.web import paper
from gateway.web.console import _user, render
from gateway.web.security import Caller, check_csrf, gateway_of

router = APIRouter(include_in_schema=False)


# -- paper RKSP keyed in by an officer -------------------------------------------------------


@router.get("/manual/rksp", response_class=HTMLResponse)
def manual_form(request: Request) -> HTMLResponse:
    who = _user(request)
    if not who.has(Role.OFFICER, Role.HEAD_OF_OFFICE, Role.ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    reference = gateway_of(request).pipeline.reference()
    return render(request, "manual_rksp.html", who, carriers=sorted(reference.carriers), values={})


RKSP_FIELDS = (
    "carrier",
    "office",
    "mode",
    "conveyance",
    "imo",
    "call_sign",
    "flag",
    "voyage",
    "origin",
    "last_port",
    "arrival_port",
    "next_port",
    "eta",
    "etd",
)


@router.post("/manual/rksp", response_class=HTMLResponse)
async def manual_submit(request: Request) -> Response:
    who = _user(request)
    form = await request.form()
    values = _paper_values(request, who, form, RKSP_FIELDS)
    if values is None:
        return render(request, "message.html", who, 403, message="forbidden")
    gateway = gateway_of(request)
    reference = gateway.pipeline.reference()
    bad = _control_characters(values)
    if bad:
        return render(
            request,
            "manual_rksp.html",
            who,
            400,
            carriers=sorted(reference.carriers),
            values={k: _printable(v) for k, v in values.items()},
            error=bad,
        )
    carrier = reference.carriers.get(values["carrier"])
    office = reference.offices.get(values["office"])
    if carrier is None or office is None:
        return render(
            request,
            "manual_rksp.html",
            who,
            400,
            carriers=sorted(reference.carriers),
            values=values,
            error="carrier/office",
        )
    data = paper.rksp_xml(values, (carrier.name, carrier.npwp), office.zone)
    return await _key_in(request, who, carrier.code, office.code, "RKSP", data)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _paper_values(
    request: Request, who: Caller, form: FormData, fields: tuple[str, ...]
) -> dict[str, str] | None:
    """The paper form's fields, or None when ``who`` may not key in paper. An officer keys
    in for their own office, whatever the form says."""
    check_csrf(request, who, str(form.get("csrf") or ""))
    if not who.has(Role.OFFICER, Role.HEAD_OF_OFFICE, Role.ADMIN):
        return None
    values = {k: str(form.get(k) or "").strip() for k in fields}
    if who.user is not None and who.user.office_code:
        values["office"] = who.user.office_code
    return values


def _control_characters(values: dict[str, str]) -> str | None:
    """A paper form's fields are single lines of text: a control character is a form error
    (an XML document cannot even carry most of them)."""
    for name, value in values.items():
        if _CONTROL.search(value):
            return (
                f"Kolom {name} memuat karakter kendali; ketik ulang nilainya. / "
                f"The field {name} holds a control character; type its value again."
            )
    return None


def _printable(value: str) -> str:
    return _CONTROL.sub("", value)


async def _key_in(
    request: Request, who: Caller, carrier: str, office: str, kind: str, data: bytes
) -> Response:
    """The keyed-in document enters like any arrival; the workers decide it (same rules and
    numbering), and the audit trail says who typed it."""
    gateway = gateway_of(request)
    name = f"manual-{kind.lower()}-{uuid.uuid4().hex[:8]}.xml"
    inbound = Inbound(channel="manual", sender=carrier, source_name=name, intake_key=name)

    def keyed_in() -> int:
        received = gateway.pipeline.receive(inbound, io.BytesIO(data))
        with gateway.db.transaction() as conn:
            audit.record(
                conn,
                at=gateway.clock(),
                actor=who.actor,
                action="keyed in",
                submission_id=received.submission_id,
                detail={"document": kind, "office": office},
            )
        return received.submission_id

    submission_id = await run_in_threadpool(keyed_in)
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)


MANIFEST_FIELDS = (
    "carrier",
    "office",
    "direction",
    "mode",
    "language",
    "conveyance",
    "imo",
    "call_sign",
    "flag",
    "voyage",
    "origin",
    "last_port",
    "port_of_call",
    "next_port",
    "moment",
)


@router.get("/manual/manifest", response_class=HTMLResponse)
def manual_manifest_form(request: Request) -> HTMLResponse:
    who = _user(request)
    if not who.has(Role.OFFICER, Role.HEAD_OF_OFFICE, Role.ADMIN):
        return render(request, "message.html", who, 403, message="forbidden")
    reference = gateway_of(request).pipeline.reference()
    return render(
        request,
        "manual_manifest.html",
        who,
        carriers=sorted(reference.carriers),
        values={},
        rows=range(1, paper.POS_ROWS + 1),
        fields=paper.POS_FIELDS,
    )


@router.post("/manual/manifest", response_class=HTMLResponse)
async def manual_manifest_submit(request: Request) -> Response:
    who = _user(request)
    form = await request.form()
    values = _paper_values(request, who, form, MANIFEST_FIELDS)
    if values is None:
        return render(request, "message.html", who, 403, message="forbidden")
    rows = [
        {f: str(form.get(f"pos{n}_{f}") or "").strip() for f in paper.POS_FIELDS}
        for n in range(1, paper.POS_ROWS + 1)
    ]
    reference = gateway_of(request).pipeline.reference()
    bad = _control_characters(values) or next(
        (b for b in (_control_characters(r) for r in rows) if b), None
    )
    if bad:
        return render(
            request,
            "manual_manifest.html",
            who,
            400,
            carriers=sorted(reference.carriers),
            values={k: _printable(v) for k, v in values.items()},
            rows=range(1, paper.POS_ROWS + 1),
            fields=paper.POS_FIELDS,
            error=bad,
        )
    carrier = reference.carriers.get(values["carrier"])
    office = reference.offices.get(values["office"])
    if carrier is None or office is None:
        return render(request, "message.html", who, 400, message="not_found")
    data = paper.manifest_xml(values, rows, (carrier.name, carrier.npwp), office.zone)
    return await _key_in(request, who, carrier.code, office.code, "MANIFEST", data)
