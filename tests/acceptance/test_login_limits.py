"""Log-in limits across processes: two real ``run_gateway.py --role web`` processes sharing one
PostgreSQL database agree on the count, and the operator lifts a lock-out with the CLI.

Single-process behaviour (SQLite and PostgreSQL, forwarded headers, the per-user counter) is
in tests/integration/test_login_limits.py; SFTP in tests/integration/test_sftp_server.py.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from tests.acceptance.conftest import REPO, GatewayProcess

PASSWORD = "Rahasia#1-panjang"
LIMIT = 10
ADD_USER = ["users", "add", "ops", "--role", "admin", "--name", "Ops", "--password-stdin"]


def log_in(port: int, user: str, password: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            "/login",
            urllib.parse.urlencode({"username": user, "password": password}),
            {"content-type": "application/x-www-form-urlencoded"},
        )
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_two_web_processes_on_one_postgresql_agree_and_the_cli_unlocks(
    tmp_path: Path, postgres_url: str
) -> None:
    processes = [
        GatewayProcess(
            tmp_path / "data",
            tmp_path / f"logs-{n}",
            args=("--role", "web"),
            database_url=postgres_url,
            login_failure_limit=LIMIT,
            login_delay_seconds=0.01,
            login_delay_max_seconds=0.02,
        )
        for n in (1, 2)
    ]
    engine = sa.create_engine(postgres_url)
    try:
        for process in processes:
            process.start()
        ports = [int(process.wait_ready()["web_port"]) for process in processes]
        added = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *ADD_USER],
            cwd=REPO,
            env=processes[0].env,
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        assert added.returncode == 0, added.stderr

        # 40 wrong passwords at once, half to each process: LIMIT are checked in all.
        with ThreadPoolExecutor(max_workers=40) as pool:
            statuses = list(
                pool.map(lambda n: log_in(ports[n % 2], "ops", f"salah-{n}"), range(40))
            )
        assert Counter(statuses) == {401: LIMIT, 429: 40 - LIMIT}
        assert [log_in(port, "ops", PASSWORD) for port in ports] == [429, 429]
        with engine.connect() as conn:
            failed = conn.execute(
                sa.text("SELECT actor, detail FROM audit_log WHERE action = 'login failed'")
            ).all()
        assert len(failed) == 42
        assert sum(1 for _, detail in failed if not detail["locked_out"]) == LIMIT

        listed = processes[0].cli("logins", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        locks = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [(x["door"], x["user"], x["address"], x["locked"]) for x in locks] == [
            ("web", "ops", "127.0.0.1", True)
        ]
        unlocked = processes[1].cli("logins", "unlock", "ops")
        assert unlocked.returncode == 0, unlocked.stderr
        assert "may log in again" in unlocked.stdout
        assert log_in(ports[1], "ops", PASSWORD) == 303
        assert processes[0].cli("logins", "list").stdout == ""
        with engine.connect() as conn:
            actions = conn.execute(
                sa.text("SELECT action FROM audit_log WHERE action IN ('login', 'login_unlocked')")
            ).scalars()
            assert sorted(actions) == ["login", "login_unlocked"]
        for process in processes:
            assert process.stop() == 0
    finally:
        for process in processes:
            process.close()
        engine.dispose()
