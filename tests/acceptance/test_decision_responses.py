"""The carrier gets the head of office's decision on its channel (issue 13, point 4; Art. 6(2)).

The real ``run_gateway.py``: the carrier registers an inward manifest and sends amendments of
its BC 1.1, one over SFTP (OpenSSH's ``sftp`` with a key added by ``pde-gateway partners keys
add``) and one through its drop folder. Both are answered PENDING_APPROVAL. A head of office
made by ``pde-gateway users add`` approves the first and refuses the second in the console
(plain HTTP: log-in, CSRF, form posts), and the carrier finds each decision where it found the
first response: the approval in its SFTP outbox (downloaded with ``sftp``), the refusal with
its reason in ``out/`` of its folder. The API lists both; the audit trail has them.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from tests.acceptance.conftest import (
    NS,
    REPO,
    XML_LANG,
    GatewayProcess,
    drop_file,
    example,
    query,
    read_response,
    wait_for,
    wait_for_response,
)
from tests.acceptance.test_sftp import Sftp, _require_openssh
from tests.bc11_documents import amendment

CARRIER = "DEMO"
PASSWORD = "Rahasia#1"
REASON = "Dokumen pendukung tidak lengkap: B/L revisi belum dilampirkan"


class Console:
    """A browser's part, by hand: a session cookie and the CSRF token of the pages."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> str:
        with self.opener.open(f"{self.url}{path}", timeout=30) as answer:
            return str(answer.read().decode("utf-8"))

    def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(f"{self.url}{path}", data=data, timeout=30) as answer:
            return int(answer.status), answer.geturl()

    def log_in(self, username: str) -> None:
        status, landed = self.post("/login", {"username": username, "password": PASSWORD})
        assert status == 200 and landed == f"{self.url}/", landed

    def decide(self, nomor_aju: str, action: str, reason: str = "") -> None:
        page = self.get("/amendments")
        assert f'data-aju="{nomor_aju}"' in page, "not in the approval queue"
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        form = {"csrf": csrf.group(1)}
        if reason:
            form["reason"] = reason
        status, landed = self.post(f"/amendments/{nomor_aju}/{action}", form)
        assert status == 200 and landed == f"{self.url}/amendments", landed


def decision_file(folder: Path, stem: str) -> Callable[[], Path | None]:
    def found() -> Path | None:
        matches = sorted(folder.glob(f"{stem}-*.decision.xml")) if folder.is_dir() else []
        assert len(matches) <= 1, matches
        return matches[0] if matches else None

    return found


def decision(path: Path) -> dict[str, Any]:
    """The Decision element of a Response (read_response checks it against response.xsd)."""
    root = etree.fromstring(path.read_bytes())
    element = root.find(f"{{{NS}}}Decision")
    assert element is not None
    return {
        "decided_by": element.findtext(f"{{{NS}}}DecidedBy"),
        "pos": element.findtext(f"{{{NS}}}Pos"),
        "pos_version": element.findtext(f"{{{NS}}}PosVersion"),
        "reason": element.findtext(f"{{{NS}}}Reason"),
        "messages": {m.get(XML_LANG): m.text for m in element.iterfind(f"{{{NS}}}Message")},
    }


