"""Old event shapes are read as current events through upcasters (eventlog/upcast.py)."""

from __future__ import annotations

import base64
import io
from typing import Any

import msgspec
import orjson
import pytest

from tests.conftest import run_sql
from trackledger.eventlog import upcast
from trackledger.eventlog.commands import CreateRun
from trackledger.eventlog.events import AnyEvent, MetricPoint, MetricsLogged, decode_event
from trackledger.services.transfer import export_log

#: A payload as a (hypothetical) earlier release wrote it: one metric point per event,
#: under a tag no current event has.
LEGACY_TAG = "run.metric_logged"


def legacy_payload(run_id: str) -> bytes:
    old = {"type": LEGACY_TAG, "run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 7}
    return msgspec.msgpack.encode(old)


def one_point(raw: dict[str, Any]) -> AnyEvent:
    point = MetricPoint(raw["key"], raw["value"], raw["timestamp"], raw.get("step", 0))
    return MetricsLogged(run_id=raw["run_id"], metrics=[point])


@pytest.fixture
def legacy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The legacy tag's upcaster, registered for one test."""
    monkeypatch.setattr(upcast, "UPCASTERS", {})
    upcast.upcaster(LEGACY_TAG)(one_point)


def test_an_old_payload_decodes_as_the_current_event(legacy):
    assert decode_event(legacy_payload("r1")) == MetricsLogged(
        run_id="r1", metrics=[MetricPoint("loss", 0.5, 7, 0)]
    )


def test_a_tag_without_an_upcaster_is_still_refused():
    with pytest.raises(msgspec.ValidationError, match="metric_logged"):
        decode_event(legacy_payload("r1"))
    with pytest.raises(msgspec.DecodeError):
        decode_event(b"\xc1 not msgpack")


def test_upcasters_are_for_old_tags_only(legacy):
    with pytest.raises(ValueError, match="current"):
        upcast.upcaster("run.created")(one_point)
    with pytest.raises(ValueError, match="already"):
        upcast.upcaster(LEGACY_TAG)(one_point)


async def test_a_stored_old_event_is_read_replayed_and_exported_as_current(legacy, backend):
    run = await backend.store.execute(CreateRun(experiment_id="0", start_time=1))
    run_id = run.event.run_id  # type: ignore[union-attr]
    # As a log written by the earlier release holds it (written behind the store's back).
    await run_sql(
        backend,
        "INSERT INTO events (stream_id, type, recorded_at, payload) VALUES (?, ?, 5, ?)",
        f"run/{run_id}",
        LEGACY_TAG,
        legacy_payload(run_id),
    )
    history = await backend.store.read_stream(f"run/{run_id}")
    assert [s.type for s in history] == ["run.created", LEGACY_TAG]
    assert history[-1].event == one_point(msgspec.msgpack.decode(legacy_payload(run_id)))
    feed = [s.event for s in await backend.store.read_all(limit=1000)]
    assert isinstance(feed[-1], MetricsLogged)
    # A rebuild projects it like any metrics event.
    await backend.rebuild()
    view = await backend.reads.get_run(run_id)
    assert view is not None
    assert [(m.key, m.value, m.timestamp) for m in view.metrics] == [("loss", 0.5, 7)]
    # An export writes it in the current shape, under the current tag.
    out = io.BytesIO()
    await export_log(backend, out)
    last = orjson.loads(out.getvalue().splitlines()[-1])
    assert last["type"] == "run.metrics_logged"
    assert decode_event(base64.b64decode(last["payload"])) == history[-1].event
