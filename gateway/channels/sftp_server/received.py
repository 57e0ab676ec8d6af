"""Names recently taken from each carrier's /inbox, for ``stat`` after the close."""

from __future__ import annotations

import os
import threading
import time

import paramiko

# Names remembered per carrier after their upload was taken (see "After the close").
MAX_RECEIVED_NAMES = 10_000


class Received:
    """Names recently taken from each carrier's /inbox, and what ``stat`` answers for them."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._names: dict[str, dict[str, tuple[float, paramiko.SFTPAttributes]]] = {}

    def remember(self, carrier: str, name: str, st: os.stat_result) -> None:
        until = time.monotonic() + self.seconds
        with self._lock:
            names = self._names.setdefault(carrier, {})
            names.pop(name, None)  # to the end: the dict is oldest first
            names[name] = (until, paramiko.SFTPAttributes.from_stat(st, name))
            while len(names) > MAX_RECEIVED_NAMES:
                del names[next(iter(names))]

    def get(self, carrier: str, name: str) -> paramiko.SFTPAttributes | None:
        with self._lock:
            names = self._names.get(carrier, {})
            # Oldest first: drop what has expired from the front.
            now = time.monotonic()
            while names and next(iter(names.values()))[0] <= now:
                del names[next(iter(names))]
            found = names.get(name)
        return None if found is None else found[1]

    def forget(self, carrier: str, name: str) -> None:
        with self._lock:
            self._names.get(carrier, {}).pop(name, None)
