"""Password hashing for every secret a person types: SFTP passwords and console logins.

argon2id (argon2-cffi) with OWASP's floor of 19 MiB and 2 passes: a login flood at the
connection limits must not exhaust memory, which RFC 9106's 64 MiB default could on a small
machine. The PHC string carries algorithm, parameters and salt, so stronger parameters later
still verify old hashes, and :func:`needs_rehash` tells when to store a fresh one.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@cache
def _dummy() -> str:
    return _HASHER.hash("not a password of anyone")


def verify(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``. With no stored hash (unknown user) a dummy is
    verified instead, so an unknown name costs as much time as a known one."""
    try:
        _HASHER.verify(stored if stored is not None else _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
