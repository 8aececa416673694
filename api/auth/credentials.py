"""Who is calling: HTTP Basic (MLFLOW_TRACKING_USERNAME/PASSWORD), a Bearer access token
(MLFLOW_TRACKING_TOKEN) or the UI's session cookie.

A password is checked with scrypt once; the verified credential is then cached for
``CACHE_SECONDS`` under a keyed BLAKE2 digest of what the client sent (never the secret
itself), so a logging client pays the KDF once, not on every request. Concurrent requests
with the same new credential wait for one check. A change to users or tokens made through
this process empties the cache at once; other server processes see it within the TTL.

Failed logins are limited per user name and per client address: past the limit, a
credential that is not already cached is refused (429) without being checked, so guessing
gets nowhere and a running job whose credential is cached keeps working.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import secrets
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import msgspec
from starlette.responses import Response

from trackledger.api.auth.principal import Principal
from trackledger.api.errors import error_response
from trackledger.projections.auth_reads import AuthReads
from trackledger.services import secrets as keys

__all__ = [
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "UI_HEADER",
    "Authenticator",
    "FailureLimiter",
    "Refusal",
    "cookie",
    "csrf_token",
    "headers_of",
    "refusal_response",
]

CACHE_SECONDS = 30.0
CACHE_SIZE = 10_000
SESSION_COOKIE = "trackledger_session"
CSRF_HEADER = "x-csrf-token"
#: Sent by the web UI: a 401 then comes without WWW-Authenticate (no browser dialog).
UI_HEADER = "x-trackledger-ui"
#: At most this many password checks run at once (each takes ~16 MB and a core for a while).
CONCURRENT_CHECKS = 4


@functools.cache
def _dummy_hash() -> str:
    """A hash checked when the user does not exist, so the answer takes as long either way:
    made at the first such check (one scrypt, 90 ms, that every process importing this
    module paid at start-up, auth on or off)."""
    return keys.hash_password(secrets.token_urlsafe(16))


class Refusal(msgspec.Struct, frozen=True):
    """Why a request is not authenticated: 401 (missing or wrong) or 429 (too many
    failures; ``retry_after`` seconds)."""

    status: int
    message: str
    retry_after: int = 0


MISSING = Refusal(
    401,
    "You are not authenticated. Send a user name and password (MLFLOW_TRACKING_USERNAME and "
    "MLFLOW_TRACKING_PASSWORD) or an access token (MLFLOW_TRACKING_TOKEN).",
)
WRONG = Refusal(401, "Invalid user name, password or token.")


class FailureLimiter:
    """Counts failures per key in a sliding window of ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        cutoff = self._clock() - self.window
        times = [t for t in self._failures.get(key, ()) if t > cutoff]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def blocked_for(self, key: str) -> int:
        """Seconds until ``key`` may try again (0: now)."""
        times = self._recent(key)
        if len(times) < self.limit:
            return 0
        return max(1, int(times[-self.limit] + self.window - self._clock()) + 1)

    def fail(self, key: str) -> None:
        if len(self._failures) > 100_000:  # bounded memory under a flood of names
            for stale in list(self._failures)[:50_000]:
                self._recent(stale)
        self._failures.setdefault(key, []).append(self._clock())

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


Verified = Principal | Refusal


