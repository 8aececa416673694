"""Passwords and access tokens: how they are made, hashed and checked.

Passwords are hashed with scrypt (memory-hard; in Python's standard library), with a random
16-byte salt per hash: ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` in URL-safe base64. At n=2**14,
r=8 one check takes ~16 MB and tens of milliseconds, on purpose; the API checks a password
once and then caches the verified credential (``api/auth/credentials.py``).

Access tokens are 256 random bits, so a fast hash is enough to keep them out of reach if the
store leaks: the store holds SHA-256 of the secret part. A token reads
``tlk_<token id>_<secret>``; the id finds the row, the secret is compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "check_password_policy",
    "hash_password",
    "hash_token_secret",
    "new_token",
    "parse_token",
    "verify_password",
    "verify_token_secret",
]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
#: scrypt cost: n (CPU/memory), r (block size), p (parallelism); 128 * n * r bytes of memory.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAXMEM = 64 * 2**20
TOKEN_PREFIX = "tlk_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_password_policy(password: str | None) -> str:
    """The password if it is acceptable; ``ValueError`` with the reason otherwise."""
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"Password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"Password must be at most {MAX_PASSWORD_LENGTH} characters.")
    return password


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAXMEM, dklen=32
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` (slow on purpose: run it off the event loop)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the ``stored`` hash (slow on purpose)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def hash_token_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """A fresh token: (the token as the user gets it, its id, the hash to store)."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{token_id}_{secret}", token_id, hash_token_secret(secret)


def parse_token(token: str) -> tuple[str, str] | None:
    """(token id, secret) of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    token_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(token_id) != 16 or not secret:
        return None
    return token_id, secret


def verify_token_secret(secret: str, stored: str) -> bool:
    return hmac.compare_digest(hash_token_secret(secret), stored)
