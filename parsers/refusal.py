"""How a format's mapper stops at the first thing it cannot take: raise :class:`Refused` deep
in the mapping, turn it into a located ``DocumentError`` at the mapper's entry point."""

from __future__ import annotations

from typing import NoReturn

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