class Authenticator:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._pending: dict[bytes, asyncio.Future[Verified]] = {}
        self._checks = asyncio.Semaphore(CONCURRENT_CHECKS)
        self.per_user = FailureLimiter(10, 60.0, clock)
        self.per_address = FailureLimiter(50, 60.0, clock)

    def invalidate(self) -> None:
        """Forget every verified credential (users or tokens changed)."""
        self._cache.clear()

    def _digest(self, presented: str) -> bytes:
        return hashlib.blake2b(presented.encode(), key=self._key, digest_size=20).digest()

    async def authenticate(
        self, reads: AuthReads, headers: dict[str, str], address: str, now_ms: int
    ) -> Verified:
        """``headers``: lower-cased names; ``address``: the client's; ``now_ms``: for token
        expiry."""
        header = headers.get("authorization", "")
        session = cookie(headers.get("cookie", ""), SESSION_COOKIE)
        if header:
            presented = header
        elif session:
            presented = f"Session {session}"
        else:
            return MISSING
        digest = self._digest(presented)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        pending = self._pending.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Verified] = asyncio.get_running_loop().create_future()
        self._pending[digest] = future
        try:
            verified = await self._verify(reads, presented, address, now_ms)
            if isinstance(verified, Principal):
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[digest] = (verified, self._clock() + CACHE_SECONDS)
            future.set_result(verified)
            return verified
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters get it, nobody logs it as lost
            raise
        finally:
            del self._pending[digest]

    async def _verify(
        self, reads: AuthReads, presented: str, address: str, now_ms: int
    ) -> Verified:
        scheme, _, value = presented.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            return await self._basic(reads, value.strip(), address)
        if scheme in ("bearer", "session"):
            return await self._token(reads, value.strip(), address, now_ms, scheme)
        return MISSING

    def _limited(self, *keys_: str) -> Refusal | None:
        wait = max(
            [self.per_address.blocked_for(keys_[0])]
            + [self.per_user.blocked_for(k) for k in keys_[1:]]
        )
        if wait:
            return Refusal(429, f"Too many failed logins; try again in {wait} s.", wait)
        return None

    async def _basic(self, reads: AuthReads, value: str, address: str) -> Verified:
        try:
            username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return WRONG
        if not sep or not username:
            return WRONG
        return await self.check_password(reads, username, password, address)

    async def check_password(
        self, reads: AuthReads, username: str, password: str, address: str
    ) -> Verified:
        """The user, if ``password`` is theirs (rate-limited like every login)."""
        limited = self._limited(address, f"user:{username}")
        if limited is not None:
            return limited
        found = await reads.credentials(username)
        async with self._checks:
            ok = await asyncio.to_thread(
                lambda: keys.verify_password(
                    password, found.password_hash if found else _dummy_hash()
                )
            )
        if found is None or not ok:
            self.per_user.fail(f"user:{username}")
            self.per_address.fail(address)
            return WRONG
        self.per_user.clear(f"user:{username}")
        return Principal(
            user_id=found.user_id, username=found.username, is_admin=found.is_admin, via="basic"
        )

    async def _token(
        self, reads: AuthReads, token: str, address: str, now_ms: int, scheme: str
    ) -> Verified:
        limited = self._limited(address)
        if limited is not None:
            return limited
        parsed = keys.parse_token(token)
        found = await reads.token_credentials(parsed[0]) if parsed else None
        kind = "session" if scheme == "session" else "access"
        if (
            parsed is None
            or found is None
            or found.kind != kind
            or (found.expires_at is not None and found.expires_at <= now_ms)
            or not keys.verify_token_secret(parsed[1], found.token_hash)
        ):
            self.per_address.fail(address)
            return WRONG
        return Principal(
            user_id=found.user_id,
            username=found.username,
            is_admin=found.is_admin,
            via="session" if kind == "session" else "token",
            token_id=found.token_id,
        )


def cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


_WANTED = {
    b"authorization": "authorization",
    b"cookie": "cookie",
    b"x-trackledger-ui": UI_HEADER,
    b"x-csrf-token": CSRF_HEADER,
}


def headers_of(scope: MutableMapping[str, Any]) -> dict[str, str]:
    """The headers authentication reads (the last of repeated ones), names lower-cased."""
    found: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = _WANTED.get(key)
        if name is not None:
            found[name] = value.decode("latin-1")
    return found


def csrf_token(session: str) -> str:
    """The CSRF token that goes with a session cookie (derived from it: nothing to store)."""
    return hashlib.sha256(f"csrf:{session}".encode()).hexdigest()[:32]


def refusal_response(refusal: Refusal, headers: dict[str, str]) -> Response:
    """401 (with ``WWW-Authenticate: Basic`` unless the web UI asked) or 429."""
    if refusal.status == 429:
        response = error_response("REQUEST_LIMIT_EXCEEDED", refusal.message, 429)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response
    response = error_response("UNAUTHENTICATED", refusal.message, 401)
    if UI_HEADER not in headers:
        response.headers["WWW-Authenticate"] = 'Basic realm="trackledger"'
    return response
