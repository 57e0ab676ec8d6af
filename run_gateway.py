"""Start the PDE Gateway: ``python run_gateway.py [--config PATH] [--role ROLE ...]``.

The same as ``pde-gateway [--config PATH] run [--role ROLE ...]``: every role in one process by
default; ``--role worker|scheduler|web|sftp`` (repeatable, or comma-separated) for one part.
"""

from __future__ import annotations

import sys

from gateway.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "run" in args:
        main(args)  # exits
    # Global options (--config PATH) go before the sub-command, run's own (--role) after it.
    head: list[str] = []
    tail: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--config":
            head += [arg, next(rest, "")]
        elif arg.startswith("--config="):
            head.append(arg)
        else:
            tail.append(arg)
    main([*head, "run", *tail])
