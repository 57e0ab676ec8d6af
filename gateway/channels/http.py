"""HTTP upload (API and console): files arrive through ``gateway/web``; acks are fetched there.

The web layer reads the body, hands it to the pipeline's intake and answers with the
submission; this channel only decides where acknowledgments are put for the record: a
carrier reads them through the API (``/api/v1/submissions/{id}/acks/{ack}``), and a copy is
kept in ``<data_dir>/http/<CARRIER>/out`` like every other channel's outbox.
"""

from __future__ import annotations

from gateway.channels.base import OutboxChannel


class HttpChannel(OutboxChannel):
    name = "http"
    family = "media"  # an upload is electronic storage media (Art. 3, 5, 9), as the drop is
