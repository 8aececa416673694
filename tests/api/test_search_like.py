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


ILIKE_NAMES = [
    "run-1",
    "RUN-1x",
    "rUn-1",
    "run-2",
    "key-1",
    "KEY-1",
    "\u212aey-1",  # the Kelvin sign, whose lower case is "k"
    "id-1",
    "\u0130d-1",  # a capital I with a dot, whose lower case is "i"
    "\u00e9t\u00e9-1",
    "\u00c9T\u00c9-1",
]


@pytest.mark.parametrize(
    "pattern",
    ["run-1%", "RUN-1", "r_n-%", "KEY%", "key-1", "ID-%", "\u00e9t\u00e9%", "abcdefghij%", "%-1"],
)
async def test_ilike_matches_what_the_backend_folds(client, backend, pattern: str) -> None:
    """A prefix is read from index ranges, one per spelling of its case: every name the
    backend's ILIKE matches is among them (PostgreSQL folds every character with lower();
    SQLite's LIKE, ASCII letters only)."""
    exp = await new_experiment(client)
    for name in ILIKE_NAMES:
        await new_run(client, exp, run_name=name)
    for filter_ in (
        f"attributes.run_name ILIKE '{pattern}'",
        f"attributes.run_name ILIKE '{pattern}' AND attributes.start_time >= 0",
    ):
        found = await ok(
            await post(client, "runs/search", {"experiment_ids": [exp], "filter": filter_})
        )
        names = {run["info"]["run_name"] for run in found.get("runs", [])}
        fold = _lower if backend.kind == "postgres" else _ascii_lower
        assert names == {n for n in ILIKE_NAMES if _like(fold(n), fold(pattern))}, filter_


def _lower(text: str) -> str:
    """Each character's lower case, one character each (as PostgreSQL's lower())."""
    return "".join(ch.lower()[0] for ch in text)


def _ascii_lower(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)
