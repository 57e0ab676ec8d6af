"""PDE Gateway: the EDI intake of Indonesian Customs for conveyance arrival notices (BC 1.0)
and cargo manifests (BC 1.1)."""

from __future__ import annotations

__version__ = "0.1.0"
