"""The lookups a group of log-batch decisions makes at once are index searches on SQLite,
whose planner has no statistics to tell a scan of a million params from a search."""

from __future__ import annotations

from trackledger.eventlog import lookups as q
from trackledger.projections.sql_lookups import many_queries
from trackledger.services.backends import open_backend


async def test_grouped_lookups_search_by_key(tmp_path) -> None:
    backend = await open_backend(f"sqlite:///{tmp_path / 'plans.db'}")
    try:
        lookups: list[q.Lookup] = [
            q.GetRun("a" * 32),
            q.GetParams("a" * 32, ["lr", "epochs"]),
            q.GetRun("b" * 32),
            q.GetParams("b" * 32, ["lr"]),
        ]
        queries = many_queries(lookups, "sqlite")
        assert len(queries) == 2  # one for the runs, one for the params
        for query in queries:
            plan = await backend.store.readers.fetchall(
                f"EXPLAIN QUERY PLAN {query.sql}", query.params
            )
            steps = [row[3] for row in plan]
            assert not any(step.startswith("SCAN runs") for step in steps), steps
            assert not any(step.startswith(("SCAN params", "SCAN p")) for step in steps), steps
            assert any(step.startswith(("SEARCH runs", "SEARCH p")) for step in steps), steps
    finally:
        await backend.close()
