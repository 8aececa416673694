"""A large experiment opens in the browser: the time its runs table takes to show the first
page is written to the test log (measured, not asserted). 100,000 runs when measuring
(TRACKLEDGER_MEASURE=1, scripts/measure-ui); 10,000 on every CI run, where the seeding of
100,000 alone took over a minute of the suite's ten (20,000: 24 s on a slow machine)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tests.server.process import ServerProcess
from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun, ExperimentId
from trackledger.services.backends import open_backend

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

expect = pytest.importorskip("playwright.async_api").expect

RUNS = 100_000 if os.environ.get("TRACKLEDGER_MEASURE") == "1" else 10_000


async def _seed(uri: str, runs: int) -> str:
    """``runs`` runs with a param, a metric and a tag each, written through the event log
    (the same commands the API executes), by 64 concurrent writers."""
    backend = await open_backend(uri, sqlite_synchronous="NORMAL")
    try:
        made = await backend.store.execute(c.CreateExperiment(name="large"))
        assert isinstance(made, ExperimentId)
        exp = made.experiment_id
        numbers = iter(range(runs))

        async def writer() -> None:
            for i in numbers:
                run = await backend.store.execute(
                    c.CreateRun(
                        experiment_id=exp,
                        run_name=f"run-{i}",
                        start_time=1_700_000_000_000 + i * 1000,
                        user_id="load",
                        tags=[c.TagIn("team", "abc"[i % 3])],
                    )
                )
                assert isinstance(run, CreatedRun)
                await backend.store.execute(
                    c.LogBatch(
                        run_id=run.event.run_id,
                        params=[c.ParamIn("lr", str(1 / (1 + i % 100)))],
                        metrics=[c.MetricIn("loss", (i % 997) / 997, 1_700_000_000_000, 0)],
                    )
                )

        await asyncio.gather(*(writer() for _ in range(64)))
        return exp
    finally:
        await backend.close()


async def test_runs_table_of_a_large_experiment_first_page(
    tmp_path: Path, page, shots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'large.db'}"
    exp = await _seed(uri, RUNS)
    server = ServerProcess(tmp_path, uri).start()
    try:
        started = time.monotonic()
        await page.goto(f"{server.url}/#/experiments/{exp}")
        rows = page.locator("#runs-table tbody tr")
        await expect(rows).to_have_count(100)
        seconds = time.monotonic() - started
        in_page = await page.locator(".table-box").get_attribute("data-load-ms")
        await expect(rows.first.locator("td.name a")).to_have_text(f"run-{RUNS - 1}")
        # The figure the issue asks for: in the CI log and beside the screenshots.
        line = (
            f"{RUNS // 1000}k-run experiment: first page of the runs table shown "
            f"{seconds * 1000:.0f} ms "
            f"after navigation (search and render in the page: {in_page} ms)"
        )
        (shots / f"runs-{RUNS // 1000}k.txt").write_text(line + "\n")
        with capsys.disabled():
            print(f"\n{line}")
        await page.screenshot(path=shots / f"runs-{RUNS // 1000}k.png")
    finally:
        server.stop()
