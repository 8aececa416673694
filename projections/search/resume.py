"""Run search pages that resume where the page before ended, not at an offset.

A page at offset N of an order reads every run before it again (50,000 runs by a metric:
each page of a client paging through them reads them all). Where the order's first key is
a value every run of the page shows (start or end time, a metric's latest value), the
token of the page before says that value at its last run (``Resume``) and how many runs
sort before its first run with it; the next page is then the search from that value on
(a bound of the first key: the plans read it as a range of the index they walk), at the
offset past them. Runs the bound leaves out sort either before that value or after every
run that has one (NaN, no value): once the runs from the value on are read, the rest of
the page is read at its offset.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence

import msgspec

from trackledger.projections.search.ast import Comparison, Field
from trackledger.projections.search.pages import Resume
from trackledger.projections.search.request import RunSearch
from trackledger.projections.search.run_fields import ORDER_ATTRIBUTES
from trackledger.projections.search.runs import time_ordered
from trackledger.projections.views import RunView

__all__ = ["next_resume", "resumed", "resuming_field", "search_digest"]

_START = Field(entity="attribute", key="start_time")


def resuming_field(search: RunSearch) -> Field | None:
    """The first order key when a page can resume at its value: start time (the default
    order too), end time, or a metric's latest value."""
    if time_ordered(search.keys) is not None:
        return _START
    first = search.keys[0].field
    if first.entity == "metric" and first.aggregate == "latest":
        return first
    if first.entity == "attribute" and ORDER_ATTRIBUTES.get(first.key) == "r.end_time":
        return first
    return None


def search_digest(
    experiment_ids: Sequence[int], filter_text: str | None, order_by: Sequence[str], view: str
) -> str:
    """What a token's resume point is checked against: the search it was made for."""
    text = json.dumps([sorted(experiment_ids), filter_text or "", list(order_by), view])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def resumed(search: RunSearch, field: Field, resume: Resume) -> RunSearch:
    """The search from ``resume``'s value on, past the runs before it."""
    ascending = search.keys[0].ascending if search.keys else False
    bound = Comparison(
        field=field, op=">=" if ascending else "<=", value=resume.value, quoted=False, position=0
    )
    return msgspec.structs.replace(
        search, expr=search.also(bound), offset=search.offset - resume.before
    )


def next_resume(
    field: Field, runs: Sequence[RunView], offset: int, used: Resume | None, digest: str
) -> Resume | None:
    """Where the page after ``runs`` (the page at ``offset``) resumes; None when its last
    run has no value to resume at, or every run of a later page ties on it and the page
    before did not say where they began."""
    values = [_value(field, run) for run in runs]
    if not values or values[-1] is None:
        return None
    last = values[-1]
    first = len(values) - 1
    while first > 0 and values[first - 1] == last:
        first -= 1
    if first > 0 or offset == 0:
        return Resume(last, offset + first, digest)
    if used is not None and used.value == last:
        return Resume(last, used.before, digest)
    return None


def _value(field: Field, run: RunView) -> int | float | None:
    if field.entity == "metric":
        value = next((m.value for m in run.metrics if m.key == field.key), None)
        return value if value is not None and math.isfinite(value) else None
    if ORDER_ATTRIBUTES.get(field.key) == "r.end_time":
        return run.info.end_time
    return run.info.start_time
