"""A full disk: writes answer 503 with Retry-After, reads and verify keep working, and once
space returns writes succeed again without a restart and the WAL shrinks (the background
checkpointer used to die on the first error, so the WAL only grew)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import API, new_run
from trackledger.api.app import create_app
from trackledger.eventlog import sqlite_writer
from trackledger.services.backends import Backend, open_backend

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}"
        if os.environ.get("CI") == "true" and os.geteuid() == 0:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
async def full_client(
    small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Backend, httpx.AsyncClient]]:
    monkeypatch.setattr(sqlite_writer, "WAL_KEEP_BYTES", 256 * 1024)
    backend = await open_backend(f"sqlite:///{small_disk / 'store.db'}")

    async def given() -> Backend:
        return backend

    app = create_app(given)
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield backend, client
    finally:
        await backend.close()


def _fill(disk: Path) -> Path:
    """Fill the disk. Unbuffered: a buffered file keeps the bytes the last write could not
    place, and closing it raised ENOSPC again, or not, by how the free space fell against
    the 64 KiB writes (which moved whenever the store's schema grew)."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 2**16)
        except OSError:
            pass
    return filler


def _batch(run_id: str, step: int) -> dict:
    points = [
        {"key": f"m{i % 5}", "value": i, "timestamp": step, "step": step * 100 + i}
        for i in range(100)
    ]
    return {"run_id": run_id, "metrics": points}


async def test_writes_recover_after_the_disk_was_full(full_client, small_disk):
    backend, client = full_client
    run_id = await new_run(client, "0")
    filler = _fill(small_disk)
    statuses = []
    for step in range(300):
        response = await client.post(f"{API}/runs/log-batch", json=_batch(run_id, step))
        statuses.append(response.status_code)
        if response.status_code != 200:
            break
    assert statuses[-1] == 503, statuses[-5:]
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert response.headers["retry-after"] == "1"
    assert (await client.get(f"{API}/runs/get", params={"run_id": run_id})).status_code == 200
    assert await backend.verify() == {}  # its replay lives in the temporary directory

    filler.unlink()
    wal = small_disk / "store.db-wal"
    for step in range(1_000, 1_300):  # more than the WAL could hold without checkpoints
        response = await client.post(f"{API}/runs/log-batch", json=_batch(run_id, step))
        assert response.status_code == 200, (step, response.text, _sizes(small_disk))
    for _ in range(200):  # the WAL is cut back once a checkpoint lets it start over
        if wal.stat().st_size <= 1024 * 1024:
            break
        await client.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "v"})
        await asyncio.sleep(0.05)
    assert wal.stat().st_size <= 1024 * 1024
    assert await backend.verify() == {}


def _sizes(disk: Path) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in disk.iterdir()}


@pytest.fixture
def held_checkpointer(monkeypatch: pytest.MonkeyPatch) -> None:
    """The background checkpointer of a store opened from now on waits an hour between
    checkpoints (the fixture goes before ``full_client``, which opens the store)."""
    monkeypatch.setattr(sqlite_writer, "CHECKPOINT_INTERVAL", 3600.0)


async def test_the_wal_stays_bounded_when_the_checkpointer_cannot_keep_up(
    held_checkpointer, full_client, small_disk
):
    """With the background checkpointer held off (as it is, in effect, when requests follow
    one another without a pause and each of its checkpoints misses the last frames), the
    writer checkpoints between groups once the WAL passes its bound: 300 batches in a row,
    more than the 16 MB disk holds as WAL, all succeed."""
    backend, client = full_client
    run_id = await new_run(client, "0")
    wal = small_disk / "store.db-wal"
    largest = 0
    for step in range(300):
        response = await client.post(f"{API}/runs/log-batch", json=_batch(run_id, step))
        assert response.status_code == 200, (step, response.text, _sizes(small_disk))
        largest = max(largest, wal.stat().st_size)
    assert largest <= 4 * 1024 * 1024, largest
    assert await backend.verify() == {}
