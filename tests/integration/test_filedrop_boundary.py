"""The file drop is not a way into the host (issue 12, point 3; docs/security.md §3).

The real channel against real folders, files, links and threads: a carrier who controls its own
drop folder swaps links in under the gateway's feet, replaces its folders by links to another
carrier's folder or to the host, hard-links files it cannot read, uses names that are not
UTF-8 and writes slowly. Nothing from outside its own tree is ever read, nothing is written
outside it, one bad entry stops nothing else, and a file is taken only once it has settled.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
import sqlalchemy as sa

from gateway.app import Gateway
from gateway.channels.base import Inbound, Received
from gateway.channels.filedrop import BATCH
from gateway.config import load_settings
from gateway.storage.raw_files import flush_filesystem
from gateway.storage.tables import submissions
from gateway.worker import Worker
from tests.integration.conftest import FakeClock
from tests.integration.documents import rksp

SECRET = b"root:$6$not-for-carriers:19000:0:99999:7:::\n" * 8


@pytest.fixture
def make_drop(tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """A gateway on SQLite (the database plays no part here) with its drop settings."""
    made: list[Gateway] = []

    def make(**settings: str) -> Gateway:
        env = {
            "PDE_GATEWAY_DATA_DIR": str(tmp_path / "data"),
            "PDE_GATEWAY_SETTLE_SECONDS": "0",
            "PDE_GATEWAY_POLL_INTERVAL_SECONDS": "0.002",
            **{f"PDE_GATEWAY_{k.upper()}": v for k, v in settings.items()},
        }
        gateway = Gateway(load_settings(environ=env))
        gateway.filedrop.prepare(["DEMO", "SAMU"])
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.db.dispose()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file of the host's, outside the drop, on the same filesystem (so it can be linked)."""
    outside = tmp_path / "host"
    outside.mkdir()
    path = outside / "shadow"
    path.write_bytes(SECRET)
    return path


def scan(gateway: Gateway) -> int:
    return gateway.filedrop.scan(gateway.pipeline.receive_many)


def work(gateway: Gateway) -> None:
    """Process and deliver everything due, in this thread (retries wait for a later clock)."""
    clock = FakeClock(gateway.clock())
    worker = Worker(pipeline=gateway.pipeline, worker_id="t:1:0", clock=clock, lease=timedelta(30))
    while worker.run_once():
        pass


def rows(gateway: Gateway) -> list[sa.Row[tuple[object, ...]]]:
    with gateway.db.engine.connect() as conn:
        return list(conn.execute(sa.select(submissions).order_by(submissions.c.id)))


def plain_files(folder: Path) -> Iterator[Path]:
    """Every regular file under ``folder``, links not followed."""
    for dirpath, _, names in os.walk(folder, followlinks=False):
        for name in names:
            path = Path(dirpath) / name
            if stat.S_ISREG(path.lstat().st_mode):
                yield path


def assert_never_read(gateway: Gateway, secret: Path) -> None:
    """The secret's bytes are in no raw file, ack, archive or error copy of the gateway."""
    assert secret.read_bytes() == SECRET
    data_dir = gateway.settings.data_dir
    inode = secret.stat().st_ino  # a hard link set aside is the secret itself, not a copy
    leaked = [
        p
        for p in plain_files(data_dir)
        if p.stat().st_ino != inode and SECRET[:40] in p.read_bytes()
    ]
    assert leaked == [], f"the host's file was read into {leaked}"
    sha = hashlib.sha256(SECRET).hexdigest()
    assert all(r.sha256 != sha for r in rows(gateway))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in plain_files(folder)}


# -- 1. links: nothing outside the carrier's tree is read --------------------------------------


# The racer: another process (true parallelism, not the GIL's turns) that keeps putting a
# regular file and a link to the secret under one name, holding each for a random moment.
RACER = r"""
import os, random, sys, time
inbox, secret, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
bait, real, link = (os.path.join(inbox, n) for n in ("bait.xml", ".real.tmp", ".link.tmp"))
flips = made = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        if not os.path.lexists(bait) or os.path.islink(bait):
            if not os.path.exists(real):
                with open(real, "wb") as out:
                    out.write(b"<bait/>")
                os.utime(real, (1, 1))  # old times: nothing says "wait"
                made += 1
            os.replace(real, bait)  # the regular file ...
        # Mostly short holds (a swap right after the look), now and then long ones (settled).
        time.sleep(random.choice((0, 0, 0.0002, 0.01, 0.05)))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(secret, link)
        os.replace(bait, real)
        os.replace(link, bait)  # ... and a link to the secret under its name
        flips += 1
        time.sleep(random.choice((0, 0.0002, 0.002, 0.01)))
    except OSError:
        continue  # the drop took or moved a file meanwhile: go on
print(flips, made)
"""


