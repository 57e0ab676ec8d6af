"""Developer entry points exist and are wired together as documented."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ci_entry_point_runs_make_test() -> None:
    ci_run = ROOT / ".ci" / "run"
    assert os.access(ci_run, os.X_OK), ".ci/run must be executable"
    text = ci_run.read_text()
    assert re.search(r"^\s*export CI=true\s*$", text, re.M)
    assert re.search(r"^\s*make test\b", text, re.M), ".ci/run must call `make test`"


def test_readme_documents_make_targets() -> None:
    path = ROOT / "README.md"
    assert path.is_file(), "README.md is missing; it must document `make run` and `make test`"
    readme = path.read_text()
    assert "make run" in readme
    assert "make test" in readme


def test_install_system_deps_is_executable() -> None:
    script = ROOT / "scripts" / "install-system-deps"
    assert script.is_file()
    assert os.access(script, os.X_OK), "scripts/install-system-deps must be executable"
    assert "postgresql" in script.read_text()


def test_makefile_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("venv", "run", "test", "lint", "bench", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile lacks `{target}`"


MAX_MODULE_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    """Small modules with one noun each: a module past this has outgrown its room (issue 15)."""
    over = {
        str(path.relative_to(ROOT)): count
        for package in ("gateway", "parsers", "handlers")
        for path in (ROOT / package).rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert over == {}, f"split these modules: {over}"
