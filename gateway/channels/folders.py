"""A carrier's folders, used only through descriptors that never follow a link.

Whoever can write into a carrier's drop folder can put a symbolic link where the gateway
expects a folder or a file, and swap it in at any moment between two system calls. A path
checked first and used afterwards (``lstat`` then ``open``) is therefore no defence. Here
every step goes from an open folder to the next name with ``O_NOFOLLOW`` (``openat``,
``mkdirat``, ``renameat``): a link anywhere below the drop root is refused, whatever it was
swapped in for, and what was opened is what is checked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from gateway.exceptions import UnsafeFolder
from gateway.storage import disk
from gateway.storage.raw_files import hold

FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a named pipe put under a file's name must not hang the thread that opens it.
FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def display(name: str) -> str:
    """A file name as text that every log, database and XML takes: bytes that are not
    UTF-8 are shown as ``\\xff``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def open_folder(name: str, *, dir_fd: int, create: bool = False) -> int:
    """The descriptor of the plain folder ``name`` inside ``dir_fd``; made if missing and
    ``create``. A link (even to a folder) or anything else raises :class:`UnsafeFolder`."""
    try:
        return _open_folder(name, dir_fd)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile, or a dangling link (refused)
        os.mkdir(name, dir_fd=dir_fd)
    return _open_folder(name, dir_fd)


def _open_folder(name: str, dir_fd: int) -> int:
    try:
        return os.open(name, FOLDER, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in {errno.ELOOP, errno.ENOTDIR}:
            raise UnsafeFolder(f"{display(name)} is a link or not a folder; not used") from exc
        raise


@contextlib.contextmanager
def open_tree(
    root: Path, partner: str, subs: Sequence[str], *, create: bool = False
) -> Iterator[dict[str, int]]:
    """Descriptors of ``root/partner`` (key ``""``) and of its ``subs``, all plain folders.

    ``root`` is the operator's (it may be reached through a link); from there on, nothing
    that is a link is used.
    """
    if create:
        root.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        stack.callback(os.close, root_fd)
        partner_fd = open_folder(partner, dir_fd=root_fd, create=create)
        stack.callback(os.close, partner_fd)
        fds = {"": partner_fd}
        for sub in subs:
            fds[sub] = open_folder(sub, dir_fd=partner_fd, create=create)
            stack.callback(os.close, fds[sub])
        yield fds


def write_at(dir_fd: int, name: str, data: bytes | BinaryIO) -> None:
    """Write the file ``name`` inside ``dir_fd`` whole: a new temporary file (never an
    existing one, never through a link), then renamed over whatever had the name.

    The temporary file is held while written (:func:`~gateway.storage.raw_files.hold`) and
    removed as soon as the write fails; lack of space raises ``DiskFull``."""
    tmp = f".{name}.{uuid.uuid4().hex[:8]}.tmp"
    with disk.guard(f"file {name}"):
        fd = os.open(tmp, _NEW_FILE, 0o666, dir_fd=dir_fd)
        try:
            with open(fd, "wb") as out:
                hold(out.fileno())
                if isinstance(data, bytes):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out)
            os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise


def exists_at(dir_fd: int, name: str) -> bool:
    """Something (a link too) has the name ``name`` inside ``dir_fd``."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def is_plain_file(dir_fd: int, name: str) -> bool:
    """``name`` inside ``dir_fd`` is a regular file with no other name (not a link)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1
