"""HTTP upload (API and console): files arrive through ``gateway/web``; acks are fetched there.

The web layer reads the body, hands it to the pipeline's intake and answers with the
submission; this channel only decides where acknowledgments are put for the record: a
carrier reads them through the API (``/api/v1/submissions/{id}/acks/{ack}``), and a copy is
kept in ``<data_dir>/http/<CARRIER>/out`` like every other channel's outbox.
"""

from __future__ import annotations

from pathlib import Path

from gateway.channels.base import Channel
from gateway.storage.raw_files import write_file
from gateway.storage.submissions import PendingAck


class HttpChannel(Channel):
    name = "http"
    family = "media"  # an upload is electronic storage media (Art. 3, 5, 9), as the drop is

    def __init__(self, root: Path) -> None:
        self.root = root

    def deliver(self, ack: PendingAck) -> Path:
        target = self.root / ack.partner / "out" / ack.file_name
        write_file(target, ack.body, durable=False)
        return target
