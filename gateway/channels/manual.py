"""Paper keyed in by an officer in the console (Art. 3, 5, 9: the manual channel).

The form becomes the same XML document a carrier would send and goes through the same
pipeline, rules and numbering; no PDE agreement is needed on this channel. Acknowledgments
are kept in ``<data_dir>/manual/<CARRIER>/out`` and shown on the submission page.
"""

from __future__ import annotations

from gateway.channels.base import OutboxChannel


class ManualChannel(OutboxChannel):
    name = "manual"
    family = "manual"
