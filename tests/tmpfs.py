"""A small, real filesystem that can be filled: a tmpfs mounted for one test.

``mount -t tmpfs -o size=N tmpfs DIR`` needs root (CI runs as root); elsewhere the tests that
need it are skipped (``tests.conftest.unavailable``: a failure under ``CI=true``). ``fill()``
writes a filler file until the kernel says ENOSPC, ``free()`` deletes it: the disk is full
and empty again exactly as an operator's would be, with no simulation in the gateway's code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import unavailable

CHUNK = 64 * 1024


class Tmpfs:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler.bin"

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, *, leave: int = 0) -> None:
        """Write the filler until the disk is full (``leave``: stop this many bytes short)."""
        block = b"\0" * CHUNK
        with open(self.filler, "ab") as out:
            while True:
                room = self.free_bytes() - leave
                if room <= 0:
                    break
                try:
                    out.write(block[: min(CHUNK, room)])
                    out.flush()
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        if leave == 0:
            assert self.free_bytes() == 0, self.free_bytes()

    def free(self) -> None:
        """Delete the filler: the space is back."""
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()


@contextlib.contextmanager
def mounted(path: Path, *, size: str) -> Iterator[Tmpfs]:
    """A tmpfs of ``size`` (``"8m"``) at ``path`` for the block; unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        unavailable("mounting a tmpfs needs root (CI runs the tests as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield Tmpfs(path)
    finally:
        # Lazy: a process of the test that still has a file open there must not keep it.
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
