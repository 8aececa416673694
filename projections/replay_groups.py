"""How events are grouped for a projector's ``apply_many``: a rebuild's groups, and the
segments a group is applied in.

Projections merge in any order (guarded by log positions), so a group of events applies
with one statement per kind of change, as the live writer's group commit and an import's
batches do, instead of a few statements per event. On PostgreSQL each statement costs a
round trip whatever it writes (a replay event by event of 100,000 imported runs, about
five events each, took 334 s), and a row updated once per event leaves a row version each
in the rebuild's transaction (a training loop's small batches: 5,000 events of 10 points
took 39.5 s applied one by one, 0.6 grouped); each series is merged once per group.

A purge is the one change that deletes: the rows of a run, experiment or trace, by id. The
purged stream's own events are gone from the log, but a group runs its statements kind by
kind, and a purge's deletes could run before an insert that comes after them in the log.
``apply_many`` applies a group in ``segments``: a purge alone, between the events before
and after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from trackledger.eventlog.events import AnyEvent, ExperimentPurged, RunPurged
from trackledger.eventlog.trace_events import TracePurged

__all__ = ["GROUP", "replay_groups", "segments"]

#: Events applied together at most (a log-batch event holds up to 1,000 points).
GROUP = 500

_PURGES = (RunPurged, ExperimentPurged, TracePurged)

Positioned = tuple[AnyEvent, int]


def replay_groups(
    positioned: Iterable[Positioned], most: int = GROUP
) -> Iterator[list[Positioned]]:
    """``positioned`` in order, cut into groups of up to ``most`` consecutive events."""
    group: list[Positioned] = []
    for item in positioned:
        group.append(item)
        if len(group) == most:
            yield group
            group = []
    if group:
        yield group


def segments(positioned: list[Positioned]) -> Iterator[list[Positioned]]:
    """A group in the parts ``apply_many`` applies one after the other: the events up to
    a purge, the purge alone, the events after it (the whole group when it holds none)."""
    if not any(isinstance(event, _PURGES) for event, _ in positioned):
        yield positioned
        return
    part: list[Positioned] = []
    for item in positioned:
        if isinstance(item[0], _PURGES):
            if part:
                yield part
                part = []
            yield [item]
        else:
            part.append(item)
    if part:
        yield part
