"""Run search pages that resume where the page before ended, not at an offset.

A page at offset N of an order reads every run before it again (50,000 runs by a metric:
each page of a client paging through them reads them all). Where the order's first key is
a number each run of the page has (start or end time, a metric's latest value, minimum or
maximum), the token of the page before says that value at its last run (``Resume``) and
how many runs sort before its first run with it; the next page is then the search from
that value on (a bound of the first key: the plans read it as a range of the index they
walk), at the offset past them. Runs the bound leaves out sort either before that value
or after every run that has one (NaN, no value): once the runs from the value on are
read, the rest of the page is the first of those after them (``past_the_values``: none
after start times, which every run has) or, where the filter cannot name them (``MIN``,
``MAX``), read at its offset. In an order of a metric's latest value or end time alone, the
runs without it come last, newest first: a page that ends among them resumes at its last
run's start time.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence

import msgspec

from trackledger.projections.search.ast import And, Comparison, Expr, Field, Not
from trackledger.projections.search.pages import Resume
from trackledger.projections.search.request import RunSearch
from trackledger.projections.search.run_fields import ORDER_ATTRIBUTES
from trackledger.projections.search.runs import time_ordered
from trackledger.projections.views import RunView

__all__ = ["next_resume", "past_the_values", "resumed", "resuming_field", "search_digest"]

_START = Field(entity="attribute", key="start_time")


def resuming_field(search: RunSearch) -> Field | None:
    """The first order key when a page can resume at its value: start time (the default
    order too), end time, or a metric's latest value, minimum or maximum."""
    if time_ordered(search.keys) is not None:
        return _START
    first = search.keys[0].field
    if first.entity == "metric":
        return first
    if first.entity == "attribute" and ORDER_ATTRIBUTES.get(first.key) == "r.end_time":
        return first
    return None


def past_the_values(search: RunSearch, field: Field) -> list[RunSearch] | None:
    """The searches, in the order's sequence, of the runs that sort after every run with a
    value of ``field`` (each from its first run): none after start times, which every run
    has; after end times the runs without one; after a metric's latest values its NaN
    runs, then the runs without it. None where the filter cannot name them: a ``MIN`` or
    ``MAX`` is missing from a run without the metric and from one whose values are all NaN
    alike."""
    if field is _START:
        return []
    if field.entity == "metric" and field.aggregate != "latest":
        return None
    parts: list[Expr] = [_compare(field, "IS NULL", None)]
    if field.entity == "metric":
        # A NaN value fails every comparison but != (and a run without it every one).
        nan = And((Not(_compare(field, ">=", -math.inf)), _compare(field, "IS NOT NULL", None)))
        parts.insert(0, nan)
    return [msgspec.structs.replace(search, expr=search.also(part), offset=0) for part in parts]


def search_digest(
    experiment_ids: Sequence[int], filter_text: str | None, order_by: Sequence[str], view: str
) -> str:
    """What a token's resume point is checked against: the search it was made for."""
    text = json.dumps([sorted(experiment_ids), filter_text or "", list(order_by), view])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def resumed(search: RunSearch, field: Field, resume: Resume) -> RunSearch:
    """The search from ``resume``'s value on, past the runs before it. In the tail of an
    order of one key, the runs without it are newest first: the search among them, in
    that order, from the resume's start time on."""
    offset = search.offset - resume.before
    if resume.tail:
        lacking = _compare(field, "IS NULL", None)
        since = _compare(_START, "<=", resume.value)
        return msgspec.structs.replace(
            search, expr=search.also(lacking, since), keys=(), offset=offset
        )
    ascending = search.keys[0].ascending if search.keys else False
    bound = _compare(field, ">=" if ascending else "<=", resume.value)
    return msgspec.structs.replace(search, expr=search.also(bound), offset=offset)


def next_resume(
    search: RunSearch,
    field: Field,
    runs: Sequence[RunView],
    used: Resume | None,
    digest: str,
    extremes: Mapping[str, float | None],
) -> Resume | None:
    """Where the page after ``runs`` (the page of ``search``, at its offset) resumes; None
    when its last run has no value to resume at, or every run of a later page ties on it
    and the page before did not say where they began. ``extremes``: each run's ``MIN()``
    or ``MAX()`` of the metric, for an order by one (missing where it has none)."""
    # The runs without a MIN() or MAX() (no metric, or only NaN values) are no set that
    # the filter language names: they are read at their offset.
    tail = len(search.keys) == 1 and field is not _START and field.aggregate == "latest"
    values = [_value(field, run, tail, extremes) for run in runs]
    if not values or values[-1] is None:
        return None
    last = values[-1]
    first = len(values) - 1
    while first > 0 and values[first - 1] == last:
        first -= 1
    if first > 0 or search.offset == 0:
        return Resume(last[1], search.offset + first, digest, last[0])
    if used is not None and (used.tail, used.value) == last:
        return Resume(last[1], used.before, digest, last[0])
    return None


def _compare(field: Field, op: str, value: int | float | None) -> Comparison:
    return Comparison(field=field, op=op, value=value, quoted=False, position=0)


def _value(
    field: Field, run: RunView, tail: bool, extremes: Mapping[str, float | None]
) -> tuple[bool, int | float] | None:
    """(in the tail, value) of a run in the order of ``field``; None for none to resume at
    (NaN or an infinite value; the runs without the key unless ``tail``)."""
    if field.entity == "metric" and field.aggregate != "latest":
        extreme = extremes.get(run.info.run_id)
        return None if extreme is None or not math.isfinite(extreme) else (False, extreme)
    if field.entity == "metric":
        value = next((m.value for m in run.metrics if m.key == field.key), None)
        if value is not None:
            return (False, value) if math.isfinite(value) else None
    elif field is _START:
        return None if run.info.start_time is None else (False, run.info.start_time)
    elif run.info.end_time is not None:
        return False, run.info.end_time
    if not tail or run.info.start_time is None:
        return None
    return True, run.info.start_time
