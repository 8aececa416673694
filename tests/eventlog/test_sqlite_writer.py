"""SQLite's writer thread: groups of jobs, each answered once its group is durable."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time

import pytest

from trackledger.eventlog.errors import StoreUnavailable
from trackledger.eventlog.sqlite_writer import GroupCommitWriter


def _setup(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY)")


def _insert(n: int):
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (n) VALUES (?)", (n,))
        return n

    return job


def _count(path: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL", "EXTRA"])
async def test_every_job_gets_its_own_answer(tmp_path, synchronous) -> None:
    path = str(tmp_path / "w.db")
    writer = GroupCommitWriter(path, synchronous=synchronous)
    await writer.start(_setup)
    try:
        jobs = [writer.submit(_insert(n)) for n in range(300)]
        jobs.append(writer.submit(_insert(5)))  # a duplicate key: this job alone fails
        answers = await asyncio.gather(*jobs, return_exceptions=True)
        assert answers[:300] == list(range(300))
        assert isinstance(answers[300], sqlite3.IntegrityError)
        assert await writer.run_exclusive(lambda conn: conn.execute("SELECT 1").fetchone()) == (1,)
    finally:
        await writer.close()
    assert _count(path) == 300
    with pytest.raises(StoreUnavailable):
        await writer.submit(_insert(1000))


async def test_full_mode_answers_only_after_the_wal_is_flushed(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "w.db")
    writer = GroupCommitWriter(path, synchronous="FULL")
    await writer.start(_setup)
    flushed = threading.Event()
    release = threading.Event()
    real_fdatasync = os.fdatasync

    def held_fdatasync(fd: int) -> None:
        release.wait(120)  # longer than the test waits for the commit below
        real_fdatasync(fd)
        flushed.set()

    monkeypatch.setattr(os, "fdatasync", held_fdatasync)
    try:
        job = asyncio.ensure_future(writer.submit(_insert(1)))
        # Committed (another connection sees it) but not yet flushed: not answered. Wait for
        # the commit itself: a fixed pause can end before a loaded machine's writer commits.
        deadline = time.monotonic() + 60
        while _count(path) == 0:
            assert time.monotonic() < deadline, "the writer never committed the job"
            await asyncio.sleep(0.05)
        assert _count(path) == 1
        assert not job.done()
        release.set()
        assert await asyncio.wait_for(job, 10) == 1
        assert flushed.is_set()
    finally:
        release.set()
        await writer.close()


async def test_a_failed_flush_fails_the_group(tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "w.db")
    writer = GroupCommitWriter(path, synchronous="FULL")
    await writer.start(_setup)

    def broken_fdatasync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", broken_fdatasync)
    try:
        with pytest.raises(StoreUnavailable, match="could not be made durable"):
            await writer.submit(_insert(1))
    finally:
        monkeypatch.undo()
        await writer.close()


async def test_a_setup_that_fails_stops_the_writer(tmp_path) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("no such thing")

    writer = GroupCommitWriter(str(tmp_path / "w.db"))
    with pytest.raises(sqlite3.OperationalError):
        await writer.start(broken)
    assert not any(t.name == "trackledger-writer" for t in threading.enumerate())


async def _as_one_group(path: str, jobs: list) -> list:
    """Submit ``jobs`` while a new writer is busy, so that they form its next group."""
    writer = GroupCommitWriter(path)
    await writer.start(_setup)
    try:
        started, gate = threading.Event(), threading.Event()
        blocker = asyncio.ensure_future(
            writer.run_exclusive(lambda conn: (started.set(), gate.wait(10)))
        )
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        answers = [asyncio.ensure_future(writer.submit(job)) for job in jobs]
        await asyncio.sleep(0.05)
        gate.set()
        await blocker
        return list(await asyncio.gather(*answers, return_exceptions=True))
    finally:
        await writer.close()


class _Fusable:
    """A job that inserts ``n``; neighbours run through ``together`` (or alone if it fails)."""

    def __init__(self, n: int, together) -> None:
        self.n = n
        self.together = together

    def __call__(self, conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t (n) VALUES (?)", (self.n,))
        return f"alone {self.n}"


async def test_neighbours_with_one_together_run_through_it(tmp_path) -> None:
    seen: list[list[int]] = []

    def together(conn: sqlite3.Connection, jobs: list[_Fusable]):
        seen.append([job.n for job in jobs])
        conn.executemany("INSERT INTO t (n) VALUES (?)", [(job.n,) for job in jobs])
        return [(True, f"together {job.n}") for job in jobs]

    path = str(tmp_path / "w.db")
    answers = await _as_one_group(
        path,
        [
            *(_Fusable(n, together) for n in range(50)),
            _insert(1000),
            *(_Fusable(n, together) for n in range(50, 60)),
        ],
    )
    assert answers[:50] == [f"together {n}" for n in range(50)]
    assert answers[50] == 1000
    assert answers[51:] == [f"together {n}" for n in range(50, 60)]
    assert seen == [list(range(50)), list(range(50, 60))]
    assert _count(path) == 61


async def test_a_failing_together_runs_its_jobs_alone(tmp_path) -> None:
    def together(conn: sqlite3.Connection, jobs: list[_Fusable]):
        conn.execute("INSERT INTO t (n) VALUES (?)", (jobs[0].n,))  # undone by the failure
        raise sqlite3.OperationalError("something unexpected")

    path = str(tmp_path / "w.db")
    jobs = [*(_Fusable(n, together) for n in range(20)), _Fusable(5, together)]  # 5 twice
    answers = await _as_one_group(path, jobs)
    assert answers[:20] == [f"alone {n}" for n in range(20)]
    assert isinstance(answers[20], sqlite3.IntegrityError)
    assert _count(path) == 20
