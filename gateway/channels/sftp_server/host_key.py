"""The server's Ed25519 host key, made on first start and kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import paramiko
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.exceptions import ConfigurationError

log = structlog.get_logger("gateway.channels.sftp")


def load_or_create_host_key(path: Path) -> paramiko.PKey:
    """The server's Ed25519 host key, made (mode 0600) on first start and kept."""
    if not path.exists():
        _create_host_key(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("sftp host key was readable by others; mode set to 0600", path=str(path))
        path.chmod(0o600)
    try:
        key = paramiko.Ed25519Key(filename=str(path))
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise ConfigurationError(f"SFTP host key {path} cannot be read: {exc}") from exc
    public = path.with_name(path.name + ".pub")
    if not public.exists():
        public.write_text(f"{key.get_name()} {key.get_base64()} pde-gateway\n", encoding="ascii")
    return key


def _create_host_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first: use theirs
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    log.info("sftp host key created", path=str(path))
