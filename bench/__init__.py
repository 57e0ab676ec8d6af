"""Benchmarks of the PDE Gateway: ``python -m bench`` (or ``make bench``).

``bench.filedrop``: files/s and latency of the running gateway's file drop on SQLite.
``bench.manifest``: wall time and peak memory of ``pde-gateway process`` on a 10,000-pos manifest.
``bench.x12``: ``pde-gateway process`` on an X12 309 with 10,000 bills, side by side with pyx12.
See ``docs/performance.md`` for how to run them and the figures measured.
"""

from __future__ import annotations