def test_a_link_swapped_in_after_the_scan_is_never_read(
    make_drop: Callable[..., Gateway], secret: Path
) -> None:
    """A racer flips ``bait.xml`` between a settled file and a link to the host's secret while
    the drop runs its real loop: the link is never followed, however the race falls."""
    gateway = make_drop()
    inbox = gateway.filedrop.inbox("DEMO")
    for n in range(1500):  # folders, left alone: a look takes a while to pass them
        (inbox / f"folder-{n:04d}").mkdir()
    stop = threading.Event()
    drop = threading.Thread(target=gateway.filedrop.run, args=(gateway.pipeline.receive_many, stop))
    drop.start()
    try:
        racer = subprocess.run(
            [sys.executable, "-c", RACER, str(inbox), str(secret), "2.0"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    finally:
        stop.set()
        drop.join()
    assert_never_read(gateway, secret)
    flips, made = map(int, racer.stdout.split())
    assert flips > 50
    assert made > 5  # the drop took the bait file several times: the take path was raced


def test_what_is_opened_is_checked_not_the_name(
    make_drop: Callable[..., Gateway], secret: Path
) -> None:
    """The same swap, placed for sure: files are looked at, then taken in batches of 64; while
    the pipeline takes the first batch, the carrier replaces a settled file of the second
    batch by a link to the secret and another by a new file under the same name."""
    gateway = make_drop()
    inbox = gateway.filedrop.inbox("DEMO")
    names = [f"f{n:03d}.xml" for n in range(BATCH + 2)]
    for name in names:
        (inbox / name).write_bytes(name.encode())
    assert scan(gateway) == 0  # first look: seen, not taken
    calls = 0

    def intake(items: Sequence[tuple[Inbound, BinaryIO]]) -> list[Received]:
        nonlocal calls
        calls += 1
        if calls == 1:
            (inbox / names[-2]).unlink()
            (inbox / names[-2]).symlink_to(secret)
            (inbox / ".new").write_bytes(b"written after the look")
            os.replace(inbox / ".new", inbox / names[-1])
        return gateway.pipeline.receive_many(items)

    assert gateway.filedrop.scan(intake) == BATCH
    assert_never_read(gateway, secret)
    # The link is set aside unread; the new file is a new file: seen, settled, then taken.
    for _ in range(3):
        scan(gateway)
    assert not (inbox / names[-2]).is_symlink()
    taken = {r.source_name: r.size for r in rows(gateway)}
    assert len(taken) == BATCH + 1 and names[-2] not in taken
    assert taken[names[-1]] == len(b"written after the look")


def test_a_hard_link_to_a_file_outside_is_refused(
    make_drop: Callable[..., Gateway], secret: Path
) -> None:
    gateway = make_drop()
    inbox = gateway.filedrop.inbox("DEMO")
    os.link(secret, inbox / "shadow.xml")
    for _ in range(3):
        scan(gateway)
    work(gateway)
    assert_never_read(gateway, secret)
    assert rows(gateway) == []
    # Moved out of the way with the reason, and never written through.
    assert not (inbox / "shadow.xml").exists()
    reasons = list(gateway.filedrop.root.joinpath("DEMO", "error").glob("*.reason.txt"))
    assert len(reasons) == 1
    text = reasons[0].read_text(encoding="utf-8")
    assert "DROP-002" in text and "hard link" in text
    assert secret.read_bytes() == SECRET and secret.stat().st_nlink == 2


@pytest.mark.parametrize("target", ["other carrier", "host"])
@pytest.mark.parametrize("replaced", ["partner", "in", "out", "error", "archive"])
def test_a_folder_replaced_by_a_link_is_not_gone_through(
    make_drop: Callable[..., Gateway], secret: Path, replaced: str, target: str
) -> None:
    """DEMO replaces one of its folders by a link to SAMU's folder or to a folder of the host:
    nothing is read from there as DEMO's, nothing is written there, SAMU is served as ever."""
    gateway = make_drop()
    root = gateway.filedrop.root
    other = root / "SAMU" if target == "other carrier" else secret.parent
    for sub in ("in", "out", "error", "archive"):
        (other / sub).mkdir(exist_ok=True)
    if target == "host":
        (other / "in" / "host.xml").write_bytes(SECRET)
    # DEMO's file: refused (not a document), so it has an ack in out/ and a copy in error/.
    (root / "DEMO" / "in" / "junk.xml").write_bytes(b"not a document")
    # SAMU's own file, in SAMU's own in/.
    (root / "SAMU" / "in" / "samu.xml").write_bytes(rksp(voyage="S1"))
    if replaced == "partner":
        os.rename(root / "DEMO", secret.parent.parent / "DEMO-moved")
        os.symlink(other, root / "DEMO")
    else:
        moved = root / "DEMO" / f"{replaced}.moved"
        os.rename(root / "DEMO" / replaced, moved)
        os.symlink(other / replaced, root / "DEMO" / replaced)
    before = snapshot(other) if target == "host" else {}
    for _ in range(3):
        scan(gateway)
        work(gateway)
    gateway.filedrop.prepare(["DEMO", "SAMU"])  # a restart's prepare() creates nothing there
    scan(gateway)
    work(gateway)

    senders = {(r.sender, r.source_name) for r in rows(gateway)}
    assert ("SAMU", "samu.xml") in senders
    assert all(sender != "DEMO" or name == "junk.xml" for sender, name in senders), senders
    assert_never_read(gateway, secret)
    if target == "host":
        assert snapshot(other) == before, "the gateway wrote into a folder of the host"
    else:
        # SAMU's folders hold SAMU's things only: its own ack, its own archived file.
        samu = snapshot(root / "SAMU")
        assert all("junk" not in name for name in samu), samu
        assert [n for n in samu if n.startswith("archive/")] == [
            n for n in samu if n.startswith("archive/") and n.endswith("samu.xml")
        ]
        assert len([n for n in samu if n.startswith("out/")]) == 2  # receipt + response


def test_pipes_in_place_of_files_or_folders_hang_nothing(
    make_drop: Callable[..., Gateway], tmp_path: Path
) -> None:
    """A named pipe blocks whoever opens it for reading until a writer comes: put where a file
    or a folder is expected (in/, out/ just after an ack was written), it stops no thread."""
    gateway = make_drop()
    demo = gateway.filedrop.root / "DEMO"
    os.mkfifo(demo / "in" / "pipe.xml")
    os.rename(demo / "out", demo / "out.moved")
    os.mkfifo(demo / "out")
    (gateway.filedrop.inbox("SAMU") / "samu.xml").write_bytes(rksp(voyage="P1"))
    fifos = [demo / "in" / "pipe.xml", demo / "out"]

    def steps() -> None:
        for _ in range(3):
            scan(gateway)
        work(gateway)
        # What the pipeline does after delivering: flush the filesystem of the ack's folder.
        with contextlib.suppress(NotADirectoryError):
            flush_filesystem(demo / "out")

    thread = threading.Thread(target=steps, daemon=True)
    thread.start()
    thread.join(timeout=10)
    hung = thread.is_alive()
    for fifo in fifos:  # a writer releases a reader still waiting, if any
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    thread.join(timeout=5)
    assert not hung, "a named pipe held a gateway thread"
    assert {(r.sender, r.source_name) for r in rows(gateway)} == {("SAMU", "samu.xml")}
    assert not (demo / "in" / "pipe.xml").exists()  # set aside, with its reason
    assert list((demo / "error").glob("*pipe.xml.reason.txt"))


def test_the_operators_submit_does_not_write_through_the_carriers_links(
    make_drop: Callable[..., Gateway], secret: Path, tmp_path: Path
) -> None:
    """``pde-gateway submit`` writes into the carrier's in/ as the operator: a link the carrier
    put in place of in/, or under the temporary name the copy used, leads nowhere."""
    gateway = make_drop()
    demo, samu = gateway.filedrop.root / "DEMO", gateway.filedrop.root / "SAMU"
    (samu / "in").rename(samu / "in.moved")
    (samu / "in").symlink_to(secret.parent)  # SAMU's in/ is a folder of the host
    (demo / "in" / ".rksp.xml.tmp").symlink_to(secret)  # the name the old copy wrote to
    source = tmp_path / "rksp.xml"
    source.write_bytes(rksp(voyage="O1"))
    before = snapshot(secret.parent)

    def submit(partner: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PDE_GATEWAY_")}
        env["PDE_GATEWAY_DATA_DIR"] = str(gateway.settings.data_dir)
        command = [sys.executable, "-m", "gateway.cli", "submit", "--partner", partner]
        return subprocess.run(
            [*command, str(source)], env=env, capture_output=True, text=True, timeout=60
        )

    refused = submit("SAMU")
    assert refused.returncode != 0 and "link" in refused.stderr, refused.stderr
    assert submit("DEMO").returncode == 0
    assert snapshot(secret.parent) == before
    assert (demo / "in" / "rksp.xml").read_bytes() == source.read_bytes()


# -- 2. names are bytes: one bad entry stops nothing ------------------------------------------


def test_a_name_that_is_not_utf8_stops_nothing(make_drop: Callable[..., Gateway]) -> None:
    gateway = make_drop()
    demo_in = bytes(gateway.filedrop.inbox("DEMO"))
    with open(os.path.join(demo_in, b"\xff\xfe.xml"), "wb") as out:
        out.write(rksp(voyage="B1"))
    (gateway.filedrop.inbox("SAMU") / "good.xml").write_bytes(rksp(voyage="G1"))
    for _ in range(3):
        scan(gateway)
    work(gateway)
    by_name = {r.source_name: r for r in rows(gateway)}
    assert by_name["good.xml"].sender == "SAMU"
    assert by_name["good.xml"].status not in {"RECEIVED", "PROCESSING"}
    # The odd name is taken under a readable, escaped name; its bytes are the file's.
    odd = by_name[r"\xff\xfe.xml"]
    assert odd.sender == "DEMO" and odd.sha256 == hashlib.sha256(rksp(voyage="B1")).hexdigest()
    assert os.listdir(demo_in) == []
    # And later looks keep working.
    (gateway.filedrop.inbox("DEMO") / "later.xml").write_bytes(rksp(voyage="L1"))
    for _ in range(3):
        scan(gateway)
    assert "later.xml" in {r.source_name for r in rows(gateway)}


# -- 3. a file is taken once it has settled ---------------------------------------------------


def test_a_file_written_slowly_is_taken_whole(make_drop: Callable[..., Gateway]) -> None:
    """Chunks 0.6 s apart from a writer whose clock is an hour behind (a network share): the
    file's times say "old" throughout, and still only the whole file is taken, with the
    settle time the gateway ships with."""
    shipped = load_settings(environ={}).settle_seconds
    gateway = make_drop(settle_seconds=str(shipped), poll_interval_seconds="0.05")
    data = rksp(voyage="W1")
    path = gateway.filedrop.inbox("DEMO") / "slow.xml"
    stop = threading.Event()
    drop = threading.Thread(target=gateway.filedrop.run, args=(gateway.pipeline.receive_many, stop))
    drop.start()
    try:
        chunk = len(data) // 4 + 1
        with open(path, "wb") as out:
            for start in range(0, len(data), chunk):
                out.write(data[start : start + chunk])
                out.flush()
                behind = time.time() - 3600
                os.utime(out.fileno(), (behind, behind))
                time.sleep(0.6)
        deadline = time.monotonic() + shipped + 3
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        drop.join()
    taken = rows(gateway)
    assert [(r.source_name, r.size) for r in taken] == [("slow.xml", len(data))]
    assert taken[0].sha256 == hashlib.sha256(data).hexdigest()


def test_a_file_first_seen_is_not_taken_at_once(make_drop: Callable[..., Gateway]) -> None:
    """``cp -p`` keeps an old modification time: that is no reason to take it unseen."""
    gateway = make_drop(settle_seconds="0.3")
    path = gateway.filedrop.inbox("DEMO") / "copied.xml"
    path.write_bytes(rksp(voyage="C1"))
    os.utime(path, (time.time() - 86400, time.time() - 86400))
    assert scan(gateway) == 0
    assert scan(gateway) == 0  # seen twice, but not yet for 0.3 s
    time.sleep(0.35)
    assert scan(gateway) == 1
    assert not path.exists()
