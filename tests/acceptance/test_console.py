"""The web console in real headless Chromium (Playwright), against the real ``run_gateway.py``.

Users are created with the real CLI; the browser logs in, uploads, reads reasons, keys in
paper. Screenshots of the pages named in docs/console.md are written to docs/screenshots/.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import EXAMPLES, REPO, GatewayProcess, wait_for
from tests.conftest import unavailable

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO / "docs" / "screenshots"
PASSWORD = "Rahasia#1"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",  # this machine's network is closed: no lookups
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable("Chromium is missing: scripts/install-system-deps installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def console(gateway_factory: Callable[..., GatewayProcess]) -> Iterator[Console]:
    gateway = gateway_factory()
    gateway.start_and_wait()  # migrates; users are added next, the gateway keeps running
    started = gateway.wait_ready()
    yield Console(gateway, f"http://127.0.0.1:{started['web_port']}")
    gateway.stop()


class Console:
    def __init__(self, gateway: GatewayProcess, url: str) -> None:
        self.gateway = gateway
        self.url = url

    def add_user(self, name: str, role: str, *where: str) -> None:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "users",
                "add",
                name,
                "--role",
                role,
                "--name",
                name.title(),
                *where,
                "--password-stdin",
            ],
            cwd=REPO,
            env=self.gateway.env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def token(self, carrier: str) -> str:
        done = self.gateway.cli("tokens", "issue", carrier)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(f"file:{self.gateway.db_path}?mode=ro", uri=True)) as conn:
            return conn.execute(sql).fetchall()


def http(
    method: str, url: str, token: str, body: bytes | None = None
) -> tuple[int, dict[str, Any] | list[Any] | None]:
    """One API call with a carrier token (standard library: nothing between us and the wire)."""
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def log_in(browser: Any, console: Console, name: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{console.url}/login?lang=en")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.url}/")
    return page


def upload(page: Any, console: Console, path: Path) -> int:
    page.goto(f"{console.url}/upload")
    page.set_input_files("#file", str(path))
    page.click("#upload button[type=submit]")
    page.wait_for_url(f"{console.url}/submissions/*")
    return int(page.url.rsplit("/", 1)[1])


def settled(page: Any, console: Console, submission_id: int) -> str:
    """Reload the submission page until a worker has decided it; its status."""

    def decided() -> str | None:
        page.goto(f"{console.url}/submissions/{submission_id}")
        status = page.locator(".status").first
        if status.count() and status.inner_text() != "RECEIVED":
            return str(status.inner_text())
        return None

    return wait_for(decided, 30, interval=0.3, message="the decision", gateway=console.gateway)


def test_carrier_operator_uploads_reads_reasons_and_sees_only_its_own(
    browser: Any, console: Console, tmp_path: Path
) -> None:
    console.add_user("demo-op", "carrier_operator", "--carrier", "DEMO")
    page = log_in(browser, console, "demo-op")

    good = upload(page, console, EXAMPLES / "manifest-inward.xml")
    assert settled(page, console, good) == "REGISTERED"
    registration = page.locator(".registration").first.inner_text()
    [(number,)] = console.rows(
        f"SELECT r.number FROM registrations r JOIN documents d ON d.id = r.document_id "
        f"WHERE d.submission_id = {good}"
    )
    assert registration == f"BC 1.1 {number}"

    broken = tmp_path / "broken-manifest.xml"
    text = (EXAMPLES / "manifest-inward.xml").read_text(encoding="utf-8")
    broken.write_text(text.replace("MSKU1234565", "MSKU1234566", 1), encoding="utf-8")
    bad = upload(page, console, broken)
    assert settled(page, console, bad) == "REFUSED"
    reason = page.locator(".errors .reason-en").first.inner_text()
    assert "MSKU1234566" in reason
    assert page.locator(".errors .where").first.inner_text().strip()  # the place in the file
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "refused-submission.png"), full_page=True)

    # Another carrier's submission: not in search, not by URL, 404 on the API with its id.
    samu = console.token("SAMU")
    status, answer = http(
        "POST",
        f"{console.url}/api/v1/submissions?name=rksp.xml",
        samu,
        (EXAMPLES / "rksp.xml").read_bytes(),
    )
    assert status == 202 and isinstance(answer, dict)
    other = answer["submission_id"]
    page.goto(f"{console.url}/submissions/{other}")
    assert page.locator(".error").inner_text() == "Not found."
    page.goto(f"{console.url}/search?q=rksp.xml")
    assert page.locator("#results").inner_text().count("rksp.xml") == 0
    demo = console.token("DEMO")
    for path in (f"/api/v1/submissions/{other}", f"/api/v1/submissions/{other}/raw"):
        assert http("GET", f"{console.url}{path}", demo)[0] == 404
    page.close()


def test_officer_keys_in_a_paper_rksp_and_gets_the_next_bc10_number(
    browser: Any, console: Console
) -> None:
    console.add_user("petugas", "officer", "--office", "040300")
    before = console.rows(
        "SELECT MAX(number) FROM registrations WHERE kind = 'BC 1.0' AND office_code = '040300'"
    )[0][0]
    page = log_in(browser, console, "petugas")
    page.goto(f"{console.url}/manual/rksp")
    page.select_option("#carrier", "DEMO")
    for field, value in {
        "#conveyance": "KM KERTAS NUSANTARA",
        "#imo": "9321483",
        "#flag": "ID",
        "#voyage": "077S",
        "#origin": "SGSIN",
        "#last_port": "SGSIN",
        "#arrival_port": "IDTPP",
        "#next_port": "IDSUB",
        "#eta": "2099-05-01T08:00",
    }.items():
        page.fill(field, value)
    page.click("#rksp-form button[type=submit]")
    page.wait_for_url(f"{console.url}/submissions/*")
    keyed = int(page.url.rsplit("/", 1)[1])
    assert settled(page, console, keyed) == "REGISTERED"
    expected = f"{int(before or 0) + 1:06d}"
    assert page.locator(".registration").first.inner_text() == f"BC 1.0 {expected}"
    [(channel, actor)] = console.rows(
        "SELECT s.channel, a.actor FROM submissions s JOIN audit_log a ON a.submission_id = s.id "
        "WHERE a.action = 'keyed in'"
    )
    assert (channel, actor) == ("manual", "user:petugas")
    page.close()


def test_dashboard_matches_the_database_after_200_submissions(
    browser: Any, console: Console, tmp_path: Path
) -> None:
    console.add_user("operator", "admin")
    demo = console.token("DEMO")
    rksp = (EXAMPLES / "rksp.xml").read_text(encoding="utf-8")
    for n in range(200):
        if n % 4 == 3:  # every fourth one broken: refused
            body = rksp.replace("9321483", "9321484").replace("025N", f"B{n:03d}")
        else:
            body = rksp.replace("025N", f"V{n:03d}")
        url = f"{console.url}/api/v1/submissions?name=r{n}.xml"
        assert http("POST", url, demo, body.encode())[0] == 202

    def all_decided() -> bool:
        return console.rows("SELECT COUNT(*) FROM documents")[0][0] == 200

    wait_for(all_decided, 120, interval=0.5, message="200 decisions", gateway=console.gateway)
    page = log_in(browser, console, "operator")
    counts = dict(console.rows("SELECT status, COUNT(*) FROM documents GROUP BY status"))
    assert counts == {"REGISTERED": 150, "REFUSED": 50}
    for status, n in counts.items():
        assert page.locator(f'#by-status [data-count="{status}"]').inner_text() == str(n)
    bars = page.locator("#chart g")
    received = sum(int(bars.nth(i).get_attribute("data-received")) for i in range(bars.count()))
    registered = sum(int(bars.nth(i).get_attribute("data-registered")) for i in range(bars.count()))
    assert (received, registered) == (200, 150)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)
    page.close()
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_head_of_office_approves_one_amendment_and_refuses_another(
    browser: Any, console: Console
) -> None:
    from tests.bc11_documents import amendment

    console.add_user("kepala", "head_of_office", "--office", "040300")
    console.add_user("demo-op", "carrier_operator", "--carrier", "DEMO")
    demo = console.token("DEMO")
    url = f"{console.url}/api/v1/submissions"
    status, answer = http(
        "POST", f"{url}?name=m.xml", demo, (EXAMPLES / "manifest-inward.xml").read_bytes()
    )
    assert status == 202 and isinstance(answer, dict)
    manifest = answer["submission_id"]

    def registered(submission_id: int) -> dict[str, Any] | None:
        code, answer = http("GET", f"{url}/{submission_id}", demo)
        if code == 200 and isinstance(answer, dict) and answer["documents"]:
            return dict(answer["documents"][0])
        return None

    bc11 = wait_for(lambda: registered(manifest), 30, message="the BC 1.1", gateway=console.gateway)
    number, day = bc11["registration"]["number"], bc11["registration"]["date"]
    pending = []
    second_change = [("consignee.npwp", "031245780041000", "074551235041000")]
    for name, body in (
        ("first.xml", amendment(number, day)),
        ("second.xml", amendment(number, day, changes=second_change)),
    ):
        code, answer = http("POST", f"{url}?name={name}", demo, body)
        assert code == 202 and isinstance(answer, dict)
        submission_id = int(answer["submission_id"])
        report = wait_for(
            lambda s=submission_id: registered(s), 30, message=name, gateway=console.gateway
        )
        assert report["status"] == "PENDING_APPROVAL", report
        pending.append((submission_id, report["nomor_aju"]))
    (first_id, first_aju), (second_id, second_aju) = pending

    page = log_in(browser, console, "kepala")
    page.goto(f"{console.url}/amendments")
    assert page.locator(f'#pending tr[data-aju="{first_aju}"]').count() == 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "approval-queue.png"), full_page=True)
    page.click(f'#pending tr[data-aju="{first_aju}"] button.approve')
    page.wait_for_url(f"{console.url}/amendments")
    second = page.locator(f'#pending tr[data-aju="{second_aju}"]')
    second.locator("input.reason").fill("Dokumen pendukung tidak lengkap")
    second.locator("button.refuse").click()
    page.wait_for_url(f"{console.url}/amendments")
    assert page.locator("#pending").inner_text().count("DEMO") == 0
    page.close()

    carrier = log_in(browser, console, "demo-op")
    carrier.goto(f"{console.url}/submissions/{first_id}")
    assert carrier.locator(".amendment-decision strong").inner_text() == "APPROVED"
    # The decision's own response, next to the first one (gateway/decision_responses.py).
    decision = carrier.locator("details summary", has_text=f"{first_aju}.decision.xml")
    assert decision.inner_text().startswith("DECISION")
    carrier.goto(f"{console.url}/submissions/{second_id}")
    assert carrier.locator(".amendment-decision strong").inner_text() == "REFUSED"
    assert carrier.locator(".decision-reason").inner_text() == "Dokumen pendukung tidak lengkap"
    refusal = carrier.locator("details", has_text=f"{second_aju}.decision.xml")
    assert "Dokumen pendukung tidak lengkap" in (refusal.locator("pre").text_content() or "")
    actors = console.rows("SELECT actor FROM audit_log WHERE action LIKE 'amendment %'")
    assert actors and all("kepala" in a for (a,) in actors), actors
    carrier.close()
