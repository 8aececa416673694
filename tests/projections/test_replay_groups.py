"""A rebuild applies consecutive events together (projections/replay_groups.py), in log
order; a projector applies a group in segments, a purge alone between the events before
and after it."""

from __future__ import annotations

from trackledger.eventlog.events import (
    AnyEvent,
    ExperimentPurged,
    Param,
    ParamsLogged,
    RunDeleted,
    RunPurged,
)
from trackledger.eventlog.trace_events import TracePurged
from trackledger.projections.replay_groups import replay_groups, segments


def _positions(groups: list[list[tuple[AnyEvent, int]]]) -> list[list[int]]:
    return [[position for _, position in group] for group in groups]


def test_consecutive_events_of_any_kind_go_together_up_to_the_bound() -> None:
    events: list[AnyEvent] = [
        ParamsLogged(run_id="a", params=[Param("lr", "0.1")]),
        RunDeleted(run_id="a", time=1),
        ParamsLogged(run_id="b", params=[Param("lr", "0.2")]),
        RunDeleted(run_id="b", time=2),
        ParamsLogged(run_id="c", params=[Param("lr", "0.3")]),
    ]
    groups = list(replay_groups(zip(events, range(1, 6), strict=True), most=2))
    assert _positions(groups) == [[1, 2], [3, 4], [5]]


def test_a_purge_is_applied_alone_in_log_order() -> None:
    events: list[AnyEvent] = [
        ParamsLogged(run_id="a", params=[Param("lr", "0.1")]),
        RunPurged(run_id="x", time=1, events_removed=3),
        ParamsLogged(run_id="b", params=[Param("lr", "0.2")]),
        RunDeleted(run_id="b", time=2),
        ExperimentPurged(experiment_id="7", time=3, events_removed=1),
        TracePurged(trace_id="tr-1", time=4, events_removed=2),
        RunDeleted(run_id="c", time=5),
    ]
    parts = list(segments(list(zip(events, range(1, 8), strict=True))))
    assert _positions(parts) == [[1], [2], [3, 4], [5], [6], [7]]
    # A group without a purge is one segment.
    assert _positions(list(segments([(events[0], 1), (events[2], 3)]))) == [[1, 3]]
