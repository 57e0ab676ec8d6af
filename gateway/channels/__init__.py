"""Channels move bytes in and out; the pipeline does everything else."""

from __future__ import annotations
