"""Export a log and import it elsewhere: SQLite to PostgreSQL and back keeps every answer."""

from __future__ import annotations

import io

import httpx
import orjson
import pytest

from tests.projections.workload import random_workload
from trackledger.api.app import create_app
from trackledger.services.backends import Backend, open_backend
from trackledger.services.transfer import export_log, import_log

API = "/api/2.0/mlflow"


async def answers(backend: Backend) -> dict:
    """Every search answer and every run's history, as the API gives them."""
    app = create_app(None)  # type: ignore[arg-type]
    app.state.backend = backend
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        exps = (
            await http.post(
                f"{API}/experiments/search",
                # By id: each server made its own Default experiment, at its own time.
                json={"max_results": 1000, "view_type": "ALL", "order_by": ["experiment_id"]},
            )
        ).json()
        ids = [e["experiment_id"] for e in exps["experiments"]]
        for e in exps["experiments"]:
            if e["experiment_id"] == "0":  # each server made its own Default experiment
                e.pop("creation_time"), e.pop("last_update_time")
        runs = (
            await http.post(
                f"{API}/runs/search",
                json={
                    "experiment_ids": ids,
                    "run_view_type": "ALL",
                    "max_results": 50000,
                    "order_by": ["metrics.a DESC", "params.p"],
                },
            )
        ).json()
        histories = {}
        for run in runs.get("runs", []):
            run_id = run["info"]["run_id"]
            events = (
                await http.get(
                    "/api/2.0/trackledger/runs/history",
                    params={"run_id": run_id, "max_results": 1000, "expand": "true"},
                )
            ).json()
            histories[run_id] = [(e["type"], e["time"], e["data"]) for e in events["events"]]
            for key in ("a", "b", "c"):
                history = await http.get(
                    f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": key}
                )
                histories[f"{run_id}/{key}"] = history.json()
    return {"experiments": exps, "runs": runs, "histories": histories}


async def test_sqlite_to_postgres_and_back(tmp_path, postgres_uri):
    source = await open_backend(f"sqlite:///{tmp_path / 'source.db'}")
    app = create_app(None)  # type: ignore[arg-type]
    app.state.backend = source
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        await random_workload(c, seed=11, steps=250)
    expected = await answers(source)
    assert expected["runs"].get("runs"), "the workload made no runs"
    exported = io.BytesIO()
    count = await export_log(source, exported)
    await source.close()

    target = await open_backend(postgres_uri)
    exported.seek(0)
    await import_log(target, exported)
    assert await answers(target) == expected
    assert await target.verify() == {}
    back = io.BytesIO()
    # The same count: the target keeps its own Default creation instead of the imported one.
    assert await export_log(target, back) == count
    await target.close()

    again = await open_backend(f"sqlite:///{tmp_path / 'again.db'}")
    back.seek(0)
    await import_log(again, back)
    assert await answers(again) == expected
    # New experiments do not collide with imported ids.
    from trackledger.eventlog.commands import CreateExperiment

    created = await again.store.execute(CreateExperiment(name="after-import"))
    assert int(created.experiment_id) > max(  # type: ignore[union-attr]
        int(e["experiment_id"]) for e in expected["experiments"]["experiments"]
    )
    await again.close()


