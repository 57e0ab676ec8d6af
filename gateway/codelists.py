"""The code lists documents are checked against: UN/LOCODE and UN/ECE Rec. 21 package types.

The lists are plain files in ``schemas/codes/`` (source, edition and licence in its
``README.md``; ``scripts/update_code_lists.py`` makes them from UNECE's releases), read once,
on first use. The UN/LOCODE list has about 116,000 codes: as one frozenset of strings it would
hold some 10 MB in every process for the few countries documents name, so it is kept as one
string per country (0.5 MB in all, read in about 1 ms) and a country's codes become a frozenset
the first time a document names that country (Indonesia's 744 codes: 0.07 MB; the largest,
the United States' 20,841: 3.2 MB). Lookups are set lookups after that.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

from gateway.exceptions import ConfigurationError
from gateway.resources import schema_path

CODES_DIR = schema_path("codes")


class CodeList:
    """The codes of one list; ``code in codes`` tests membership.

    Codes are grouped by their first ``prefix`` characters (the country of a UN/LOCODE); each
    group is one space-separated string until its first lookup makes it a frozenset.
    """

    __slots__ = ("_blocks", "_lock", "_prefix", "_sets", "edition", "name")

    def __init__(self, *, name: str, edition: str, blocks: dict[str, str], prefix: int) -> None:
        self.name = name  # as refusals name it: "UN/LOCODE"
        self.edition = edition  # the release the file was made from, e.g. "2023-1"
        self._prefix = prefix
        self._blocks = blocks  # prefix -> the rest of each code, space-separated
        self._sets: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    def __contains__(self, code: object) -> bool:
        if not isinstance(code, str) or len(code) <= self._prefix:
            return False
        key = code[: self._prefix]
        members = self._sets.get(key)
        if members is None:
            block = self._blocks.get(key)
            if block is None:
                return False
            with self._lock:  # worker threads check documents side by side
                members = self._sets.get(key)
                if members is None:
                    members = self._sets[key] = frozenset(block.split())
        return code[self._prefix :] in members

    def __len__(self) -> int:
        return sum(len(block.split()) for block in self._blocks.values())


def read_code_list(path: Path, name: str, *, grouped: bool = False) -> CodeList:
    """A code list file: ``# edition: ...`` and other ``#`` lines, then either one code a line
    (anything after a tab is a comment, e.g. the code's name) or, ``grouped``, a line per
    2-character prefix: the prefix, then the rest of each code (``ID TPP SUB ...``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"code list {name} cannot be read: {exc}") from exc
    edition = ""
    blocks: dict[str, str] = {}
    single: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            if key.strip() == "edition":
                edition = value.strip()
        elif not line.strip():
            continue
        elif grouped:
            prefix, _, rest = line.strip().partition(" ")
            blocks[prefix] = rest
        else:
            single.append(line.split("\t", 1)[0].strip())
    if not grouped:
        blocks = {"": " ".join(single)} if single else {}
    if not blocks or not edition:
        raise ConfigurationError(f"{path}: code list {name} has no edition line or no codes")
    return CodeList(name=name, edition=edition, blocks=blocks, prefix=2 if grouped else 0)


@functools.cache
def unlocodes() -> CodeList:
    """UN/LOCODE (UNECE Recommendation 16): every code of the edition, all functions."""
    return read_code_list(CODES_DIR / "unlocode.txt", "UN/LOCODE", grouped=True)


@functools.cache
def package_types() -> CodeList:
    """UN/ECE Recommendation 21 package type codes (Annexes V and VI)."""
    return read_code_list(CODES_DIR / "rec21.txt", "UN/ECE Rec. 21")
