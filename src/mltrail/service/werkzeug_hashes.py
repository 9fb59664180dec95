"""Verifying the password hashes MLflow's basic-auth app stores (Werkzeug's format).

``scrypt:N:r:p$salt$hex`` and ``pbkdf2:hash:iterations$salt$hex``: users imported from
MLflow (``mltrail import mlflow --auth-db``) keep their passwords; the first login
re-hashes the password with argon2id.
"""

from __future__ import annotations

import hashlib
import hmac

_SCRYPT_DEFAULTS = (2**15, 8, 1)
_PBKDF2_DEFAULT_ITERATIONS = 600_000


def is_werkzeug_hash(stored: str) -> bool:
    return stored.startswith(("scrypt:", "pbkdf2:")) and stored.count("$") == 2


def verify_werkzeug(stored: str, password: str) -> bool:
    """Whether ``password`` matches a Werkzeug hash (False for any malformed hash)."""
    method, salt, expected = stored.split("$", 2)
    kind, *args = method.split(":")
    secret = password.encode("utf-8")
    try:
        if kind == "scrypt":
            n, r, p = (int(a) for a in args) if len(args) == 3 else _SCRYPT_DEFAULTS
            derived = hashlib.scrypt(
                secret, salt=salt.encode("utf-8"), n=n, r=r, p=p, maxmem=132 * n * r * p
            )
        elif kind == "pbkdf2":
            name = args[0] if args else "sha256"
            iterations = int(args[1]) if len(args) > 1 else _PBKDF2_DEFAULT_ITERATIONS
            derived = hashlib.pbkdf2_hmac(name, secret, salt.encode("utf-8"), iterations)
        else:
            return False
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(derived.hex(), expected)
