"""Every event type, on both backends: as-of answers come from the live projection code,
and an export imported into an empty store answers every read exactly as the source."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.helpers import get
from tests.conftest import _admin
from tests.projections.every_answer import read_answers
from tests.projections.every_event import TL, every_event_workload, missing_types
from trackledger.api.app import create_app
from trackledger.services.backends import Backend, open_backend
from trackledger.services.transfer import export_log, import_log

#: An as-of time after everything the tests' clock hands out (2100-01-01).
LATER = 4_102_444_800_000


@pytest.fixture
def empty_store_uri(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Another, empty store on the same kind of backend as ``backend``."""
    if backend.kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
        return
    database: str = request.getfixturevalue("postgres_database")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    asyncio.run(_admin(database, f"CREATE SCHEMA {schema}"))
    try:
        yield f"{database}?search_path={schema}"
    finally:
        asyncio.run(_admin(database, f"DROP SCHEMA {schema} CASCADE"))


async def test_the_workload_writes_every_event_type(client, backend, clock):
    await every_event_workload(client, clock, backend)
    assert await missing_types(backend) == set(), "extend tests/projections/every_event.py"


async def test_as_of_now_answers_as_runs_get_for_every_run(client, backend, clock):
    made = await every_event_workload(client, clock, backend)
    last = max(s.position for s in await backend.store.read_all(limit=10**6))
    for run_id in made.runs:
        live = await get(client, "runs/get", run_id=run_id)
        for as_of in (last, LATER):
            then = await client.get(f"{TL}/runs/get", params={"run_id": run_id, "as_of": as_of})
            assert then.status_code == live.status_code, (run_id, as_of)
            if live.status_code == 200:
                assert then.json() == live.json(), (run_id, as_of)
    # Check the workload reaches what as-of must show: outputs, inputs, purged runs.
    answers = [(await get(client, "runs/get", run_id=r)) for r in made.runs]
    assert any(a.status_code == 200 and a.json()["run"]["outputs"] for a in answers)
    assert any(a.status_code == 200 and a.json()["run"]["inputs"] for a in answers)
    assert any(a.status_code == 404 for a in answers)


async def test_an_import_answers_every_read_as_its_source(client, backend, clock, empty_store_uri):
    made = await every_event_workload(client, clock, backend)
    expected = await read_answers(client, made)
    exported = io.BytesIO()
    await export_log(backend, exported)
    target = await open_backend(empty_store_uri, clock=clock)
    try:
        exported.seek(0)
        await import_log(target, exported)
        app = create_app(None)  # type: ignore[arg-type]
        app.state.backend = target
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as other:
            answers = await read_answers(other, made)
        assert answers.keys() == expected.keys()
        for name, answer in expected.items():
            assert answers[name] == answer, name
        assert await target.verify() == {}
    finally:
        await target.close()
