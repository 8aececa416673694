"""The EventStore contract (eventlog/store.py), with the same assertions on SQLite and on
PostgreSQL, through the interface alone.

Counts are relative to a baseline taken inside each test, and read from the test's own
events table (``stored_positions``): never a global count, and never through ``read_all``,
which on PostgreSQL stops below any transaction that may still append to the store.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import count_events, stored_positions
from trackledger.eventlog import commands as c
from trackledger.eventlog.errors import (
    IdempotencyKeyReused,
    InactiveRun,
    InvalidInput,
    NotFound,
    ParamChanged,
    TrackingError,
)
from trackledger.eventlog.events import (
    BatchLogged,
    ExperimentCreated,
    RunCreated,
    Tag,
    experiment_stream,
    run_stream,
)
from trackledger.eventlog.results import CreatedRun, ExperimentId
from trackledger.eventlog.store import Idempotency, StoredEvent


async def new_experiment(store, name: str = "exp") -> str:
    result = await store.execute(c.CreateExperiment(name=name))
    assert isinstance(result, ExperimentId)
    return result.experiment_id


async def new_run(store, experiment_id: str, **fields) -> str:
    result = await store.execute(c.CreateRun(experiment_id=experiment_id, **fields))
    assert isinstance(result, CreatedRun)
    return result.event.run_id


def batch(run_id: str, step: int = 0, **kinds) -> c.LogBatch:
    """A log-batch of ``kinds`` (metrics, params, tags); one point of "m" by default."""
    point = c.MetricIn(key="m", value=float(step), timestamp=1_000 + step, step=step)
    return c.LogBatch(run_id=run_id, **{"metrics": [point], **kinds})


async def test_execute_appends_exactly_the_decided_events(backend) -> None:
    store = backend.store
    start = await count_events(backend)

    result = await store.execute(
        c.CreateExperiment(name="contract", tags=[c.TagIn(key="team", value="a")])
    )
    assert isinstance(result, ExperimentId)
    [created] = await store.read_stream(experiment_stream(result.experiment_id))
    assert created.type == "experiment.created"
    assert isinstance(created.event, ExperimentCreated)
    assert (created.event.name, created.event.tags) == ("contract", [Tag("team", "a")])
    assert await count_events(backend) == start + 1

    # The answer of a create carries its event: the log holds exactly that event.
    run = await store.execute(c.CreateRun(experiment_id=result.experiment_id, run_name="r"))
    assert isinstance(run, CreatedRun)
    [stored] = await store.read_stream(run_stream(run.event.run_id))
    assert stored.event == run.event
    assert await count_events(backend) == start + 2

    # A log-batch call is one event, however many points it carries.
    points = [c.MetricIn(key="m", value=float(i), timestamp=i, step=i) for i in range(50)]
    await store.execute(
        batch(run.event.run_id, metrics=points, params=[c.ParamIn(key="lr", value="0.1")])
    )
    logged = (await store.read_stream(run_stream(run.event.run_id)))[1:]
    assert [e.type for e in logged] == ["run.batch_logged"]
    assert isinstance(logged[0].event, BatchLogged)
    assert len(logged[0].event.metrics) == 50
    assert await count_events(backend) == start + 3

    # One event per affected stream: deleting a parent with its child is two events.
    parent_tag = [c.TagIn(key="mlflow.parentRunId", value=run.event.run_id)]
    child = await new_run(backend.store, result.experiment_id, tags=parent_tag)
    before = await count_events(backend)
    await store.execute(c.DeleteRun(run_id=run.event.run_id, include_descendants=True))
    assert await count_events(backend) == before + 2
    for run_id in (run.event.run_id, child):
        assert (await store.read_stream(run_stream(run_id)))[-1].type == "run.deleted"


REJECTED = {
    "unknown experiment": (lambda ids: c.CreateRun(experiment_id="424242"), NotFound),
    "unknown run": (lambda ids: c.UpdateRun(run_id="f" * 32, status="FINISHED"), NotFound),
    "changed param": (
        lambda ids: c.LogBatch(run_id=ids["run"], params=[c.ParamIn(key="lr", value="0.2")]),
        ParamChanged,
    ),
    "deleted run": (lambda ids: batch(ids["deleted"]), InactiveRun),
    "invalid metric": (
        lambda ids: c.LogBatch(run_id=ids["run"], metrics=[c.MetricIn(key="m", value=1.0)]),
        InvalidInput,
    ),
    "invalid status": (lambda ids: c.UpdateRun(run_id=ids["run"], status="SLEEPY"), InvalidInput),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
async def test_a_rejected_command_appends_nothing(backend, case) -> None:
    store = backend.store
    exp_id = await new_experiment(store)
    ids = {"run": await new_run(store, exp_id), "deleted": await new_run(store, exp_id)}
    await store.execute(c.LogBatch(run_id=ids["run"], params=[c.ParamIn(key="lr", value="0.1")]))
    await store.execute(c.DeleteRun(run_id=ids["deleted"]))
    make, error = REJECTED[case]
    streams = {k: await store.read_stream(run_stream(v)) for k, v in ids.items()}
    before = await stored_positions(backend)
    with pytest.raises(error):
        await store.execute(make(ids))
    # With a key too, on the path that stores answers; the key is not used up.
    key = Idempotency(f"rejected-{case}", b"hash")
    with pytest.raises(error):
        await store.execute(make(ids), idempotency=key)
    assert await stored_positions(backend) == before
    assert {k: await store.read_stream(run_stream(v)) for k, v in ids.items()} == streams


async def test_a_rejected_batch_among_concurrent_ones_appends_nothing(backend) -> None:
    store = backend.store
    exp_id = await new_experiment(store)
    runs = [await new_run(store, exp_id) for _ in range(4)]
    await store.execute(c.LogBatch(run_id=runs[0], params=[c.ParamIn(key="lr", value="0.1")]))
    before = await count_events(backend)
    # Log-batches without a key may be written together (group commit): one bad command
    # in the group must not take the others with it, nor add anything itself.
    outcomes = await asyncio.gather(
        store.execute(c.LogBatch(run_id=runs[0], params=[c.ParamIn(key="lr", value="0.2")])),
        *(store.execute(batch(run_id)) for run_id in runs[1:]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], ParamChanged)
    assert not any(isinstance(o, BaseException) for o in outcomes[1:]), outcomes
    assert await count_events(backend) == before + 3
    assert [e.type for e in await store.read_stream(run_stream(runs[0]))] == [
        "run.created",
        "run.params_logged",
    ]


async def test_a_repeated_key_appends_once_and_returns_the_first_answer(backend) -> None:
    store = backend.store
    exp_id = await new_experiment(store)
    key = Idempotency("create-once", b"same request")
    before = await count_events(backend)
    first = await store.execute(c.CreateRun(experiment_id=exp_id, run_name="a"), idempotency=key)
    # The stored answer is returned even for a command that would now decide differently.
    again = await store.execute(c.CreateRun(experiment_id=exp_id, run_name="a"), idempotency=key)
    assert again == first
    assert await count_events(backend) == before + 1
    assert isinstance(first, CreatedRun)
    [stored] = await store.read_stream(run_stream(first.event.run_id))
    assert stored.idempotency_key == "create-once"

    # Concurrent requests with one key: one append, one answer.
    run_id = first.event.run_id
    concurrent = Idempotency("batch-once", b"batch")
    before = await count_events(backend)
    answers = await asyncio.gather(
        *(store.execute(batch(run_id), idempotency=concurrent) for _ in range(8))
    )
    assert all(a == answers[0] for a in answers)
    assert await count_events(backend) == before + 1


async def test_a_key_reused_for_another_request_is_refused_and_appends_nothing(backend) -> None:
    store = backend.store
    exp_id = await new_experiment(store)
    run_id = await new_run(store, exp_id)
    await store.execute(batch(run_id), idempotency=Idempotency("k", b"first request"))
    before = await stored_positions(backend)
    with pytest.raises(IdempotencyKeyReused):
        await store.execute(batch(run_id, step=1), idempotency=Idempotency("k", b"other request"))
    assert await stored_positions(backend) == before


async def test_read_stream_gives_a_streams_events_in_order_and_pages(backend) -> None:
    store = backend.store
    exp_id = await new_experiment(store)
    run_id, other = await new_run(store, exp_id), await new_run(store, exp_id)
    for step in range(7):  # interleaved with another stream's events
        await store.execute(batch(run_id, step))
        await store.execute(batch(other, step))
    whole = await store.read_stream(run_stream(run_id))
    assert [e.type for e in whole] == ["run.created"] + ["run.metrics_logged"] * 7
    assert all(e.stream_id == run_stream(run_id) for e in whole)
    positions = [e.position for e in whole]
    assert positions == sorted(set(positions))
    assert [e.event.metrics[0].step for e in whole[1:]] == list(range(7))  # type: ignore[union-attr]

    pages, after = [], 0
    while page := await store.read_stream(run_stream(run_id), after=after, limit=3):
        assert len(page) <= 3
        pages.append(page)
        after = page[-1].position
    assert [len(p) for p in pages] == [3, 3, 2]
    assert [e for p in pages for e in p] == whole
    assert await store.read_stream(run_stream(run_id), after=positions[3], limit=2) == whole[4:6]
    assert await store.read_stream("run/" + "0" * 32) == []


async def _read_all_catches_up(store, backend) -> list[StoredEvent]:
    """read_all from the start once it shows every event of the table. On PostgreSQL it stops
    below any transaction that may still append to the store (none should be open once the
    writes are answered: this only bounds the wait if one is), and its order is the commit
    order, (transaction, position), not always the positions' order."""
    expected = await stored_positions(backend)
    deadline = time.monotonic() + 60
    while True:
        everything = await store.read_all(limit=10**6)
        if sorted(e.position for e in everything) == expected:
            return everything
        assert time.monotonic() < deadline, "read_all never caught up with the table"
        await asyncio.sleep(0.1)


