"""Many log-batch commands at once (PostgreSQL decides and writes them in groups; SQLite
commits them in groups on its writer): each gets its own answer, and the tables equal a
replay of the log."""

from __future__ import annotations

import asyncio

from trackledger.eventlog import commands as c
from trackledger.eventlog.errors import InactiveRun, NotFound, ParamChanged
from trackledger.eventlog.results import CreatedRun, ExperimentId, Nothing


async def _run(backend, experiment_id: str) -> str:
    made = await backend.store.execute(c.CreateRun(experiment_id=experiment_id, start_time=1))
    assert isinstance(made, CreatedRun)
    return made.event.run_id


def _batch(run_id: str, step: int, **extra) -> c.LogBatch:
    return c.LogBatch(
        run_id=run_id,
        metrics=[c.MetricIn("loss", step / 10, 1000 + step, step), c.MetricIn("acc", 0.5, 1, step)],
        **extra,
    )


async def test_concurrent_batches_each_get_their_own_answer(backend) -> None:
    made = await backend.store.execute(c.CreateExperiment(name="groups"))
    assert isinstance(made, ExperimentId)
    exp = made.experiment_id
    runs = [await _run(backend, exp) for _ in range(40)]
    deleted = runs[0]
    await backend.store.execute(c.DeleteRun(run_id=deleted))
    fixed = runs[1]
    await backend.store.execute(c.LogBatch(run_id=fixed, params=[c.ParamIn("lr", "0.1")]))

    commands: list[c.LogBatch] = []
    for step in range(5):
        for run_id in runs:
            commands.append(_batch(run_id, step, params=[c.ParamIn(f"p{step}", "x")]))
    commands.append(c.LogBatch(run_id=fixed, params=[c.ParamIn("lr", "0.2")]))
    commands.append(c.LogBatch(run_id="f" * 32, metrics=[c.MetricIn("loss", 1.0, 1, 0)]))
    answers = await asyncio.gather(
        *(backend.store.execute(cmd) for cmd in commands), return_exceptions=True
    )

    for cmd, answer in zip(commands, answers, strict=True):
        if cmd.run_id == deleted:
            assert isinstance(answer, InactiveRun)
        elif cmd.run_id == fixed and cmd.params and cmd.params[0].key == "lr":
            assert isinstance(answer, ParamChanged)
        elif cmd.run_id == "f" * 32:
            assert isinstance(answer, NotFound)
        else:
            assert isinstance(answer, Nothing), answer
    for run_id in runs[1:]:
        view = await backend.reads.get_run(run_id)
        assert view is not None
        assert {p.key for p in view.params} >= {f"p{s}" for s in range(5)}
        history = await backend.reads.metric_history(run_id, "loss", offset=0, limit=None)
        assert [m.step for m in history.items] == list(range(5))  # type: ignore[attr-defined]
        latest = {m.key: m for m in view.metrics}
        assert latest["loss"].step == 4 and latest["loss"].value == 0.4
    assert await backend.reads.get_run(deleted) is not None
    assert await backend.verify() == {}


async def test_one_param_logged_twice_at_once_keeps_the_first(backend) -> None:
    run_id = await _run(backend, "0")
    commands = [c.LogBatch(run_id=run_id, params=[c.ParamIn("lr", str(v))]) for v in range(10)]
    answers = await asyncio.gather(
        *(backend.store.execute(cmd) for cmd in commands), return_exceptions=True
    )
    accepted = [cmd for cmd, a in zip(commands, answers, strict=True) if isinstance(a, Nothing)]
    assert len(accepted) == 1
    assert all(isinstance(a, (Nothing, ParamChanged)) for a in answers)
    view = await backend.reads.get_run(run_id)
    assert view is not None and [p.value for p in view.params] == [accepted[0].params[0].value]
    assert await backend.verify() == {}


async def test_duplicate_points_in_one_batch_count_once(backend) -> None:
    run_id = await _run(backend, "0")
    point = c.MetricIn("loss", 0.5, 7, 3)
    await asyncio.gather(
        *(backend.store.execute(c.LogBatch(run_id=run_id, metrics=[point])) for _ in range(8))
    )
    history = await backend.reads.metric_history(run_id, "loss", offset=0, limit=None)
    assert len(history.items) == 1
    assert await backend.verify() == {}


async def test_a_point_already_held_keeps_its_group_neighbours(backend) -> None:
    # Points are first written as new; a group holding a point the table already has (or
    # the same point twice) is written again dropping the duplicates. Neither the group's
    # other points nor the counts may suffer.
    runs = [await _run(backend, "0") for _ in range(10)]
    held = c.MetricIn("loss", 0.5, 7, 3)
    await backend.store.execute(c.LogBatch(run_id=runs[0], metrics=[held]))
    commands = [
        c.LogBatch(run_id=runs[0], metrics=[held, c.MetricIn("loss", 0.25, 8, 4)]),
        c.LogBatch(run_id=runs[1], metrics=[held, held]),
        *(_batch(run_id, 1) for run_id in runs[2:]),
    ]
    answers = await asyncio.gather(*(backend.store.execute(cmd) for cmd in commands))
    assert all(isinstance(answer, Nothing) for answer in answers)
    first = await backend.reads.metric_history(runs[0], "loss", offset=0, limit=None)
    assert [m.step for m in first.items] == [3, 4]  # type: ignore[attr-defined]
    second = await backend.reads.metric_history(runs[1], "loss", offset=0, limit=None)
    assert [m.step for m in second.items] == [3]  # type: ignore[attr-defined]
    for run_id in runs[2:]:
        view = await backend.reads.get_run(run_id)
        assert view is not None and {m.key for m in view.metrics} == {"loss", "acc"}
    assert await backend.verify() == {}


async def test_a_request_that_goes_away_leaves_its_group_answered(backend) -> None:
    runs = [await _run(backend, "0") for _ in range(6)]
    tasks = [asyncio.ensure_future(backend.store.execute(_batch(r, 0))) for r in runs]
    await asyncio.sleep(0)  # queued, not yet written
    tasks[0].cancel()
    done = await asyncio.wait_for(asyncio.gather(*tasks[1:]), timeout=10)
    assert all(isinstance(answer, Nothing) for answer in done)
    # The next writes still go through.
    assert isinstance(await backend.store.execute(_batch(runs[0], 1)), Nothing)


async def test_a_group_larger_than_one_statement_stores_every_point(backend) -> None:
    # 40 batches of 1,000 points at once: 40,000 history rows, more than one statement's
    # parameters (32,766) and of sizes that are not powers of two.
    runs = [await _run(backend, "0") for _ in range(40)]
    commands = [
        c.LogBatch(
            run_id=run_id,
            metrics=[
                c.MetricIn(f"m{k}", k + s / 1000, 1, s) for k in range(10) for s in range(100)
            ],
        )
        for run_id in runs
    ]
    answers = await asyncio.gather(*(backend.store.execute(cmd) for cmd in commands))
    assert all(isinstance(answer, Nothing) for answer in answers)
    for run_id in (runs[0], runs[-1]):
        history = await backend.reads.metric_history(run_id, "m9", offset=0, limit=None)
        assert [m.step for m in history.items] == list(range(100))  # type: ignore[attr-defined]
        view = await backend.reads.get_run(run_id)
        assert view is not None and len(view.metrics) == 10
    assert await backend.verify() == {}
