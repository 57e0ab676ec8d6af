"""Start the PDE Gateway: ``python run_gateway.py [--config PATH]`` is ``pde-gateway run``."""

from __future__ import annotations

import sys

from gateway.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    # Global options (--config PATH) go before the sub-command.
    main([*args, "run"] if "run" not in args else args)
