"""LIKE keeps MLflow's meaning (case-sensitive, ``%`` and ``_`` wildcards, no escapes) on
every backend, also where SQLite serves a literal prefix from an index range."""

from __future__ import annotations

import pytest

from tests.api.helpers import new_experiment, new_run, ok, post

NAMES = [
    "run-1",
    "run-1x",
    "run-1\U0010ffff",
    "run-1\U0010ffffz",
    "run-2",
    "run-0zzz",
    "Run-1",
    "run-",
    "rum-1",
    "ru_-1",
    "run-\ud7ff",
    "run-\ue000",
    "run-1%",
]


@pytest.mark.parametrize(
    "pattern",
    ["run-1%", "run-1", "run-1_", "run-%", "%-1", "ru_-1", "run-1\U0010ffff%", "run-\ud7ff%", "%"],
)
async def test_like_matches_exactly_what_mlflow_would(client, pattern: str) -> None:
    exp = await new_experiment(client)
    ids = {name: await new_run(client, exp, run_name=name) for name in NAMES}
    found = await ok(
        await post(
            client,
            "runs/search",
            {"experiment_ids": [exp], "filter": f"attributes.run_name LIKE '{pattern}'"},
        )
    )
    names = {run["info"]["run_name"] for run in found.get("runs", [])}
    assert names == {n for n in ids if _like(n, pattern)}


def _like(text: str, pattern: str) -> bool:
    """SQL LIKE without escapes, computed independently of the server."""
    if not pattern:
        return not text
    head, rest = pattern[0], pattern[1:]
    if head == "%":
        return any(_like(text[i:], rest) for i in range(len(text) + 1))
    if not text:
        return False
    return (head == "_" or head == text[0]) and _like(text[1:], rest)
