"""How a rebuild hands events to a projector: runs of consecutive log-batch events together.

A replay applied event by event writes a series' latest-metrics and block rows once per
event: on PostgreSQL each write leaves a dead row version in the rebuild's transaction, and
thousands of them on one row made a rebuild crawl. The events the live writer already
applies together (metrics, params, batches: merges that do not depend on order) are
applied in groups, each series once per group; every other event alone, in log order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from trackledger.eventlog.events import AnyEvent, BatchLogged, MetricsLogged, ParamsLogged

__all__ = ["GROUP", "replay_groups"]

#: Events applied together at most (a log-batch event holds up to 1,000 points).
GROUP = 500

_TOGETHER = (MetricsLogged, BatchLogged, ParamsLogged)


def replay_groups(
    positioned: Iterable[tuple[AnyEvent, int]], most: int = GROUP
) -> Iterator[list[tuple[AnyEvent, int]]]:
    """``positioned`` in order, cut into groups: consecutive log-batch events up to
    ``most`` together, any other event alone."""
    group: list[tuple[AnyEvent, int]] = []
    for item in positioned:
        if isinstance(item[0], _TOGETHER):
            group.append(item)
            if len(group) == most:
                yield group
                group = []
            continue
        if group:
            yield group
            group = []
        yield [item]
    if group:
        yield group