async def test_read_all_pages_by_cursor_without_gaps_or_duplicates(backend) -> None:
    store = backend.store
    exp_id = await new_experiment(store)
    runs = [await new_run(store, exp_id) for _ in range(3)]
    await asyncio.gather(*(store.execute(batch(r, s)) for s in range(4) for r in runs))
    everything = await _read_all_catches_up(store, backend)
    for limit in (1, 4, 1000):
        seen: list[StoredEvent] = []
        cursor = None
        while page := await store.read_all(after=cursor, limit=limit):
            assert len(page) <= limit
            seen.extend(page)
            cursor = page[-1].cursor
        assert seen == everything, limit  # every event once, in one order, page after page
    assert await store.read_all(after=everything[-1].cursor) == []
    # A cursor resumes right after its event.
    middle = everything[len(everything) // 2]
    assert (
        await store.read_all(after=middle.cursor, limit=2)
        == everything[len(everything) // 2 + 1 : len(everything) // 2 + 3]
    )


async def test_actor_time_and_key_are_stored(backend, clock) -> None:
    store = backend.store
    clock.advance(86_400_000)
    at = clock.now
    exp_id = await new_experiment(store)
    run_id = await new_run(store, exp_id)
    await store.execute(batch(run_id), actor="alice", idempotency=Idempotency("key-1", b"h"))
    await store.execute(batch(run_id, 1), actor="bob")
    events = await store.read_stream(run_stream(run_id))
    assert [(e.actor, e.idempotency_key) for e in events] == [
        (None, None),
        ("alice", "key-1"),
        ("bob", None),
    ]
    # The injected clock's time of each command (it ticks by one per reading).
    times = [e.recorded_at for e in events]
    assert times == sorted(times) and at <= times[0] and times[-1] < at + 1000


async def test_append_imported_keeps_times_and_actors(backend) -> None:
    store = backend.store
    before = await stored_positions(backend)
    exp = ExperimentCreated(
        experiment_id="77", name="imported", artifact_location="/a/77", creation_time=5
    )
    run = RunCreated(
        run_id="a" * 32,
        experiment_id="77",
        run_name="old",
        start_time=6,
        artifact_uri="/a/77/run",
    )
    given = [
        StoredEvent(
            position=10_000,  # a position in the source log: the target numbers anew
            stream_id=exp.stream,
            type="experiment.created",
            recorded_at=1_000,
            actor="bob",
            idempotency_key=None,
            event=exp,
        ),
        StoredEvent(
            position=10_001,
            stream_id=run.stream,
            type="run.created",
            recorded_at=2_000,
            actor=None,
            idempotency_key="their-key",
            event=run,
        ),
    ]
    assert await store.append_imported(given) == 2
    after = await stored_positions(backend)
    assert after[: len(before)] == before and len(after) == len(before) + 2
    assert min(after[len(before) :]) > max(before)
    for original in given:
        [stored] = await store.read_stream(original.stream_id)
        assert (stored.type, stored.recorded_at, stored.actor, stored.idempotency_key) == (
            original.type,
            original.recorded_at,
            original.actor,
            original.idempotency_key,
        )
        assert stored.event == original.event
    # Projected like any event: the imported run takes commands, its experiment is live.
    await store.execute(batch(run.run_id))
    assert int(await new_experiment(store, "after")) > 77
    with pytest.raises(TrackingError):
        await store.execute(c.CreateExperiment(name="imported"))
