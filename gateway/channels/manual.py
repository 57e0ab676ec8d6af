"""Paper keyed in by an officer in the console (Art. 3, 5, 9: the manual channel).

The form becomes the same XML document a carrier would send and goes through the same
pipeline, rules and numbering; no PDE agreement is needed on this channel. Acknowledgments
are kept in ``<data_dir>/manual/<CARRIER>/out`` and shown on the submission page.
"""

from __future__ import annotations

from pathlib import Path

from gateway.channels.base import Channel
from gateway.storage.raw_files import write_file
from gateway.storage.submissions import PendingAck


class ManualChannel(Channel):
    name = "manual"
    family = "manual"

    def __init__(self, root: Path) -> None:
        self.root = root

    def deliver(self, ack: PendingAck) -> Path:
        target = self.root / ack.partner / "out" / ack.file_name
        write_file(target, ack.body, durable=False)
        return target
