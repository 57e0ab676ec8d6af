"""One number per call across processes (issue 13, points 1-3): four worker processes on one
PostgreSQL database take 20 copies of each of three calls at once — an RKSP, the inward
manifest of its arrival, the outward manifest of its departure — dropped in the file drop of
two carriers, spelled otherwise, changed, in XML, X12 and EDIFACT. One BC 1.0, one inward and
one outward BC 1.1; every other copy refused with the number its call has.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.acceptance.conftest import drop_file
from tests.acceptance.test_cluster import Cluster, _wait_all, cluster  # noqa: F401 - fixture
from tests.integration.test_concurrent_calls import CALLS, COPIES

pytestmark = pytest.mark.slow

WORKER_PROCESSES = 4


def test_four_worker_processes_give_each_call_one_number(cluster: Cluster) -> None:  # noqa: F811
    scheduler = cluster.start("scheduler")  # polls the drop folders
    # One thread each: a process claims a batch (up to 32 jobs), the next batch goes to
    # another process, and the copies of a call meet in transactions of different processes.
    workers = [cluster.start("worker", workers=1) for _ in range(WORKER_PROCESSES)]
    for process in [scheduler, *workers]:
        process.wait_ready(60)
    staged = []
    for call, (_, _, make) in sorted(CALLS.items()):
        for n, (sender, data) in enumerate(make()):
            staged.append((sender, f"{call.replace(' ', '-')}-{n:02d}", data))
    for sender, stem, data in staged:
        suffix = ".x12" if data.startswith(b"ISA") else ".edi" if data[:3] == b"UNA" else ".xml"
        drop_file(cluster.data_dir / "drop" / sender / "in", stem + suffix, data)
    _wait_all(cluster, len(staged), timeout=120)
    for process in [*workers, scheduler]:
        assert process.stop() == 0

    numbers = Counter(
        (kind, number) for kind, number in cluster.rows("SELECT kind, number FROM registrations")
    )
    assert numbers == {("BC 1.0", "000001"): 1, ("BC 1.1", "000001"): 1, ("BC 1.1", "000002"): 1}
    statuses = Counter(s for (s,) in cluster.rows("SELECT status FROM documents"))
    assert statuses == {"REGISTERED": 3, "REFUSED": 3 * COPIES - 3}
    for (findings,) in cluster.rows("SELECT findings FROM documents WHERE status = 'REFUSED'"):
        assert {f["code"] for f in findings} & {"CALL-001", "CALL-002"}, findings
    assert cluster.scalar("SELECT count(DISTINCT document_id) FROM call_keys") == 3
    # The work was shared between the processes.
    decided = [sum(e.get("event") == "decided" for e in w.log_events()) for w in workers]
    assert sum(decided) == 3 * COPIES and sum(1 for d in decided if d) >= 2, decided
    cluster.assert_no_errors()