def test_the_carrier_finds_the_approval_in_its_sftp_outbox_and_the_refusal_in_its_folder(
    gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    _require_openssh()
    key = tmp_path / "demo_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", CARRIER, "-f", str(key)],
        check=True,
        timeout=30,
    )
    gateway = gateway_factory()
    added = gateway.cli("partners", "keys", "add", CARRIER, "--key", f"{key}.pub")
    assert added.returncode == 0, added.stderr
    ready = gateway.start_and_wait()
    sftp = Sftp(gateway, ready["sftp_port"], tmp_path, {CARRIER: key})
    console = Console(f"http://127.0.0.1:{ready['web_port']}")
    users_add = subprocess.run(
        [
            *(sys.executable, "-m", "gateway.cli", "users", "add", "kepala"),
            *("--role", "head_of_office", "--office", "040300", "--name", "Kepala Kantor"),
            "--password-stdin",
        ],
        cwd=REPO,
        env=gateway.env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert users_add.returncode == 0, users_add.stderr

    # The carrier's BC 1.1, then two amendments of it: one over SFTP, one into its folder.
    local = tmp_path / "carrier"
    local.mkdir()
    drop = gateway.folder(CARRIER, "in")
    drop_file(drop, "manifest.xml", example("manifest-inward.xml"))
    out = gateway.folder(CARRIER, "out")
    manifest = read_response(wait_for_response(out, "manifest", gateway=gateway))
    assert manifest["status"] == "REGISTERED", manifest
    number, day = manifest["registration"]["number"], manifest["registration"]["date"]

    (local / "perbaikan-1.xml").write_bytes(amendment(number, day))
    put = sftp.run(CARRIER, ["put perbaikan-1.xml /inbox/perbaikan-1.xml"], cwd=local)
    assert put.returncode == 0, put.stderr
    outbox = sftp.tree(CARRIER, "outbox")
    first = read_response(wait_for_response(outbox, "perbaikan-1", gateway=gateway))
    second_change = [("consignee.npwp", "031245780041000", "074551235041000")]
    drop_file(drop, "perbaikan-2.xml", amendment(number, day, changes=second_change))
    second = read_response(wait_for_response(out, "perbaikan-2", gateway=gateway))
    assert first["status"] == second["status"] == "PENDING_APPROVAL", (first, second)

    # The head of office decides in the console.
    console.log_in("kepala")
    console.decide(first["nomor_aju"], "approve")
    console.decide(second["nomor_aju"], "refuse", REASON)

    # The approval: in the SFTP outbox, next to the first response, read with sftp.
    approved_name = wait_for(
        decision_file(outbox, "perbaikan-1"), 30, message="the approval", gateway=gateway
    ).name
    down = tmp_path / "down"
    down.mkdir()
    got = sftp.run(CARRIER, [f"lcd {down}", "get /outbox/*.decision.xml"], cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert [p.name for p in down.iterdir()] == [approved_name]
    approval = read_response(down / approved_name)  # valid against schemas/xml/response.xsd
    assert (approval["nomor_aju"], approval["status"]) == (first["nomor_aju"], "APPROVED")
    assert approval["errors"] == []
    said = decision(down / approved_name)
    assert (said["decided_by"], said["pos"], said["pos_version"]) == ("kepala", "000200000000", "2")
    assert "disetujui" in said["messages"]["id"] and "approved" in said["messages"]["en"]
    assert read_response(wait_for_response(outbox, "perbaikan-1"))["status"] == "PENDING_APPROVAL"

    # The refusal, with its reason: in out/ of the carrier's folder.
    refused_path = wait_for(
        decision_file(out, "perbaikan-2"), 30, message="the refusal", gateway=gateway
    )
    refusal = read_response(refused_path)
    assert (refusal["nomor_aju"], refusal["status"]) == (second["nomor_aju"], "REFUSED")
    [error] = refusal["errors"]
    assert error["code"] == "AMD-102" and REASON in error["message_id"]
    assert REASON in error["message_en"] and "refused" in error["message_en"]
    assert decision(refused_path)["reason"] == REASON

    # The API lists each as an acknowledgment of its document; the trail has both.
    issued = gateway.cli("tokens", "issue", CARRIER)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    for response, name in ((first, approved_name), (second, refused_path.name)):
        request = urllib.request.Request(
            f"{console.url}/api/v1/submissions/{response['submission_id']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            [document] = json.loads(answer.read())["documents"]
        assert [a["file_name"] for a in document["ack_downloads"] if a["kind"] == "DECISION"] == [
            name
        ]
    trail = query(
        gateway.db_path,
        "SELECT actor, to_status, detail FROM audit_log"
        " WHERE action = 'decision response written' ORDER BY id",
    )
    assert [(actor, status) for actor, status, _ in trail] == [
        ("user:kepala", "APPROVED"),
        ("user:kepala", "REFUSED"),
    ]
    assert [json.loads(detail)["channel"] for _, _, detail in trail] == ["sftp", "filedrop"]
    gateway.stop()
    assert gateway.error_events() == []