async def test_export_one_experiment(backend):
    from trackledger.eventlog import commands as c
    from trackledger.eventlog import trace_commands as tc
    from trackledger.eventlog.trace_events import SpanRecord

    store = backend.store
    keep = (await store.execute(c.CreateExperiment(name="keep"))).experiment_id  # type: ignore[union-attr]
    drop = (await store.execute(c.CreateExperiment(name="drop"))).experiment_id  # type: ignore[union-attr]
    for exp in (keep, drop):
        run = (await store.execute(c.CreateRun(experiment_id=exp))).event.run_id  # type: ignore[union-attr]
        await store.execute(c.LogBatch(run_id=run, params=[c.ParamIn("p", exp)]))
        model = (await store.execute(c.CreateLoggedModel(experiment_id=exp, name="m"))).model_id  # type: ignore[union-attr]
        await store.execute(c.FinalizeLoggedModel(model_id=model, status="LOGGED_MODEL_READY"))
        await store.execute(c.SetLoggedModelTags(model_id=model, tags=[c.TagIn("t", exp)]))
        trace = f"tr-{int(exp):032x}"
        spans = [SpanRecord(span_id="00000000000000aa", name="root")]
        await store.execute(
            tc.LogSpans(experiment_id=exp, batches=[tc.SpanBatch(trace_id=trace, spans=spans)])
        )
        await store.execute(tc.SetTraceTag(trace_id=trace, key="k", value="v"))
    out = io.BytesIO()
    # The experiment; its run and the run's param; its model, finalized and tagged; its
    # trace's spans and the trace's tag.
    assert await export_log(backend, out, [keep]) == 8
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()[1:]]
    assert [line["type"] for line in lines] == [
        "experiment.created",
        "run.created",
        "run.params_logged",
        "model.created",
        "model.finalized",
        "model.tagged",
        "trace.spans_logged",
        "trace.tagged",
    ]


async def test_export_reads_one_snapshot(backend):
    """Appends made while an export runs are not in it, whichever page it is on."""
    from trackledger.eventlog import commands as c

    for i in range(5):
        await backend.store.execute(c.SetExperimentTag(experiment_id="0", key=f"k{i}", value="v"))
    before = [s.position for s in await backend.store.read_all(limit=1000)]
    pages = backend.store.read_snapshot(page=2)
    seen = [s.position for s in await anext(pages)]
    for i in range(5):  # appended between the first page and the next ones
        await backend.store.execute(c.SetExperimentTag(experiment_id="0", key=f"n{i}", value="v"))
    async for page in pages:
        seen.extend(s.position for s in page)
    assert seen == sorted(before)
    # A new snapshot sees them.
    everything = [s.position async for page in backend.store.read_snapshot() for s in page]
    assert len(everything) == len(before) + 5


@pytest.mark.parametrize(
    "content",
    [b"", b'{"format": "other"}\n', b'{"format": "trackledger-log", "version": 1}\nnot json\n'],
)
async def test_import_refuses_what_is_not_an_export(tmp_path, content):
    backend = await open_backend(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with pytest.raises(ValueError):
            await import_log(backend, io.BytesIO(content))
    finally:
        await backend.close()


async def test_an_import_keeps_the_last_writer_of_concurrent_transactions(tmp_path, postgres_uri):
    """On PostgreSQL a transaction can take its xid first and its position last: the export
    keeps position order, so the import picks the same last writer as the source."""
    import asyncpg

    from trackledger.eventlog.commands import SetExperimentTag
    from trackledger.eventlog.events import ExperimentTagSet, encode_event
    from trackledger.eventlog.postgres_tail import appending
    from trackledger.projections.postgres_apply import PostgresProjector

    source = await open_backend(postgres_uri)
    slow = await asyncpg.connect(postgres_uri)
    try:
        first = appending(slow)
        await first.__aenter__()
        await slow.execute("INSERT INTO meta (key, value) VALUES ('probe', '1')")  # its xid
        await source.store.execute(SetExperimentTag(experiment_id="0", key="x", value="early"))
        event = ExperimentTagSet(experiment_id="0", key="x", value="late")
        position = await slow.fetchval(
            "INSERT INTO events (stream_id, type, recorded_at, payload) "
            "VALUES ($1, 'experiment.tagged', 0, $2) RETURNING position",
            event.stream,
            encode_event(event),
        )
        await PostgresProjector().apply(slow, event, position)
        await first.__aexit__(None, None, None)
        live = await source.reads.get_experiment("0")
        assert live is not None and [(t.key, t.value) for t in live.tags] == [("x", "late")]
        exported = io.BytesIO()
        await export_log(source, exported)
    finally:
        await slow.close()
        await source.close()
    target = await open_backend(f"sqlite:///{tmp_path / 'target.db'}")
    try:
        exported.seek(0)
        await import_log(target, exported)
        imported = await target.reads.get_experiment("0")
        assert imported is not None and [(t.key, t.value) for t in imported.tags] == [("x", "late")]
    finally:
        await target.close()
