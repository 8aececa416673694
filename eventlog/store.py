"""The event store's interface, shared by the SQLite and PostgreSQL backends."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

import msgspec

from trackledger.eventlog.commands import AnyCommand
from trackledger.eventlog.errors import IdempotencyKeyReused, InvalidInput
from trackledger.eventlog.events import AnyEvent
from trackledger.eventlog.results import AnyResult, decode_result
from trackledger.eventlog.stats import WriteStats

__all__ = ["EventStore", "Idempotency", "StoredEvent", "cursor_parts", "system_clock"]

_CURSOR = re.compile(r"[0-9]{1,19}(?:\.[0-9]{1,19})*")
_INT64_MAX = 2**63 - 1


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the log holds it: its place, its time, who caused it, and why.

    ``cursor`` resumes a tail after this event (``read_all(after=cursor)``). On SQLite it is
    the position; on PostgreSQL it also names the writing transaction, because positions
    there can commit out of order.
    """

    position: int
    stream_id: str
    type: str
    recorded_at: int
    actor: str | None
    idempotency_key: str | None
    event: AnyEvent
    cursor: str = ""


class Idempotency(msgspec.Struct, frozen=True):
    """A client's ``Idempotency-Key`` and a digest of the request it came with."""

    key: str
    request_hash: bytes

    def first_answer(self, stored_hash: bytes, stored_result: bytes) -> AnyResult:
        """The answer stored for this key, if it came with the same request."""
        if stored_hash != self.request_hash:
            raise IdempotencyKeyReused(self.key)
        return decode_result(stored_result)


def cursor_parts(cursor: str, count: int) -> list[int]:
    """The numbers of a cursor ``read_all`` handed out: 1 to ``count`` of them, joined by
    dots, each a 64-bit integer of plain digits. Anything else is refused, not guessed at."""
    parts = cursor.split(".")
    if (
        len(parts) > count
        or _CURSOR.fullmatch(cursor) is None
        or any(int(part) > _INT64_MAX for part in parts)
    ):
        shown = repr(cursor) if len(cursor) <= 100 else f"{cursor[:100]!r}..."
        raise InvalidInput(f"Invalid cursor {shown}: pass back a next_cursor this server returned.")
    return [int(part) for part in parts]


def system_clock() -> int:
    """Milliseconds since the epoch."""
    import time

    return time.time_ns() // 1_000_000


class EventStore(Protocol):
    async def execute(
        self,
        command: AnyCommand,
        *,
        actor: str | None = None,
        idempotency: Idempotency | None = None,
    ) -> AnyResult:
        """Decide ``command`` against current state; append its events and project them
        in one transaction. A rejected command raises a ``TrackingError`` and appends
        nothing. A repeated idempotency key returns the first result and appends nothing.
        """
        ...

    async def append_imported(
        self, events: list[StoredEvent], *, new_streams: Sequence[str] = ()
    ) -> int:
        """Append events that come from elsewhere (another log's export, another tracking
        server) at new positions with their own times and actors, and project them, in one
        transaction; return how many were appended. If one of ``new_streams`` already has
        an event, raise ``AlreadyExists`` and append nothing."""
        ...

    async def read_stream(
        self, stream_id: str, after: int = 0, limit: int = 1000
    ) -> list[StoredEvent]: ...

    async def read_all(self, after: str | None = None, limit: int = 1000) -> list[StoredEvent]:
        """Events after the cursor ``after``, in an order a tailing reader can resume
        from: no event is ever delivered behind a cursor already handed out."""
        ...

    #: What the write path has counted (for /metrics).
    @property
    def stats(self) -> WriteStats: ...

    def queued(self) -> int:
        """Commands waiting to be written."""
        ...

    def read_snapshot(self, page: int = 5000) -> AsyncGenerator[list[StoredEvent], None]:
        """Every event of one consistent snapshot of the log, in position order, ``page``
        events at a time: what the projections held at one moment, whatever is appended
        meanwhile. Replaying it in this order gives every field the same last writer.
        The snapshot keeps a read connection until the iterator ends or is closed."""
        ...

    async def close(self) -> None: ...
