"""Format parsers: pure functions from bytes to canonical records, and from outcomes to acks.

No paths, no sessions, no clock: everything a parser needs is in its arguments.

Every format package has the same steps, in modules of the same role where the step applies:

=============  ==================  =====================  =================
step           xml                 x12                    edifact
=============  ==================  =====================  =================
read           ``reader``          ``envelope``           ``envelope``
validate       ``schema``          ``validation``         ``structure``
map            ``documents``       ``documents/``         ``documents/``
report         (none: one          ``report``             ``report``
               document a file)
acks           ``acks``            ``acks``,              ``acks``
                                   ``response_355``
=============  ==================  =====================  =================

``documents/`` holds one module per document kind (``notices``, ``manifests``, ``bills``,
``amendments``) and the segment readers they share (``elements``). What all formats share
lives here once: the contracts and the size check (``base``), field values (``fields``),
located refusals (``refusal``), records built alike (``records``), ISO 8601 text (``times``).
"""

from __future__ import annotations

from parsers.detect import detect_format

__all__ = ["detect_format"]
