"""Group commit for log-batch commands on PostgreSQL.

Logging metrics, params and tags is most of what a tracking server writes, and one command
per transaction costs about seven round trips (begin, lookup, append, two projection
statements, commit, pool reset). Here the log-batch commands that queue up while a
transaction is in flight are decided and written together, in one transaction:

- a group holds at most one command per run. A log-batch decision reads only its own run
  (the run's state and its params), so the decisions in a group cannot see each other's
  writes, and they are driven in lockstep: each round answers every pending lookup with
  one query per kind (``AnswerMany``);
- the accepted commands' events are appended with one statement and projected with one
  statement per kind of change (``ProjectMany``);
- a rejected command gets its own error; its neighbours are unaffected;
- the row locks are the ones a single command takes, so a concurrent delete or another
  process's group orders against the group exactly as against single commands.
  A deadlock retries the whole group.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from trackledger.eventlog.commands import LogBatch
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.decide import Lockstep, Primed, decide
from trackledger.eventlog.errors import StoreUnavailable
from trackledger.eventlog.events import AnyEvent, Event
from trackledger.eventlog.lookups import Lookup
from trackledger.eventlog.postgres_sql import is_outage, unavailable
from trackledger.eventlog.postgres_tail import appending
from trackledger.eventlog.results import AnyResult
from trackledger.eventlog.stats import WriteStats

__all__ = ["AnswerMany", "GroupCommitter", "ProjectMany"]

#: Answers unrelated lookups, in order, on the transaction's connection.
AnswerMany = Callable[[asyncpg.Connection, list[Lookup]], Awaitable[list[Any]]]
#: Applies positioned events to the read model on the transaction's connection.
ProjectMany = Callable[[asyncpg.Connection, list[tuple[AnyEvent, int]]], Awaitable[None]]
#: Appends (event, recorded_at, actor) rows; returns their positions in order.
Append = Callable[[asyncpg.Connection, list[tuple[Event, int, str | None]]], Awaitable[list[int]]]

_ATTEMPTS = 5


class _Job:
    __slots__ = ("actor", "command", "ctx", "future", "primed")

    def __init__(
        self, command: LogBatch, ctx: DecideContext, primed: Primed, actor: str | None
    ) -> None:
        self.command = command
        self.ctx = ctx
        self.primed = primed
        self.actor = actor
        self.future: asyncio.Future[AnyResult] = asyncio.get_running_loop().create_future()


class GroupCommitter:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        append: Append,
        answer_many: AnswerMany,
        project_many: ProjectMany,
        max_group: int = 256,
        max_inflight: int = 4,
    ) -> None:
        self._pool = pool
        self._append = append
        self._answer_many = answer_many
        self._project_many = project_many
        self._max_group = max_group
        self._slots = asyncio.Semaphore(max_inflight)
        self._queue: deque[_Job] = deque()
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._commits: set[asyncio.Task[None]] = set()
        self.stats = WriteStats()

    @property
    def queued(self) -> int:
        """Log-batch commands waiting for a group."""
        return len(self._queue)

    async def submit(
        self, command: LogBatch, ctx: DecideContext, primed: Primed, actor: str | None
    ) -> AnyResult:
        """Decide and write ``command`` (already primed) with the commands queued beside it."""
        job = _Job(command, ctx, primed, actor)
        self._queue.append(job)
        self._wakeup.set()
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run())
        return await job.future

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
        await asyncio.gather(*self._commits, return_exceptions=True)
        for job in self._queue:
            job.future.set_exception(StoreUnavailable("the server is shutting down"))
        self._queue.clear()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                await self._slots.acquire()
                task = asyncio.create_task(self._commit(self._take()))
                self._commits.add(task)
                task.add_done_callback(self._commits.discard)

    def _take(self) -> list[_Job]:
        """The oldest queued commands, one per run; the others keep their place."""
        group: list[_Job] = []
        runs: set[str] = set()
        later: list[_Job] = []
        while self._queue and len(group) < self._max_group:
            job = self._queue.popleft()
            if job.command.run_id in runs:
                later.append(job)
            else:
                runs.add(job.command.run_id)
                group.append(job)
        self._queue.extendleft(reversed(later))
        return group

    async def _commit(self, group: list[_Job]) -> None:
        outcomes: list[AnyResult | Exception]
        started = time.perf_counter()
        try:
            outcomes = await self._attempts(group)
        except Exception as exc:  # the whole group failed: each command says so
            outcomes = [unavailable(exc) if is_outage(exc) else exc] * len(group)
            self.stats.errors += 1
        finally:
            self._slots.release()
        self.stats.committed(len(group), time.perf_counter() - started)
        for job, outcome in zip(group, outcomes, strict=True):
            if job.future.done():  # its request went away (the write stands, unanswered)
                continue
            if isinstance(outcome, Exception):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
        if self._queue:
            self._wakeup.set()

    async def _attempts(self, group: list[_Job]) -> list[AnyResult | Exception]:
        for attempt in range(_ATTEMPTS):
            if attempt:
                for job in group:  # a decision runs once: decide anew
                    job.primed = Primed(decide(job.command, job.ctx))
            try:
                async with self._pool.acquire() as conn, appending(conn):
                    return await self._write(conn, group)
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                continue
        raise StoreUnavailable("the write kept conflicting with others")

    async def _write(
        self, conn: asyncpg.Connection, group: list[_Job]
    ) -> list[AnyResult | Exception]:
        step = Lockstep([job.primed for job in group])
        while pending := step.pending():
            step.give(await self._answer_many(conn, [lookup for _, lookup in pending]))
        outcomes: list[AnyResult | Exception] = []
        rows: list[tuple[Event, int, str | None]] = []
        for job, decided in zip(group, step.outcomes(), strict=True):
            if isinstance(decided, Exception):
                outcomes.append(decided)
                continue
            outcomes.append(decided.result)
            rows.extend((event, job.ctx.now, job.actor) for event in decided.events)
        if rows:
            positions = await self._append(conn, rows)
            positioned = [(row[0], position) for row, position in zip(rows, positions, strict=True)]
            await self._project_many(conn, positioned)  # type: ignore[arg-type]
        return outcomes
