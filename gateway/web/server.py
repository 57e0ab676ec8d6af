"""Serving the console and the API inside the gateway process (uvicorn in a thread).

The socket is bound before any thread starts, so a port in use stops start-up with a clear
message, and port 0 picks a free port (logged as ``web_port``). Stopping sets uvicorn's exit
flag; requests in flight finish first. What a slow or greedy client may hold is bounded in
``gateway/web/limits.py``.
"""

from __future__ import annotations

import socket
import threading
from typing import TYPE_CHECKING

import uvicorn

from gateway.exceptions import ConfigurationError
from gateway.web import create_app
from gateway.web.limits import guarded_h11

if TYPE_CHECKING:  # the gateway composes the web, never the other way round
    from gateway.app import Gateway

# Request line and headers: a browser sends 1-2 KiB (cookies included).
H11_MAX_HEAD_BYTES = 16 * 1024


def trusted_proxies(setting: str) -> list[str]:
    """``"10.0.0.5, 10.1.0.0/16"`` -> the addresses and networks uvicorn may believe."""
    return [item.strip() for item in setting.split(",") if item.strip()]


class WebServer:
    def __init__(self, gateway: Gateway, *, host: str, port: int) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
        except OSError as exc:
            self.socket.close()
            raise ConfigurationError(
                f"web console cannot listen on {host}:{port}: {exc.strerror}"
            ) from exc
        self.socket.listen(128)
        self.host = host
        self.port: int = self.socket.getsockname()[1]
        settings = gateway.settings
        config = uvicorn.Config(
            create_app(gateway),
            log_config=None,
            access_log=False,
            lifespan="off",
            # Slow and greedy clients (gateway/web/limits.py): a deadline for the request
            # head, h11's cap on its size, and a cap on connections (503 past it).
            http=guarded_h11(settings.web_header_timeout_seconds),
            h11_max_incomplete_event_size=H11_MAX_HEAD_BYTES,
            limit_concurrency=settings.web_max_connections,
            timeout_keep_alive=5,
            # X-Forwarded-For is believed only from the proxies named in web_trusted_proxies;
            # uvicorn's own default trusts 127.0.0.1, i.e. anybody on this host.
            proxy_headers=bool(trusted_proxies(settings.web_trusted_proxies)),
            forwarded_allow_ips=trusted_proxies(settings.web_trusted_proxies),
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: self.server.run(sockets=[self.socket]), name="web", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()
