"""A real OpenSSH ``sshd`` on loopback for the SFTP pull tests: a carrier's own server.

Started from the Debian ``openssh-server`` package (``scripts/install-system-deps``) with
its own host key, ``authorized_keys`` and config in a temporary directory, on a free port,
as the user running the tests (root in CI: ``PermitRootLogin prohibit-password``). The SFTP
subsystem is OpenSSH's ``internal-sftp``; ``restart(deny=...)`` starts it again refusing some
SFTP requests (``internal-sftp -P``), which is how a test makes the remote delete fail after a
download without touching the gateway.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = Path("/usr/sbin/sshd")
INSTALL_HINT = (
    "OpenSSH (sshd, ssh-keygen, sftp) not found. Install it with `scripts/install-system-deps` "
    "(Debian: apt-get update && apt-get install -y --no-install-recommends openssh-server "
    "openssh-client)."
)


class SshdUnavailable(RuntimeError):
    """openssh-server / openssh-client are not installed."""


def require_openssh() -> None:
    if not SSHD.exists() or shutil.which("ssh-keygen") is None or shutil.which("sftp") is None:
        raise SshdUnavailable(INSTALL_HINT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def keygen(path: Path, comment: str = "pde-test") -> str:
    """A new ed25519 key pair at ``path``; returns the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
    )
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class Sshd:
    root: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        require_openssh()
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key_line = keygen(self.root / "host_key", "host")
        self.client_key = self.root / "client_key"
        (self.root / "authorized_keys").write_text(keygen(self.client_key, "gateway") + "\n")
        os.chmod(self.root / "authorized_keys", 0o600)
        if os.geteuid() == 0:  # privilege separation needs its empty directory
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    def config(self, deny: str = "") -> Path:
        subsystem = "internal-sftp" + (f" -P {deny}" if deny else "")
        path = self.root / "sshd_config"
        path.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {self.root / 'host_key'}\n"
            f"PidFile {self.root / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}\n"
            "PubkeyAuthentication yes\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PermitRootLogin prohibit-password\n"
            "UsePAM no\n"
            "StrictModes no\n"
            "LogLevel ERROR\n"
            f"Subsystem sftp {subsystem}\n"
        )
        return path

    def start(self, deny: str = "") -> Sshd:
        config = self.config(deny)
        with open(self.root / "sshd.log", "ab") as errors:  # the child keeps its own copy
            self.process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.root / "sshd.log").read_text(errors="replace")
                raise RuntimeError(f"sshd exited with {self.process.returncode}: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not answer within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, deny: str = "") -> Sshd:
        self.stop()
        return self.start(deny)

    @property
    def host_key(self) -> tuple[str, str]:
        key_type, blob = self.host_key_line.split()[:2]
        return key_type, blob
