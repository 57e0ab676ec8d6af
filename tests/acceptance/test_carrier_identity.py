"""Only the carrier files for itself (issue 12, point 1), against the real gateway process.

SAMU logs in to the SFTP server with its own key and uploads DEMO's RKSP; it also drops
DEMO's JKSP in its own drop folder. Both are refused with a reason that names both parties,
and the bytes are kept. After an operator records SAMU as DEMO's agent with
``pde-gateway partners agencies add``, the same kind of file is registered.
"""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path

import paramiko

from gateway.pipeline import REFERENCE_TTL
from tests.acceptance.conftest import (
    GatewayProcess,
    drop_file,
    example,
    read_response,
    scalar,
    sha256,
    wait_for_response,
)

DEMO_NPWP = "013467386041000"


def test_another_carriers_documents_are_refused_until_an_agency_is_recorded(
    tmp_path: Path,
) -> None:
    key_path = tmp_path / "samu_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "SAMU", "-f", str(key_path)],
        check=True,
        timeout=30,
    )
    gateway = GatewayProcess(tmp_path / "data", tmp_path / "logs")
    try:
        added = gateway.cli("partners", "keys", "add", "SAMU", "--key", f"{key_path}.pub")
        assert added.returncode == 0, added.stderr
        ready = gateway.start_and_wait()
        rksp = example("rksp.xml")

        # Over SFTP, with SAMU's own credentials.
        transport = paramiko.Transport(("127.0.0.1", int(ready["sftp_port"])))
        try:
            transport.connect(
                username="SAMU", pkey=paramiko.Ed25519Key.from_private_key_file(str(key_path))
            )
            client = paramiko.SFTPClient.from_transport(transport)
            assert client is not None
            client.putfo(io.BytesIO(rksp), "/inbox/theirs.xml", confirm=False)
            client.close()
        finally:
            transport.close()
        outbox = gateway.data_dir / "sftp" / "SAMU" / "outbox"
        refused = read_response(wait_for_response(outbox, "theirs", gateway=gateway))
        assert refused["status"] == "REFUSED" and refused["registration"] is None
        [reason] = [e for e in refused["errors"] if e["code"] == "SND-004"]
        assert "SAMU" in reason["message_en"] and DEMO_NPWP in reason["message_en"]
        assert "PT Demo Pelayaran Nusantara" in reason["message_id"]
        assert gateway.raw_path(sha256(rksp)).read_bytes() == rksp

        # Over the file drop.
        jksp = example("jksp.xml")
        drop_file(gateway.folder("SAMU", "in"), "jksp.xml", jksp)
        dropped = read_response(
            wait_for_response(gateway.folder("SAMU", "out"), "jksp", gateway=gateway)
        )
        assert dropped["status"] == "REFUSED"
        assert "SND-004" in [e["code"] for e in dropped["errors"]]

        # The operator records the agency; SAMU now files in DEMO's name.
        agency = gateway.cli(
            "partners",
            "agencies",
            "add",
            "SAMU",
            "--npwp",
            DEMO_NPWP,
            "--name",
            "PT Demo Pelayaran Nusantara",
            "--valid-from",
            "2024-01-01",
            "--reference",
            "SK-AGEN-2024-17",
        )
        assert agency.returncode == 0, agency.stderr
        listed = json.loads(gateway.cli("partners", "agencies", "list", "SAMU", "--json").stdout)
        assert [a["principal_npwp"] for a in listed] == [DEMO_NPWP]
        time.sleep(REFERENCE_TTL + 0.5)  # a running gateway sees reference changes this late
        again = rksp.replace(b"025N", b"027N")
        drop_file(gateway.folder("SAMU", "in"), "again.xml", again)
        accepted = read_response(
            wait_for_response(gateway.folder("SAMU", "out"), "again", timeout=40, gateway=gateway)
        )
        assert accepted["status"] == "REGISTERED", accepted["errors"]
        assert scalar(
            gateway.db_path, "SELECT count(*) FROM audit_log WHERE action = 'agency added'"
        )
    finally:
        gateway.close()
