"""The command line as a channel: ``pde-gateway process FILE --partner CODE``.

Acks go to ``<data_dir>/cli/<partner>/out/``; the command prints their absolute paths.
"""

from __future__ import annotations

from pathlib import Path

from gateway.channels.base import Channel
from gateway.storage.raw_files import write_file
from gateway.storage.submissions import PendingAck


class CliChannel(Channel):
    name = "cli"
    family = "media"

    def __init__(self, root: Path) -> None:
        self.root = root

    def deliver(self, ack: PendingAck) -> Path:
        target = self.root / ack.partner / "out" / ack.file_name
        write_file(target, ack.body, durable=False)
        return target.resolve()
