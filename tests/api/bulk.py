"""Many runs at once, for tests where the volume matters and the API path is tested
elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import msgspec

from trackledger.eventlog.commands import CreateRun
from trackledger.eventlog.events import Tag
from trackledger.eventlog.store import StoredEvent
from trackledger.services.backends import Backend


async def create_runs_in_bulk(
    backend: Backend, clock: Callable[[], int], exp_id: str, count: int
) -> list[str]:
    """Runs r0 .. r<count-1>, started at 10_000 + i, appended to the log in a few large
    transactions (append_imported) instead of one transaction each: r0 is created the
    ordinary way, and every other run is its creation event with an id, name and start
    time of its own, projected like any event. Returns their ids."""
    first = await backend.store.execute(
        CreateRun(experiment_id=exp_id, run_name="r0", start_time=10_000)
    )
    template = first.event
    events = []
    for i in range(1, count):
        run_id = uuid.uuid4().hex
        event = msgspec.structs.replace(
            template,
            run_id=run_id,
            run_name=f"r{i}",
            start_time=10_000 + i,
            artifact_uri=template.artifact_uri.replace(template.run_id, run_id),
            tags=[Tag(t.key, f"r{i}") if t.key == "mlflow.runName" else t for t in template.tags],
        )
        events.append(
            StoredEvent(
                position=0,
                stream_id=event.stream,
                type="run.created",
                recorded_at=clock(),
                actor=None,
                idempotency_key=None,
                event=event,
            )
        )
    for start in range(0, len(events), 5_000):
        await backend.store.append_imported(events[start : start + 5_000])
    return [template.run_id, *(e.event.run_id for e in events)]
