"""The scoped views a non-admin's handlers read through decide every public read of the
classes they narrow: overridden (narrowed to what the caller may read) or named as passed
through (a read of given resources, judged by the route's rule). A read added to a reads
class without a decision fails here, instead of answering across experiments."""

from __future__ import annotations

import inspect

import pytest

from trackledger.api.auth.scope import ScopedBrowse, ScopedReads, ScopedRegistry, ScopedTraces
from trackledger.projections.browse import Browse
from trackledger.projections.registry_reads import RegistryReads
from trackledger.projections.trace_reads import TraceReads
from trackledger.projections.views import ReadModel

PAIRS = [
    (ReadModel, ScopedReads),
    (Browse, ScopedBrowse),
    (RegistryReads, ScopedRegistry),
    (TraceReads, ScopedTraces),
]


def _public_reads(cls: type) -> set[str]:
    return {
        name
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


@pytest.mark.parametrize(("base", "scoped"), PAIRS, ids=[p[1].__name__ for p in PAIRS])
def test_every_read_is_narrowed_or_named_as_passed_through(base: type, scoped: type) -> None:
    reads = _public_reads(base)
    overridden = reads & set(vars(scoped))
    passed: frozenset[str] = scoped.passed_through  # type: ignore[attr-defined]
    assert reads - overridden == passed, (
        f"{scoped.__name__} must override or name in passed_through: "
        f"{sorted(reads - overridden - passed)}; named but not a read of {base.__name__} or "
        f"overridden too: {sorted(passed - (reads - overridden))}"
    )


def test_a_new_read_without_a_decision_is_caught() -> None:
    """The check above, against a reads class that gained a read the scope never saw."""

    class Grown(Browse):
        async def every_run_everywhere(self) -> list[str]:
            return []

    reads = _public_reads(Browse) | _public_reads(Grown)
    assert reads - set(vars(ScopedBrowse)) != ScopedBrowse.passed_through
