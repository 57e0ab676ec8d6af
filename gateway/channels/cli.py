"""The command line as a channel: ``pde-gateway process FILE --partner CODE``.

Acks go to ``<data_dir>/cli/<partner>/out/``; the command prints their absolute paths.
"""

from __future__ import annotations

from gateway.channels.base import OutboxChannel


class CliChannel(OutboxChannel):
    name = "cli"
    family = "media"
