"""How a format's mapper stops at the first thing it cannot take: raise :class:`Refused` deep
in the mapping, turn it into a located ``DocumentError`` at the mapper's entry point."""

from __future__ import annotations

from typing import NoReturn, Protocol

from gateway.exceptions import DocumentError
from gateway.messages import finding
from gateway.model.findings import Location


class Refused(Exception):
    def __init__(self, code: str, where: Location | None, **context: object) -> None:
        super().__init__(code)
        self.code = code
        self.where = where
        self.context = context

    def error(self, *, default: Location) -> DocumentError:
        """The refusal as users see it: catalogue code, both languages, the place."""
        found = finding(self.code, location=self.where or default, **self.context)  # type: ignore[arg-type]
        return DocumentError([found])


def refuse(code: str, where: Location | None, **context: object) -> NoReturn:
    raise Refused(code, where, **context)


class Located(Protocol):
    """A segment of any EDI format, as far as a finding needs to place it."""

    @property
    def name(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def position(self) -> int: ...


def where(segment: Located | None) -> Location | None:
    """The segment's place: its number in the file and its position in the message."""
    if segment is None:
        return None
    return Location(line=segment.line, path=f"{segment.name} at position {segment.position}")


def refuse_at(code: str, at: Located | None, /, **context: object) -> NoReturn:
    raise Refused(code, where(at), **context)
