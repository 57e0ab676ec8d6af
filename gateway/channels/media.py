"""Electronic storage media handed in at an office's counter (Art. 3(1)b, 5(1)b, 9(1)b).

A carrier brings its file on a storage medium; an officer of the office uploads it in the
console or the API. The file is the carrier's (its sender), the officer is the actor in the
audit trail, and the pipeline refuses any document in it that is not for the officer's own
office (rule ART3-1B-COUNTER). Acknowledgments are kept in
``<data_dir>/media/<CARRIER>/out`` and shown on the submission page, where the officer
prints or copies them for the carrier.
"""

from __future__ import annotations

from gateway.channels.base import OutboxChannel


class CounterMediaChannel(OutboxChannel):
    name = "media"
    family = "media"
