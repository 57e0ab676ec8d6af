"""Amendments of a registered BC 1.1 (perbaikan, Art. 6 and 7 of P-10/BC/2006).

Art. 6(1) allows, with supporting documents: (a) number, marks, size and type of packages or
containers; (b) the quantity of packages, containers or bulk; (c) consignee and/or notify
party; (d) merging pos of the same BC 1.1 with the same shipper, consignee, notify party and
port of loading once a revised B/L or AWB is issued. Art. 6(2): these need the head of
office's approval. Art. 6(3): breaking a consolidated pos down into house-level detail does
not. A pos settled by a customs declaration (Art. 10) is closed and stays as it was settled.

The checks judge the amendment against the pos as it stands now (``ctx.bc11.pos_records``).
The same module holds the pure functions that make the amended pos, so what the rules
accept and what an approval applies are decided in one place.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.messages import finding
from gateway.model import (
    Amendment,
    AmendmentKind,
    Document,
    FieldChange,
    Finding,
    Flag,
    Location,
    Party,
    Pos,
    TransportDocument,
)
from gateway.model.registered_pos import RegisteredPos
from handlers.base import RuleContext
from handlers.rulebook import RuleSeverity, rule

# The canonical field paths each kind may change (list items are numbered from 1).
AMENDABLE_FIELDS: Mapping[AmendmentKind, re.Pattern[str]] = {
    AmendmentKind.PACKAGES_MARKS: re.compile(
        r"^(packages\.(kind_code|marks)|containers\.[1-9]\d*\.(number|size_type))$"
    ),
    AmendmentKind.QUANTITY: re.compile(
        r"^(packages\.count|gross_weight_kg|volume_m3|goods\.[1-9]\d*\.quantity)$"
    ),
    AmendmentKind.CONSIGNEE_NOTIFY: re.compile(r"^(consignee|notify)\.(name|npwp|address)$"),
}
_INTEGERS = frozenset({"count"})
_DECIMALS = frozenset({"gross_weight_kg", "volume_m3", "quantity"})
# What must be the same in every pos merged (Art. 6(1) d 2).
MERGE_FIELDS = ("shipper", "consignee", "notify", "port_of_loading")
_LETTER = {
    AmendmentKind.PACKAGES_MARKS: "a",
    AmendmentKind.QUANTITY: "b",
    AmendmentKind.CONSIGNEE_NOTIFY: "c",
    AmendmentKind.MERGE_POS: "d",
    AmendmentKind.BREAKDOWN: "e",
}


class ChangeError(ValueError):
    """A field change that cannot be made to the pos (no such field, a value of a wrong type)."""


# -- the rules --------------------------------------------------------------------------------


def _target(
    document: Document, ctx: RuleContext
) -> tuple[Amendment, Mapping[str, RegisteredPos], RegisteredPos] | None:
    """The amendment and the pos it amends; None when REF-001/REF-002 already refuse it."""
    if not isinstance(document, Amendment):
        return None
    records = ctx.bc11.pos_records(document.bc11)
    if records is None:
        return None
    target = records.get(str(document.pos_number))
    if target is None:
        return None
    return document, records, target


@rule(
    id="ART6-CLOSED-POS",
    article="Art. 6(1), 10",
    severity=RuleSeverity.REFUSE,
    checks="An amendment names only pos that are still open: a pos closed by a customs "
    "declaration (or merged into another pos) is not amended any more.",
    example="Consignee correction of pos 0002 after a PIB closed it: refused (AMD-001).",
    codes=["AMD-001"],
)
def check_closed_pos(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    found = _target(document, ctx)
    if found is None:
        return
    amendment, records, _ = found
    for number in (amendment.pos_number, *amendment.merged_pos):
        record = records.get(str(number))
        if record is not None and not record.status.is_open:
            yield finding(
                "AMD-001", pos=record.number, status=str(record.status), location=_at("PosNumber")
            )


@rule(
    id="ART6-1-FIELDS",
    article="Art. 6(1) a-c",
    severity=RuleSeverity.REFUSE,
    checks="Kinds a-c change at least one field, and only the fields their letter covers: "
    "a packages.kind_code/marks, containers.N.number/size_type; b packages.count, "
    "gross_weight_kg, volume_m3, goods.N.quantity; c consignee/notify name, npwp, address. "
    "Kinds d and e change no field directly.",
    example="Kind C changing packages.count: refused (AMD-002).",
    codes=["AMD-002", "AMD-004"],
)
def check_fields(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Amendment):
        return
    kind = document.kind
    allowed = AMENDABLE_FIELDS.get(kind)
    if allowed is not None and not document.changes:
        yield finding("AMD-004", kind=str(kind), what="Changes/Change", location=_at("Changes"))
    for change in document.changes:
        if allowed is None or not allowed.match(change.field):
            yield finding(
                "AMD-002",
                field=change.field,
                kind=str(kind),
                letter=_LETTER[kind],
                location=_at("Changes"),
            )


@rule(
    id="ART6-1-STALE",
    article="Art. 6(1)",
    severity=RuleSeverity.REFUSE,
    checks="Every change's old value is the field's current value in the pos (its latest "
    "version), and the new value fits the field: an amendment of stale data is refused.",
    example="consignee.name old value 'PT A' when the pos now says 'PT B': refused (AMD-003).",
    codes=["AMD-003", "AMD-010", "AMD-011"],
)
def check_stale(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    found = _target(document, ctx)
    if found is None:
        return
    amendment, _, target = found
    allowed = AMENDABLE_FIELDS.get(amendment.kind)
    changes = [c for c in amendment.changes if allowed is not None and allowed.match(c.field)]
    if not changes:
        return
    if target.pos is None:
        yield finding("AMD-010", pos=target.number, location=_at("PosNumber"))
        return
    for change in changes:
        try:
            current = field_value(target.pos, change.field)
            amended(target.pos, [change])
        except ChangeError as exc:
            yield finding("AMD-011", field=change.field, detail=str(exc), location=_at("Changes"))
            continue
        if not same_value(current, change.old_value):
            yield finding(
                "AMD-003",
                field=change.field,
                old=change.old_value or "",
                current="" if current is None else str(current),
                pos=target.number,
                location=_at("Changes"),
            )


@rule(
    id="ART6-1-MERGE",
    article="Art. 6(1) d",
    severity=RuleSeverity.REFUSE,
    checks="A merge (kind d) names other pos of the same BC 1.1 with the same shipper, "
    "consignee and notify party (name and address) and port of loading, and gives the "
    "revised B/L or AWB.",
    example="Merging pos 0001 (shipper Shanghai Global Freight) with pos 0002 (shipper Lion "
    "City Polymers): refused, the shipper differs (AMD-006).",
    codes=["AMD-004", "AMD-005", "AMD-006", "AMD-009", "AMD-010"],
)
def check_merge(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Amendment) or document.kind is not AmendmentKind.MERGE_POS:
        return
    if not document.merged_pos:
        yield finding("AMD-004", kind="D", what="MergedPos/PosNumber", location=_at("MergedPos"))
    if document.revised_transport_document is None:
        yield finding("AMD-005", location=_at("RevisedTransportDocument"))
    numbers = [str(n) for n in (document.pos_number, *document.merged_pos)]
    for number in sorted({n for n in numbers if numbers.count(n) > 1}):
        yield finding("AMD-009", pos=number, location=_at("MergedPos"))
    found = _target(document, ctx)
    if found is None:
        return
    _, records, target = found
    others = [records[n] for n in dict.fromkeys(numbers[1:]) if n in records and n != numbers[0]]
    for record in (target, *others):
        if record.pos is None:
            yield finding("AMD-010", pos=record.number, location=_at("MergedPos"))
    if target.pos is None:
        return
    for other in others:
        if other.pos is None:
            continue
        for name in MERGE_FIELDS:
            ours, theirs = getattr(target.pos, name), getattr(other.pos, name)
            if _merge_key(ours) != _merge_key(theirs):
                yield finding(
                    "AMD-006",
                    pos=target.number,
                    other=other.number,
                    field=name,
                    ours=_show(ours),
                    theirs=_show(theirs),
                    location=_at("MergedPos"),
                )


@rule(
    id="ART6-3-BREAKDOWN",
    article="Art. 6(3)",
    severity=RuleSeverity.REFUSE,
    checks="A breakdown of a consolidated pos (kind e) gives house-level sub-pos directly "
    "under the amended pos, none of which exists yet; it applies without approval.",
    example="Breakdown of pos 0001 into sub-pos 0001/0003: accepted and applied at once; "
    "repeating sub-pos 0001/0001, which exists: refused (AMD-007).",
    codes=["AMD-004", "AMD-007"],
)
def check_breakdown(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    if not isinstance(document, Amendment) or document.kind is not AmendmentKind.BREAKDOWN:
        return
    if not document.breakdown:
        yield finding("AMD-004", kind="E", what="Breakdown/SubPos", location=_at("Breakdown"))
    parent = document.pos_number
    seen: set[str] = set()
    records = ctx.bc11.pos_records(document.bc11) or {}
    for top in document.breakdown:
        number = str(top.number)
        direct = (
            top.number.pos == parent.pos
            and (parent.sub_pos == 0 and top.number.sub_pos > 0 and top.number.sub_sub_pos == 0)
        ) or (
            parent.sub_pos > 0
            and parent.sub_sub_pos == 0
            and top.number.pos == parent.pos
            and top.number.sub_pos == parent.sub_pos
            and top.number.sub_sub_pos > 0
        )
        if not direct or number in records or number in seen:
            yield finding("AMD-007", sub=number, pos=str(parent), location=_at("Breakdown"))
        seen.add(number)


@rule(
    id="ART6-2-APPROVAL",
    article="Art. 6(2)",
    severity=RuleSeverity.FLAG,
    checks="Amendments of kinds a-d are accepted as PENDING_APPROVAL, flagged APPROVAL, and "
    "change nothing until the head of office approves them (pde-gateway amendments "
    "approve|refuse); kind e is not flagged.",
    example="Consignee correction (kind c): PENDING_APPROVAL with flag APPROVAL (AMD-008); "
    "the pos keeps its consignee until approval.",
    codes=["AMD-008"],
)
def check_approval(document: Document, ctx: RuleContext) -> Iterator[Finding | Flag]:
    # A flag, not a warning: flags are dropped from refused documents, and a refused
    # amendment waits for nobody.
    if isinstance(document, Amendment) and document.kind.requires_approval:
        yield Flag(code="APPROVAL", detail="AMD-008")


# -- applying an amendment (pure) -------------------------------------------------------------


def field_value(pos: Pos, path: str) -> object:
    """The current value at a canonical field path (``None`` for an absent notify party)."""
    value: Any = pos
    for part in path.split("."):
        if value is None:
            return None
        value = _step(value, part, path)
    return value


def amended(pos: Pos, changes: Sequence[FieldChange]) -> Pos:
    """The pos with the changes made; :class:`ChangeError` when one cannot be made."""
    for change in changes:
        pos = _replace(pos, change.field.split("."), change.new_value, change.field)
    return pos


def merged(target: Pos, others: Sequence[Pos], revised: TransportDocument) -> Pos:
    """Art. 6(1) d: one pos under the revised B/L holding what the merged pos held."""
    every = (target, *others)
    volumes = [p.volume_m3 for p in every]
    containers = {c.number: c for p in every for c in p.containers}
    return dataclasses.replace(
        target,
        transport_document=revised,
        packages=dataclasses.replace(target.packages, count=sum(p.packages.count for p in every)),
        gross_weight_kg=sum((p.gross_weight_kg for p in every), Decimal(0)),
        volume_m3=None if None in volumes else sum((v or Decimal(0) for v in volumes), Decimal(0)),
        containers=tuple(containers.values()),
        goods=tuple(g for p in every for g in p.goods),
        sub_pos=(),
    )


def same_value(current: object, old: str | None) -> bool:
    """The old value a change states equals the current one (numbers compared as numbers)."""
    if current is None or current == "":
        return old is None or old.strip() == ""
    if old is None:
        return False
    if isinstance(current, int | Decimal):
        try:
            return Decimal(old.strip()) == Decimal(current)
        except InvalidOperation:
            return False
    return _norm(str(current)) == _norm(old)


def _step(value: Any, part: str, path: str) -> Any:
    if part.isdigit():
        index = int(part) - 1
        if not isinstance(value, tuple) or not 0 <= index < len(value):
            raise ChangeError(f"{path}: there is no item {part}")
        return value[index]
    if not dataclasses.is_dataclass(value) or part not in {
        f.name for f in dataclasses.fields(value)
    }:
        raise ChangeError(f"{path}: no field {part}")
    return getattr(value, part)


def _replace(value: Any, parts: list[str], new: str, path: str) -> Any:
    head, rest = parts[0], parts[1:]
    if value is None:
        # Adding a notify party that the manifest left out: only its name makes one.
        if parts == ["name"]:
            return Party(name=new)
        raise ChangeError(f"{path}: the pos has no {path.rsplit('.', 1)[0]}")
    child = _step(value, head, path)
    replacement = _convert(head, new, path) if not rest else _replace(child, rest, new, path)
    if head.isdigit():
        items = list(value)
        items[int(head) - 1] = replacement
        return tuple(items)
    return dataclasses.replace(value, **{head: replacement})


def _convert(name: str, new: str, path: str) -> object:
    try:
        if name in _INTEGERS:
            number = int(new.strip())
            if number < 0:
                raise ValueError(new)
            return number
        if name in _DECIMALS:
            decimal = Decimal(new.strip())
            if not decimal.is_finite() or decimal < 0:
                raise ValueError(new)
            return decimal
    except (ValueError, InvalidOperation) as exc:
        raise ChangeError(f"{path}: '{new}' is not a valid value") from exc
    return new


def _merge_key(value: object) -> tuple[str, str] | str | None:
    if isinstance(value, Party):
        return (_norm(value.name), _norm(value.address or ""))
    if value is None:
        return None
    return _norm(str(value))


def _show(value: object) -> str:
    if isinstance(value, Party):
        return value.name + (f", {value.address}" if value.address else "")
    return "-" if value is None else str(value)


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _at(path: str) -> Location:
    return Location(path=path)
