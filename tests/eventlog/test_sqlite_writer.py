"""SQLite's writer thread: groups of jobs, each answered once its group is durable."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading

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
        release.wait(10)
        real_fdatasync(fd)
        flushed.set()

    monkeypatch.setattr(os, "fdatasync", held_fdatasync)
    try:
        job = asyncio.ensure_future(writer.submit(_insert(1)))
        await asyncio.sleep(0.3)
        # Committed (another connection sees it) but not yet flushed: not answered.
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
