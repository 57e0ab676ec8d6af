"""The console script as a user runs it: `pde-gateway process ... --json`, `status`, `queue`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "manifest-inward.xml"
SCRIPT = Path(sys.executable).with_name("pde-gateway")


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "PDE_GATEWAY_LOG_LEVEL": "WARNING",
    }
    env.pop("PDE_GATEWAY_DATABASE_URL", None)
    return subprocess.run(
        [str(SCRIPT), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def process(tmp_path: Path, file: Path) -> tuple[int, dict[str, Any]]:
    done = cli(tmp_path, "process", str(file), "--partner", "DEMO", "--json")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout + done.stderr
    return done.returncode, json.loads(lines[0])


def test_process_registers_then_refuses_the_same_file_as_duplicate(tmp_path: Path) -> None:
    code, first = process(tmp_path, EXAMPLE)
    assert code == 0
    assert set(first) >= {
        "submission_id",
        "nomor_aju",
        "format",
        "document_type",
        "status",
        "registration",
        "flags",
        "errors",
        "acks",
    }
    assert (first["format"], first["document_type"], first["status"]) == (
        "XML",
        "INWARD_MANIFEST",
        "REGISTERED",
    )
    registration = first["registration"]
    assert registration["kind"] == "BC 1.1" and registration["office"] == "040300"
    assert len(registration["number"]) == 6 and registration["number"].isdigit()
    assert {a["kind"] for a in first["acks"]} == {"RECEIPT", "RESPONSE"}
    for ack in first["acks"]:
        path = Path(ack["path"])
        assert path.is_absolute() and path.is_file()

    code, again = process(tmp_path, EXAMPLE)
    assert code == 1
    assert again["status"] == "REFUSED" and again["registration"] is None
    # Besides the refusals, the rules' warnings (MAN-010: no RKSP of this call) come again.
    # The arrival has its BC 1.1 (CALL-002), and the same content was received (DUP-001).
    errors = {e["code"]: e for e in again["errors"] if e["severity"] == "ERROR"}
    assert list(errors) == ["CALL-002", "DUP-001"]
    assert f"BC 1.1 number {registration['number']}" in errors["CALL-002"]["message_en"]
    error = errors["DUP-001"]
    assert first["nomor_aju"] in error["message_id"] and first["nomor_aju"] in error["message_en"]

    status = cli(tmp_path, "status", first["nomor_aju"], "--json")
    assert json.loads(status.stdout)["registration"] == registration
    queue = cli(tmp_path, "queue")
    assert "done" in queue.stdout and "todo" not in queue.stdout


def test_unknown_partner_and_missing_file(tmp_path: Path) -> None:
    done = cli(tmp_path, "process", str(EXAMPLE), "--partner", "NOBODY", "--json")
    result = json.loads(done.stdout)
    refusals = [e["code"] for e in result["errors"] if e["severity"] == "ERROR"]
    assert done.returncode == 1 and refusals == ["SND-001"]
    missing = cli(tmp_path, "process", "nope.xml", "--partner", "DEMO")
    assert missing.returncode == 2 and "nope.xml" in missing.stderr


def _downgrade_one_revision(database: Path) -> None:
    from alembic import command
    from alembic.config import Config

    from gateway.storage.database import MIGRATIONS, Database

    db = Database(f"sqlite:///{database}", pool_size=1)
    with db.engine.connect() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
        conn.commit()
    db.dispose()


def test_migrate_is_explicit_once_the_database_exists(tmp_path: Path) -> None:
    # First use: a command on a new data dir sets the database up by itself.
    assert cli(tmp_path, "queue").returncode == 0
    again = cli(tmp_path, "migrate")
    assert again.returncode == 0 and "up to date" in again.stdout
    # A database behind the code: commands refuse and name the step; migrate upgrades.
    _downgrade_one_revision(tmp_path / "data" / "gateway.db")
    refused = cli(tmp_path, "queue")
    assert refused.returncode == 1
    assert "pde-gateway migrate" in refused.stderr and "jalankan" in refused.stderr
    assert "Traceback" not in refused.stderr
    upgraded = cli(tmp_path, "migrate")
    assert upgraded.returncode == 0 and "schema upgraded" in upgraded.stdout, upgraded.stderr
    assert cli(tmp_path, "queue").returncode == 0
