"""The README's layout and docs/architecture.md name every module of the tree (issue 15).

A new module or package directly in ``gateway/`` or ``parsers/`` is placed in the picture of
the house when it is made: a line in the README's *Layout* block and, for ``gateway/``, in
docs/architecture.md (its layer).
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("### Layout")
    opening = text.index("```", start)
    return text[opening : text.index("```", opening + 3)]


def _entries(package: str) -> list[str]:
    """``name.py`` for modules, ``name/`` for packages, directly in ``package``."""
    found = []
    for path in sorted((ROOT / package).iterdir()):
        if path.name.startswith("__"):
            continue
        if path.suffix == ".py":
            found.append(path.name)
        elif (path / "__init__.py").is_file():
            found.append(f"{path.name}/")
    return found


@pytest.mark.parametrize("package", ["gateway", "parsers"])
def test_readme_layout_names_every_module(package: str) -> None:
    block = _layout_block()
    missing = [entry for entry in _entries(package) if entry not in block]
    assert not missing, f"README.md, ### Layout: add {package}/ {missing}"


def test_architecture_places_every_gateway_module() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [entry for entry in _entries("gateway") if entry not in text]
    assert not missing, f"docs/architecture.md: place gateway/ {missing} in a layer"
