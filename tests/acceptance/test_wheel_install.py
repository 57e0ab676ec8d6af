"""A built wheel is a working gateway: ``pip install .`` ships the schemas and the config.

The wheel is built from a copy of the sources (nothing is written into the checkout), installed
into a fresh virtualenv outside the repository, and run from a folder outside it on every file
in ``docs/examples/``; its outcomes must be those of the editable install. The virtualenv gets
the gateway only from the wheel; its third-party dependencies are borrowed from the development
environment through a ``.pth`` line (appended after the venv's own site-packages, so the
wheel's packages come first), which keeps the test offline and fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"
SOURCES = ("gateway", "parsers", "handlers", "schemas", "config", "pyproject.toml")
EDITABLE_SCRIPT = Path(sys.executable).with_name("pde-gateway")


def _run(
    args: list[str], *, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=240, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0 or not check, f"{args}: {result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "src"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=ignore)
        else:
            shutil.copy2(REPO / name, source / name)
    wheels = tmp / "wheels"
    # pip's isolated build fetches the build backend (setuptools) from the index or its cache.
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), "."],
        cwd=source,
    )
    (wheel,) = wheels.glob("pde_gateway-*.whl")
    return wheel


def _install(wheel: Path, tmp: Path) -> Path:
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)])
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    ours = sysconfig.get_paths()
    (Path(site.stdout.strip()) / "borrowed_dependencies.pth").write_text(
        f"{ours['purelib']}\n{ours['platlib']}\n", encoding="utf-8"
    )
    return venv


def _outcomes(
    script: Path, files: list[Path], data_dir: Path, cwd: Path
) -> tuple[int, list[tuple[str, ...]]]:
    """The exit code (1 when a document is refused) and each document's status and errors."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PDE_GATEWAY_", "PYTHON"))}
    env["PDE_GATEWAY_DATA_DIR"] = str(data_dir)
    result = _run(
        [str(script), "process", *map(str, files), "--partner", "DEMO", "--json"],
        check=False,
        cwd=cwd,
        env=env,
    )
    assert result.returncode in (0, 1), result.stderr
    documents = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, [
        (d["source_name"], d["status"], *sorted(e["code"] for e in d["errors"])) for d in documents
    ]


def test_wheel_installs_a_working_gateway(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    venv = _install(wheel, tmp_path)
    python = venv / "bin" / "python"
    where = _run(
        [
            str(python),
            "-c",
            "import gateway, schemas, config; from gateway.resources import schema_path, "
            "config_path; print(gateway.__file__, schema_path('xml', 'rksp.xsd'), "
            "config_path('offices.toml'))",
        ],
        cwd=tmp_path,
    ).stdout.split()
    for path in where:
        assert Path(path).is_relative_to(venv), where
        assert Path(path).is_file(), path

    # One data dir per format: within one, a later example of the same call is refused as a
    # duplicate, so each format's examples run in the same order in both installs.
    formats = sorted({f.suffix for f in EXAMPLES.iterdir()})
    assert formats == [".edi", ".x12", ".xml"]
    for suffix in formats:
        files = sorted(EXAMPLES.glob(f"*{suffix}"))
        wheel_code, wheel_outcomes = _outcomes(
            venv / "bin" / "pde-gateway", files, tmp_path / f"wheel{suffix}", tmp_path
        )
        editable_code, editable_outcomes = _outcomes(
            EDITABLE_SCRIPT, files, tmp_path / f"editable{suffix}", tmp_path
        )
        assert (wheel_code, wheel_outcomes) == (editable_code, editable_outcomes)
        assert len(wheel_outcomes) >= len(files)
        assert any(outcome[1] == "REGISTERED" for outcome in wheel_outcomes), wheel_outcomes

    # Without a data dir of its own, an installed gateway keeps its data under the current
    # folder (the packaged config's data_dir = "var"), never inside site-packages.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PDE_GATEWAY_", "PYTHON"))}
    here = tmp_path / "operator"
    here.mkdir()
    _run(
        [
            str(venv / "bin" / "pde-gateway"),
            "process",
            str(EXAMPLES / "rksp.xml"),
            "--partner",
            "DEMO",
        ],
        check=False,
        cwd=here,
        env=env,
    )
    assert (here / "var" / "gateway.db").is_file()
    assert not any(p.name == "var" for p in venv.rglob("var") if p.is_dir())
