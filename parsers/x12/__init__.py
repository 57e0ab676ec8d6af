"""ANSI X12 in: 323 (→ RKSP/JKSP) and 309 (→ manifests, amendments), release 004010.

``X12Parser.parse`` is pure: bytes in, canonical records and an :class:`X12Report` out.

1. The envelope pass reads interchanges, groups and transaction sets with pyx12's reader,
   sorting its control-number and count findings by level, and maps each transaction set
   we serve to canonical records as soon as its SE is read (then drops its segments).
2. pyx12 validates the groups we serve against our maps (``schemas/x12``); its 997/999 is
   read back into per-set verdicts.
3. Every transaction set becomes its own document: a record when the interchange, its
   group and the set are accepted, otherwise a refusal carrying the acknowledgment codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.exceptions import DocumentError
from gateway.messages import finding
from gateway.model import Document, DocumentType, Finding, Location
from parsers.base import (
    EdiParser,
    Format,
    ParsedDocument,
    ParseResult,
    ZoneForOffice,
    check_size,
    parsed,
)
from parsers.x12.envelope import Envelope, Stream, check_syntax, decode, read
from parsers.x12.report import Echo, X12Report
from parsers.x12.segments import Segment, TransactionSet
from parsers.x12.validation import SetKey, Verdict, served, set_ids, validate_streaming
from parsers.x12.verdicts import (
    GroupVerdict,
    SetVerdict,
    from_envelope,
    group_findings,
    interchange_findings,
)

_GUESSED_TYPE = {"323": DocumentType.RKSP, "309": DocumentType.INWARD_MANIFEST}


@dataclass(frozen=True, kw_only=True, slots=True)
class _Mapped:
    position: tuple[int, int, int]  # (interchange, group, set) in the file
    set_id: str
    control_number: str
    line: int
    office_code: str | None
    result: list[Document] | DocumentError | None  # None: not a set we serve


class X12Parser(EdiParser):
    """``zone_for_office`` gives an office's time zone: X12 times are the office's local time
    unless a segment names its time code (see docs/formats/x12.md)."""

    format = Format.X12

    def parse(self, data: bytes, *, max_bytes: int) -> ParseResult:
        check_size(data, max_bytes=max_bytes)
        text = decode(data)
        check_syntax(text)
        read_once = self._read_once(text) if _all_served(text) else None
        if read_once is not None:
            envelope, report, mapped, checked = read_once
        else:  # a group without a map: pyx12 cannot run over the whole file
            envelope = Envelope()
            report = X12Report(envelope=envelope)
            mapped = []
            for transaction in read(text, envelope):
                mapped.append(self._take(transaction, envelope, report))
            checked = {}
        verdicts = self._verdicts(envelope, report, checked)
        documents: list[ParsedDocument] = []
        for item in mapped:
            refusal = self._refusal(envelope, report, verdicts, item)
            start = len(documents)
            location = Location(line=item.line, path=f"ST {item.set_id} {item.control_number}")
            theirs = envelope.interchanges[item.position[0]].interchange
            control_key = f"isa:{theirs.sender_id}:{theirs.control_number}"
            result = item.result
            documents += parsed(
                None if refusal or isinstance(result, DocumentError) else result,
                location=location,
                findings=refusal or (result.findings if isinstance(result, DocumentError) else ()),
                document_type=_GUESSED_TYPE.get(item.set_id, DocumentType.UNKNOWN),
                office_code=item.office_code,
                control_key=control_key,
                envelope_sender=theirs.sender_id,
            )
            report.documents[item.position] = list(range(start, len(documents)))
        if not documents:
            # No transaction set to answer for: the envelope's own faults are the refusal.
            faults = self._envelope_findings(envelope)
            if faults:
                documents.append(
                    ParsedDocument(
                        document=None,
                        location=Location(line=1),
                        findings=tuple(faults),
                    )
                )
        return ParseResult(format=Format.X12, documents=tuple(documents), envelope=report)

    @staticmethod
    def _envelope_findings(envelope: Envelope) -> list[Finding]:
        found = []
        for interchange in envelope.interchanges:
            found += interchange_findings(interchange.errors, refusing_only=False)
            # A segment fault outside any transaction set: reported like one inside.
            loose = SetVerdict(set_id="-", control_number="-", line=0)
            from_envelope([e for e in interchange.errors if e.level == "seg"], loose)
            found += loose.findings()
            for group in interchange.groups:
                found += group_findings(group.group.control_number, group.errors)
        return found

    @staticmethod
    def _map(
        transaction: TransactionSet, envelope: Envelope, zone_for_office: ZoneForOffice | None
    ) -> _Mapped:
        isa_index = len(envelope.interchanges) - 1
        gs_index = len(envelope.interchanges[isa_index].groups) - 1
        st_index = len(envelope.interchanges[isa_index].groups[gs_index].sets) - 1
        group = transaction.group
        result: list[Document] | DocumentError | None = None
        if served(transaction.interchange.version, group.version, group.functional_id):
            from parsers.x12.documents import to_documents  # the transaction-set mappers

            try:
                result = to_documents(transaction, zone_for_office=zone_for_office)
            except DocumentError as exc:
                result = exc
        office = group.receiver if group.receiver.isdigit() and len(group.receiver) == 6 else None
        return _Mapped(
            position=(isa_index, gs_index, st_index),
            set_id=transaction.set_id,
            control_number=transaction.control_number,
            line=transaction.line,
            office_code=office,
            result=result,
        )

    def _take(self, transaction: TransactionSet, envelope: Envelope, report: X12Report) -> _Mapped:
        item = self._map(transaction, envelope, self.zone_for_office)
        report.echoes[item.position] = echo_of(transaction)
        return item

    def _read_once(
        self, text: str
    ) -> tuple[Envelope, X12Report, list[_Mapped], dict[SetKey, Verdict]] | None:
        """pyx12 validates and our envelope pass and mapping ride along, segment by segment:
        the file is tokenised once. None when pyx12 stops (the caller reads it on its own)."""
        envelope = Envelope()
        report = X12Report(envelope=envelope)
        mapped: list[_Mapped] = []
        stream = Stream(envelope, text[3], text[104], text[105])
        failure: list[BaseException] = []

        def on_segment(segment: object | None, errors: list[object]) -> None:
            if failure:
                return
            try:  # pyx12's driver swallows what its callback raises: keep it for later
                done = stream.segment(segment) if segment is not None else stream.close()
                stream.errors(errors)
                errors.clear()
                if done is not None:
                    mapped.append(self._take(done, envelope, report))
            except BaseException as exc:
                failure.append(exc)

        checked = validate_streaming(text, on_segment)
        if failure:
            raise failure[0]
        if checked is None:
            return None
        return envelope, report, mapped, checked

    @staticmethod
    def _verdicts(
        envelope: Envelope, report: X12Report, checked: dict[SetKey, Verdict]
    ) -> dict[tuple[int, int, int], SetVerdict]:
        serving = {
            (i, g): served(isa.interchange.version, grp.group.version, grp.group.functional_id)
            for i, isa in enumerate(envelope.interchanges)
            for g, grp in enumerate(isa.groups)
        }
        out = {}
        for i, isa in enumerate(envelope.interchanges):
            for g, grp in enumerate(isa.groups):
                group = grp.group
                verdict = GroupVerdict(
                    functional_id=group.functional_id,
                    control_number=group.control_number,
                    version=group.version,
                    codes=[e.code for e in grp.errors if e.level == "gs"],
                )
                for s, st in enumerate(grp.sets):
                    set_verdict = SetVerdict(
                        set_id=st.set_id, control_number=st.control_number, line=st.line
                    )
                    from_envelope(st.errors, set_verdict)
                    if not serving[(i, g)]:
                        set_verdict.codes.append("1")
                        set_verdict.messages.append(
                            f"transaction set {st.set_id} in group {group.functional_id} "
                            f"{group.version} is not served"
                        )
                    else:
                        found = checked.get((group.control_number, st.control_number))
                        if found is not None and found[0] != "A":
                            status, codes, segments = found
                            set_verdict.codes += [c for c in codes if c not in set_verdict.codes]
                            set_verdict.segments += segments
                            if status == "R" and not codes and not segments:
                                set_verdict.codes.append("5")
                    verdict.sets.append(set_verdict)
                    out[(i, g, s)] = set_verdict
                report.groups[(i, g)] = verdict
        return out

    @staticmethod
    def _refusal(
        envelope: Envelope,
        report: X12Report,
        verdicts: dict[tuple[int, int, int], SetVerdict],
        item: _Mapped,
    ) -> list[Finding]:
        isa_index, gs_index, _ = item.position
        interchange = envelope.interchanges[isa_index]
        found = interchange_findings(interchange.errors, refusing_only=True)
        group = report.groups[(isa_index, gs_index)]
        found += group_findings(group.control_number, interchange.groups[gs_index].errors)
        verdict = verdicts[item.position]
        if verdict.status == "R":
            found += verdict.findings()
            if item.result is None:
                found.append(
                    finding(
                        "X12-007",
                        set_id=item.set_id,
                        fic=interchange.groups[gs_index].group.functional_id,
                        version=interchange.groups[gs_index].group.version,
                        location=Location(line=item.line),
                    )
                )
        return found


__all__ = ["X12Parser"]


def echo_of(transaction: TransactionSet) -> Echo:
    """Keep what a 355 repeats: M10 and P4 (or V1 and the R4*D call of a 323), bills' M11."""
    first: dict[str, Segment] = {}
    bills: dict[str, tuple[str, ...]] = {}
    lx = ""
    for segment in transaction.segments:
        first.setdefault(segment.id, segment)
        if segment.id == "LX":
            lx = segment.get(1)
        elif segment.id == "M11" and lx:
            bills.setdefault(lx, tuple(segment.get(i) for i in range(1, 13)))
    if "M10" in first:
        heading, port = first["M10"], first.get("P4")
        return Echo(
            m10=tuple(heading.get(i) for i in range(1, 13)),
            p4=tuple(port.get(i) for i in range(1, 6)) if port else (),
            bills=bills,
        )
    v1 = first.get("V1")
    arrival = next((s for s in transaction.segments if s.id == "R4" and s.get(1) == "D"), None)
    eta = next((s for s in transaction.segments if s.id == "DTM" and s.get(1) == "371"), None)
    m10: tuple[str, ...] = ()
    if v1 is not None:
        # M10: SCAC, mode, flag, vessel code, name, voyage; 10 = vessel code qualifier.
        m10 = (
            v1.get(5),
            v1.get(9) or "S",
            v1.get(3),
            v1.get(1),
            v1.get(2),
            v1.get(4),
            "",
            "",
            "",
            v1.get(8),
        )
    p4: tuple[str, ...] = ()
    if arrival is not None:
        p4 = (arrival.get(3), eta.get(2) if eta else "", "", "", eta.get(3) if eta else "")
    return Echo(m10=m10, p4=p4)


def _all_served(text: str) -> bool:
    """Whether every functional group in the file is one we have a map for, and every
    transaction set one its group's map has a place for (a quick look).

    pyx12's validator stops at a group without a map, and fails outright (AttributeError)
    on a set its map does not know when it has something to say about that set.
    """
    if len(text) < 106 or not text.startswith("ISA"):
        return False
    element, terminator = text[3], text[105]
    version, groups = "", 0
    known: frozenset[str] = frozenset()
    for raw in text.split(terminator):
        segment = raw.strip()
        if segment.startswith("ISA" + element):
            fields = segment.split(element)
            version = fields[12] if len(fields) > 12 else ""
        elif segment.startswith("GS" + element):
            fields = segment.split(element)
            if len(fields) < 9 or not served(version, fields[8], fields[1]):
                return False
            known = set_ids(version, fields[8], fields[1])
            groups += 1
        elif segment.startswith("ST" + element):
            fields = segment.split(element)
            if len(fields) < 2 or fields[1] not in known:
                return False
    return groups > 0
