"""paramiko's stdlib log lines, routed into our structured log."""

from __future__ import annotations

import logging

import structlog

log = structlog.get_logger("gateway.channels.sftp")


class _ToStructlog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("paramiko", logger=record.name, message=record.getMessage())


def route_paramiko_logs() -> None:
    # paramiko reports every client that hangs up mid-handshake at ERROR on stdlib logging,
    # which nobody configured here (Python would print it raw to stderr): keep it as debug
    # lines of our own log instead.
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, _ToStructlog) for h in logger.handlers):
        logger.addHandler(_ToStructlog())
        logger.setLevel(logging.WARNING)
        logger.propagate = False
