"""Crash recovery: SIGKILL the gateway three times in the middle of 500 RKSPs, then let it finish.

Afterwards every file must have exactly one response (and one receipt), every document one
registration, and the office's BC 1.0 numbers must run 000001..000500 without a gap or a
duplicate; the raw store, the archive and the database must agree with what was dropped.

The moments of the kills are random; the seed is printed (``pytest -s``) and
``PDE_ACCEPTANCE_SEED=<seed>`` replays a run's choices.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.acceptance.conftest import (
    GatewayProcess,
    count_acks,
    drop_file,
    query,
    read_response,
    rksp_variant,
    scalar,
    sha256,
    split_ack_name,
    wait_for,
)

FILES = 500
# Where the kills fall. The first one at random early on: after a random delay (it may hit
# the intake of the first batch), once a random number of files are archived, or once a few
# responses are out. Then once 100-250 responses are out, and once 300-450 are.
FIRST_KILL_DELAY = (0.0, 1.5)
FIRST_KILL_ARCHIVED = (1, 300)
FIRST_KILL_RESPONSES = (1, 60)
LATER_KILLS_AT = ((100, 250), (300, 450))
FINISH_WITHIN = 60.0


def _responses(gateway: GatewayProcess) -> int:
    return count_acks(gateway.folder("DEMO", "out"))


def _archived(gateway: GatewayProcess) -> int:
    archive = gateway.folder("DEMO", "archive")
    return (
        sum(1 for p in archive.iterdir() if not p.name.startswith(".")) if archive.is_dir() else 0
    )


def _state(gateway: GatewayProcess) -> str:
    inbox = gateway.folder("DEMO", "in")
    left = sum(1 for p in inbox.iterdir() if p.suffix == ".xml") if inbox.is_dir() else 0
    return f"{_responses(gateway)} responses, {_archived(gateway)} archived, {left} still in in/"


def _drained(gateway: GatewayProcess) -> bool:
    if _responses(gateway) < FILES:
        return False
    if any(p.suffix == ".xml" for p in gateway.folder("DEMO", "in").iterdir()):
        return False
    open_jobs = scalar(
        gateway.db_path, "SELECT count(*) FROM jobs WHERE status IN ('todo', 'doing')"
    )
    return open_jobs == 0


def _kill_when(gateway: GatewayProcess, done: Callable[[], bool], what: str) -> None:
    wait_for(
        done,
        FINISH_WITHIN,
        interval=0.005,
        message=lambda: f"{what} ({_state(gateway)})",
        gateway=gateway,
    )
    gateway.kill()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sigkills_lose_nothing_and_number_without_gaps(
    gateway_factory: Callable[..., GatewayProcess],
) -> None:
    seed = int(os.environ.get("PDE_ACCEPTANCE_SEED") or time.time_ns() % 2**32)
    print(f"PDE_ACCEPTANCE_SEED={seed}")
    rng = random.Random(seed)
    t0 = time.monotonic()

    gateway = gateway_factory(workers=2, lease_seconds=3)
    inbox = gateway.folder("DEMO", "in")
    sources = {f"rksp-{n:04d}": rksp_variant(n) for n in range(1, FILES + 1)}
    assert len({sha256(d) for d in sources.values()}) == FILES, "contents must all differ"
    for stem, data in sources.items():
        drop_file(inbox, f"{stem}.xml", data)

    # The first kill, early and at random.
    gateway.start_and_wait()
    how = rng.choice(["delay", "archived", "responses"])
    if how == "delay":
        delay = rng.uniform(*FIRST_KILL_DELAY)
        what = f"{delay:.2f} s after start"
        deadline = time.monotonic() + delay
        _kill_when(gateway, lambda: time.monotonic() >= deadline, what)
    else:
        target = rng.randint(*(FIRST_KILL_ARCHIVED if how == "archived" else FIRST_KILL_RESPONSES))
        count = _archived if how == "archived" else _responses
        what = f"{target} {how}"
        _kill_when(gateway, lambda: count(gateway) >= target, what)
    print(f"SIGKILL 1 at {time.monotonic() - t0:.1f} s ({what}): {_state(gateway)}")

    # The later kills, once so many responses are out.
    for n, (low, high) in enumerate(LATER_KILLS_AT, start=2):
        gateway.start_and_wait()
        target = max(rng.randint(low, high), _responses(gateway) + rng.randint(5, 30))
        if target >= FILES:
            break  # too late for another kill: this run finishes the work
        _kill_when(gateway, lambda t=target: _responses(gateway) >= t, f"{target} responses")
        print(
            f"SIGKILL {n} at {time.monotonic() - t0:.1f} s ({target} responses): {_state(gateway)}"
        )

    # The last run finishes everything, then stops cleanly.
    if not gateway.alive:
        gateway.start_and_wait()
    restarted = time.monotonic()
    wait_for(
        lambda: _drained(gateway),
        FINISH_WITHIN,
        interval=0.2,
        message=lambda: f"all {FILES} files answered ({_state(gateway)})",
        gateway=gateway,
    )
    finished = time.monotonic()
    assert gateway.stop() == 0
    print(
        f"all answered {finished - restarted:.1f} s after the last start,"
        f" {finished - t0:.1f} s after the drop; {len(gateway.log_paths)} starts"
    )

    _check_files(gateway, sources)
    _check_database(gateway, sources)
    assert [e for e in gateway.error_events() if "job" in str(e.get("event"))] == []


def _check_files(gateway: GatewayProcess, sources: dict[str, bytes]) -> None:
    inbox = gateway.folder("DEMO", "in")
    outbox = gateway.folder("DEMO", "out")
    assert sorted(p.name for p in inbox.iterdir() if not p.name.startswith(".")) == []

    # Exactly one response (and one receipt) per source file.
    for kind in ("response", "receipt"):
        stems = Counter(
            parts[0]
            for p in outbox.iterdir()
            if (parts := split_ack_name(p.name, kind)) is not None
        )
        twice = {stem: n for stem, n in stems.items() if n != 1}
        assert twice == {}, f"{kind}s given more than once: {twice}"
        assert set(stems) == set(sources), f"{kind}s missing: {set(sources) - set(stems)}"

    numbers: dict[str, str] = {}
    for path in outbox.glob("*.response.xml"):
        response = read_response(path, validate=False)
        stem = path.name.split("-040301DEMO01", 1)[0]
        assert response["status"] == "REGISTERED", (path.name, response["errors"])
        assert response["source_name"] == f"{stem}.xml"
        assert response["sha256"] == sha256(sources[stem])
        assert response["registration"] is not None
        numbers[response["nomor_aju"]] = response["registration"]["number"]
    assert len(numbers) == FILES

    # Every file was archived once, byte for byte; nothing went to error/.
    archived = {p.name.split("-", 1)[1].removesuffix(".xml"): p for p in _files(gateway, "archive")}
    assert len(_files(gateway, "archive")) == FILES
    assert set(archived) == set(sources)
    for stem, path in archived.items():
        assert path.read_bytes() == sources[stem], f"{path.name} differs from what was dropped"
    assert list(_files(gateway, "error")) == []

    # The numbers in the responses are the numbers in the database.
    rows = query(
        gateway.db_path,
        "SELECT d.nomor_aju, r.number FROM documents d JOIN registrations r"
        " ON r.document_id = d.id",
    )
    assert dict(rows) == numbers


def _files(gateway: GatewayProcess, sub: str) -> list[Path]:
    return [p for p in gateway.folder("DEMO", sub).iterdir() if not p.name.startswith(".")]


def _check_database(gateway: GatewayProcess, sources: dict[str, bytes]) -> None:
    db = gateway.db_path
    submissions = query(db, "SELECT source_name, sha256, raw_path, status FROM submissions")
    assert len(submissions) == FILES
    assert sorted(r[0] for r in submissions) == sorted(f"{s}.xml" for s in sources)
    assert {r[3] for r in submissions} == {"PROCESSED"}
    assert {r[1] for r in submissions} == {sha256(d) for d in sources.values()}
    for _name, digest, raw_path, _status in submissions:
        expected = gateway.raw_path(digest)
        assert Path(raw_path) == expected
        assert expected.is_file(), f"raw file missing: {expected}"
        assert sha256(expected.read_bytes()) == digest

    assert scalar(db, "SELECT count(*) FROM documents") == FILES
    statuses = query(db, "SELECT status, count(*) FROM documents GROUP BY status")
    assert statuses == [("REGISTERED", FILES)]

    by_year: dict[int, list[int]] = {}
    for year, number in query(
        db,
        "SELECT year, number FROM registrations WHERE office_code = '040300'"
        " AND kind = 'BC 1.0' ORDER BY year, number",
    ):
        by_year.setdefault(year, []).append(int(number))
    assert sum(len(n) for n in by_year.values()) == FILES
    for year, numbers in by_year.items():
        assert numbers == list(range(1, len(numbers) + 1)), f"gap or duplicate in {year}"

    assert query(db, "SELECT kind, status, count(*) FROM acks GROUP BY kind, status") == [
        ("RECEIPT", "DELIVERED", FILES),
        ("RESPONSE", "DELIVERED", FILES),
    ]
    assert query(db, "SELECT count(*) FROM jobs WHERE status != 'done'") == [(0,)]
