"""Benchmarks of the PDE Gateway: ``python -m bench`` (or ``make bench``).

``bench.filedrop``: files/s and latency of the running gateway's file drop on SQLite.
``bench.manifest``: wall time and peak memory of ``pde-gateway process`` on a 10,000-pos manifest.
See ``docs/performance.md`` for how to run them and the figures measured.
"""

from __future__ import annotations
