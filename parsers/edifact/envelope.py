"""The UN/EDIFACT envelope: UNA, UNB/UNZ, optional UNG/UNE, UNH/UNT.

Tokenising is pydifact's (a maintained, dependency-free tokenizer that honours UNA service
characters and the release character); it does not check envelopes, character sets or
structure, so that is done here and in ``structure.py``. Findings carry the CONTRL level
(interchange UCI, message UCM, segment UCS, element UCD) and the ISO 9735 error code (0085).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segments import Segment as PydifactSegment
from pydifact.segments import SegmentFactory

from gateway.exceptions import DocumentError, EncodingError
from gateway.messages import finding
from gateway.model.findings import Location
from parsers.edifact.segments import InterchangeHeader, Message, Segment

# The characters level A and B allow (ISO 9735 part 1, annex A); a match is one outside.
_LEVEL_A = "A-Z0-9 .,\\-()/='+:?!\"%&*;<>\n\r"
_OUTSIDE = {
    "UNOA": re.compile(f"[^{_LEVEL_A}]"),
    "UNOB": re.compile(f"[^a-z@\\[\\]_{{}}\\\\|~#${_LEVEL_A}]"),
}
# Control characters: in no character set an interchange may declare (line ends apart).
_CONTROL = re.compile("[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]")
# "UNA" and its six service characters.
UNA_LENGTH = 9
# UNB S003 0010 every interchange must be addressed to (docs/formats/edifact.md).
GATEWAY_ID = "DJBCPDE"
CHARSETS = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvelopeError:
    level: str  # "UCI" interchange, "UCF" group, "UCM" message, "UCS" segment
    code: str  # ISO 9735 syntax error code (data element 0085)
    message: str
    line: int | None = None
    segment: str | None = None  # tag of the segment in error
    position: int | None = None  # position in the message (UNH = 1) or interchange
    element: int | None = None  # data element position in the segment (CONTRL UCD)
    component: int | None = None  # component position in the element (CONTRL UCD)


@dataclass(kw_only=True, slots=True)
class MessageReport:
    reference: str
    type: str  # CUSCAR:D:95B:UN
    line: int
    group: str | None = None  # UNG 0048 of the group the message is in
    errors: list[EnvelopeError] = field(default_factory=list)


@dataclass(kw_only=True, slots=True)
class Envelope:
    header: InterchangeHeader | None = None
    characters: Characters = field(default_factory=Characters)
    errors: list[EnvelopeError] = field(default_factory=list)  # interchange and group level
    messages: list[MessageReport] = field(default_factory=list)
    group_references: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    """Decode in the character set the UNB declares (UNB itself is always ASCII-safe)."""
    head = data[:200].decode("latin-1")
    match = re.search(r"UNB.(UNO[A-Z])", head)
    syntax = match.group(1) if match else "UNOC"
    codec = CHARSETS.get(syntax, "latin-1")
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise EncodingError(
            [
                finding(
                    "FILE-003",
                    encoding=f"{syntax} ({codec})",
                    detail=f"byte 0x{data[exc.start]:02X} at offset {exc.start}",
                    location=Location(line=data.count(b"\n", 0, exc.start) + 1),
                )
            ]
        ) from exc
    return text


def read(text: str, envelope: Envelope) -> list[Message]:
    """Every message of the interchange; envelope faults go into ``envelope``.

    Raises DocumentError when the text is not an interchange at all (no UNB).
    """
    _check_service_string(text)
    characters = Parser.get_control_characters(text) or Characters()  # type: ignore[no-untyped-call]
    envelope.characters = characters
    _check_syntax_identifier(text, characters)
    _check_releases(text, characters, envelope)
    raw = _tokenise(text, envelope)
    raw = [s for s in raw if s.tag != "UNA"]
    if not raw or raw[0].tag != "UNB":
        raise DocumentError(
            [
                finding(
                    "EDI-001",
                    detail="the interchange does not start with UNB",
                    location=Location(line=1),
                )
            ]
        )
    return _walk(raw, envelope)


def _unreadable(detail: str, line: int) -> DocumentError:
    return DocumentError([finding("EDI-001", detail=detail, location=Location(line=line))])


def _check_service_string(text: str) -> None:
    """A UNA names six service characters, and the four that split the text must differ.

    pydifact takes them by position without a look (a short UNA is an ``IndexError``), and
    two equal ones (``UNA::.? '``) make every later split a guess.
    """
    if not text.startswith("UNA"):
        return
    if len(text) < UNA_LENGTH:
        raise _unreadable(
            f"the UNA segment breaks off after {len(text) - 3} of its six service characters",
            1,
        )
    component, data, release, terminator = text[3], text[4], text[6], text[8]
    named = {
        "component separator": component,
        "data element separator": data,
        "segment terminator": terminator,
    }
    if release != " ":  # a space: no release character
        named["release character"] = release
    seen: dict[str, str] = {}
    for role, char in named.items():
        if char in seen:
            raise _unreadable(f"the UNA gives {char!r} as both {seen[char]} and {role}", 1)
        if char.isalnum():
            raise _unreadable(f"the UNA gives {char!r}, a letter or digit, as {role}", 1)
        seen[char] = role


def _check_syntax_identifier(text: str, characters: Characters) -> None:
    """The UNB opens with S001, syntax identifier and version (``UNB+UNOC:3``).

    pydifact reads both by position from the first element (an ``IndexError`` when it is
    empty or has one part): the interchange cannot be read without them anyway.
    """
    start, line = 0, 1
    if text.startswith("UNA"):
        start, line = UNA_LENGTH, 2
    head = text[start:].lstrip("\r\n")
    if not head.startswith("UNB"):
        return  # read() says the interchange does not start with UNB
    terminator = characters.segment_terminator
    data, component = characters.data_separator, characters.component_separator
    unb = head[: head.find(terminator)] if terminator in head else head
    first = unb[4:].split(data, 1)[0] if unb[3:4] == data else ""
    identifier, _, version = first.partition(component)
    if not identifier or not version:
        raise _unreadable(
            f"the UNB must begin with the syntax identifier and version (S001, e.g. "
            f"UNOC{component}3), not {first!r}",
            line,
        )


class _Tokens(SegmentFactory):
    """pydifact only tokenises: our structure definitions validate (``structure.py``).

    Its own validation finds no directory and warns for every segment, and it warns about a
    segment without data; silencing warnings with ``warnings.catch_warnings`` is not
    thread-safe (workers parse in threads), so neither warning is given a cause.
    """

    @staticmethod
    def create_segment(
        name: str, *elements: Any, validate: bool = True, **where: str
    ) -> PydifactSegment:
        if elements:
            return SegmentFactory.create_segment(name, *elements, validate=False, **where)
        # A tag alone (``ODI'``): pydifact would warn that it is empty; the structure check
        # says what is wrong with it, so it is built with a placeholder, then emptied.
        segment = SegmentFactory.create_segment(name, "", validate=False, **where)
        segment.elements = []
        return segment


def _tokenise(text: str, envelope: Envelope) -> list[Any]:
    """pydifact's segments, up to the first one it cannot read (an envelope error there).

    What came before a fault is still returned, to say which envelope broke.
    """
    raw: list[Any] = []
    segments = Parser(factory=_Tokens()).parse(text)
    while True:
        try:
            segment = next(segments)
        except StopIteration:
            return raw
        except EDISyntaxError as exc:
            # Cut off mid-segment (the last one has no terminator), or two UNAs.
            envelope.errors.append(
                EnvelopeError(
                    level="UCI",
                    code="13",
                    line=len(raw) + 1,
                    message=f"interchange cut off: {exc}",
                )
            )
            return raw
        except ValueError as exc:
            # A tag that is not three capital letters or digits: not a segment at all.
            envelope.errors.append(
                EnvelopeError(
                    level="UCI",
                    code="12",
                    line=len(raw) + 1,
                    message=f"segment {len(raw) + 1} cannot be read: {exc}",
                )
            )
            return raw
        raw.append(segment)


def _check_releases(text: str, characters: Characters, envelope: Envelope) -> None:
    release = characters.escape_character
    services = {
        characters.component_separator,
        characters.data_separator,
        characters.segment_terminator,
        release,
    }
    start = 9 if text.startswith("UNA") else 0  # the UNA names the characters, unreleased
    for match in re.finditer(re.escape(release) + "(.)", text[start:], re.S):
        if match.group(1) not in services:
            line = text.count(characters.segment_terminator, 0, start + match.start()) + 1
            envelope.errors.append(
                EnvelopeError(
                    level="UCI",
                    code="21",
                    line=line,
                    message=f"release character before '{match.group(1)}', which is not a "
                    "service character",
                )
            )
            return


def _walk(raw: Sequence[Any], envelope: Envelope) -> list[Message]:
    messages: list[Message] = []
    unb = _elements(raw[0])
    header = _header(unb, envelope)
    envelope.header = header
    group: str | None = None
    group_count = message_count = 0
    in_message: list[Segment] | None = None
    unh_line = 0
    report: MessageReport | None = None
    unz_seen = False
    for line, segment in enumerate(raw[1:], start=2):
        tag = segment.tag
        elements = _elements(segment)
        if tag == "UNH":
            if in_message is not None and report is not None:
                report.errors.append(
                    EnvelopeError(
                        level="UCM", code="13", line=line, message="UNT missing before the next UNH"
                    )
                )
            in_message, unh_line = [], line
            ref = _get(elements, 1)
            kind = ":".join(_components(elements, 2)[:4])
            report = MessageReport(reference=ref, type=kind, line=line, group=group)
            envelope.messages.append(report)
        if in_message is not None:
            in_message.append(
                Segment(tag=tag, elements=elements, position=len(in_message) + 1, line=line)
            )
        if tag == "UNT" and in_message is not None and report is not None:
            count, ref = _get(elements, 1), _get(elements, 2)
            if ref != report.reference:
                report.errors.append(
                    EnvelopeError(
                        level="UCM",
                        code="28",
                        line=line,
                        segment="UNT",
                        position=len(in_message),
                        message=f"UNT reference {ref} is not UNH reference {report.reference}",
                    )
                )
            if count != str(len(in_message)):
                report.errors.append(
                    EnvelopeError(
                        level="UCM",
                        code="29",
                        line=line,
                        segment="UNT",
                        position=len(in_message),
                        message=f"UNT counts {count} segments, the message has {len(in_message)}",
                    )
                )
            messages.append(_message(in_message, header, group, unh_line))
            message_count += 1
            in_message = None
        elif tag == "UNG":
            group, group_count = _get(elements, 5), group_count + 1
            envelope.group_references.append(group)
        elif tag == "UNE":
            if _get(elements, 2) != group:
                envelope.errors.append(
                    EnvelopeError(
                        level="UCF", code="28", line=line, message="UNE reference is not UNG's"
                    )
                )
            group = None
        elif tag == "UNZ":
            unz_seen = True
            count, ref = _get(elements, 1), _get(elements, 2)
            expected = group_count or message_count
            if ref != header.reference:
                envelope.errors.append(
                    EnvelopeError(
                        level="UCI",
                        code="28",
                        line=line,
                        message=f"UNZ reference {ref} is not UNB reference {header.reference}",
                    )
                )
            if count != str(expected):
                envelope.errors.append(
                    EnvelopeError(
                        level="UCI",
                        code="29",
                        line=line,
                        message=f"UNZ counts {count}, the interchange has {expected}",
                    )
                )
    if in_message is not None and report is not None:
        report.errors.append(
            EnvelopeError(level="UCM", code="13", message="UNT missing at the end")
        )
        messages.append(_message(in_message, header, group, unh_line))
    if not unz_seen and not any(e.code == "13" and e.level == "UCI" for e in envelope.errors):
        envelope.errors.append(EnvelopeError(level="UCI", code="13", message="UNZ missing"))
    return messages


def _header(unb: tuple[str | tuple[str, ...], ...], envelope: Envelope) -> InterchangeHeader:
    syntax = _components(unb, 1)
    syntax_id = syntax[0] if syntax else ""
    version = syntax[1] if len(syntax) > 1 else ""
    if syntax_id not in CHARSETS:
        envelope.errors.append(
            EnvelopeError(
                level="UCI",
                code="2",
                segment="UNB",
                message=f"syntax identifier {syntax_id!r} is not supported",
            )
        )
    elif version not in {"1", "2", "3", "4"}:
        envelope.errors.append(
            EnvelopeError(
                level="UCI",
                code="2",
                segment="UNB",
                message=f"syntax version {version!r} is not supported",
            )
        )
    sender, recipient, stamp = _components(unb, 2), _components(unb, 3), _components(unb, 4)
    return InterchangeHeader(
        syntax_id=syntax_id,
        syntax_version=version,
        sender=sender[0] if sender else "",
        sender_qualifier=sender[1] if len(sender) > 1 else "",
        recipient=recipient[0] if recipient else "",
        recipient_qualifier=recipient[1] if len(recipient) > 1 else "",
        date=stamp[0] if stamp else "",
        time=stamp[1] if len(stamp) > 1 else "",
        reference=_get(unb, 5),
        ack_requested=_get(unb, 9) == "1",
        test=_get(unb, 11) == "1",
    )


def check_recipient(envelope: Envelope) -> None:
    """Interchanges for the gateway are addressed to it; anything else is CONTRL code 7."""
    header = envelope.header
    if header is not None and header.recipient != GATEWAY_ID:
        envelope.errors.append(
            EnvelopeError(
                level="UCI",
                code="7",
                segment="UNB",
                line=1,
                message=f"interchange recipient {header.recipient!r} is not {GATEWAY_ID}, "
                "the gateway's identification",
            )
        )


def check_charset(text: str, envelope: Envelope) -> None:
    """UNOA/UNOB allow only a subset of ASCII, no set a control character (a NUL decodes
    in Latin-1, and PostgreSQL stores it nowhere); anything else is CONTRL code 21."""
    header = envelope.header
    if header is None:
        return
    outside = _OUTSIDE.get(header.syntax_id, _CONTROL)
    characters = envelope.characters
    services = {
        characters.component_separator,
        characters.data_separator,
        characters.segment_terminator,
        characters.escape_character,
    }
    bad = next((m for m in outside.finditer(text) if m.group(0) not in services), None)
    if bad is not None:
        envelope.errors.append(
            EnvelopeError(
                level="UCI",
                code="21",
                line=text.count(envelope.characters.segment_terminator, 0, bad.start()) + 1,
                message=f"character {bad.group(0)!r} is outside the {header.syntax_id} set",
            )
        )


def _message(
    segments: list[Segment], header: InterchangeHeader, group: str | None, line: int
) -> Message:
    unh = segments[0]
    return Message(
        reference=unh.get(1),
        type=unh.get(2, 1),
        version=unh.get(2, 2),
        release=unh.get(2, 3),
        agency=unh.get(2, 4),
        interchange=header,
        group_reference=group,
        recipient=header.recipient,
        segments=tuple(segments),
        line=line,
    )


def _elements(segment: object) -> tuple[str | tuple[str, ...], ...]:
    out: list[str | tuple[str, ...]] = []
    for element in segment.elements:  # type: ignore[attr-defined]
        out.append(tuple(str(c) for c in element) if isinstance(element, list) else str(element))
    return tuple(out)


def _get(elements: tuple[str | tuple[str, ...], ...], index: int) -> str:
    if index > len(elements):
        return ""
    value = elements[index - 1]
    return value[0] if isinstance(value, tuple) else value


def _components(elements: tuple[str | tuple[str, ...], ...], index: int) -> tuple[str, ...]:
    if index > len(elements):
        return ()
    value = elements[index - 1]
    return value if isinstance(value, tuple) else (value,)
