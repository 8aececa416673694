"""The experiment chart view at scale: 100 runs x 20 metrics x 10,000 points each. The time
from navigation until every chart in the first screen is drawn, and until all 20 are, goes
to the test log (measured, not asserted)."""

from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path

import pytest

from tests.server.process import ServerProcess
from trackledger.eventlog import commands as c
from trackledger.eventlog.results import CreatedRun, ExperimentId
from trackledger.services.backends import open_backend

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    # 20 million points and ~5 minutes: a measurement, run on demand (scripts/measure-ui),
    # not on every CI run.
    pytest.mark.skipif(
        os.environ.get("TRACKLEDGER_MEASURE") != "1",
        reason="a measurement: TRACKLEDGER_MEASURE=1 (scripts/measure-ui) runs it",
    ),
]

expect = pytest.importorskip("playwright.async_api").expect

RUNS = 100
METRICS = 20
POINTS = 10_000
BATCH = 1000


async def _seed(uri: str) -> str:
    """RUNS runs, each with METRICS metrics of POINTS steps, written through the event log
    (the commands the API executes) in batches of 1000 points, by 8 concurrent writers."""
    backend = await open_backend(uri, sqlite_synchronous="NORMAL")
    try:
        made = await backend.store.execute(c.CreateExperiment(name="charts-at-scale"))
        assert isinstance(made, ExperimentId)
        exp = made.experiment_id
        t0 = 1_700_000_000_000
        numbers = iter(range(RUNS))

        async def writer() -> None:
            for i in numbers:
                run = await backend.store.execute(
                    c.CreateRun(
                        experiment_id=exp, run_name=f"run-{i:03d}", start_time=t0, user_id="load"
                    )
                )
                assert isinstance(run, CreatedRun)
                run_id = run.event.run_id
                for m in range(METRICS):
                    for start in range(0, POINTS, BATCH):
                        points = [
                            c.MetricIn(
                                f"metric_{m:02d}",
                                (1 + i / RUNS) * math.exp(-s / (500 + 100 * m)) + 0.01 * (s % 7),
                                t0 + s * 100,
                                s,
                            )
                            for s in range(start, start + BATCH)
                        ]
                        await backend.store.execute(c.LogBatch(run_id=run_id, metrics=points))

        await asyncio.gather(*(writer() for _ in range(8)))
        return exp
    finally:
        await backend.close()


async def test_chart_view_of_100_runs_by_20_metrics(
    tmp_path: Path, page, shots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"sqlite:///{tmp_path / 'charts.db'}"
    seeding = time.monotonic()
    exp = await _seed(uri)
    seeded_in = time.monotonic() - seeding
    server = ServerProcess(tmp_path, uri).start()
    try:
        cards = page.locator(".chart-card")
        started = time.monotonic()
        await page.goto(f"{server.url}/#/experiments/{exp}?view=charts")
        await expect(cards).to_have_count(METRICS)
        # Every chart in the first screen, drawn with all 100 runs.
        in_view = await page.wait_for_function(
            """(runs) => {
                const cards = [...document.querySelectorAll('.chart-card')]
                    .filter((c) => c.getBoundingClientRect().top < window.innerHeight);
                const done = cards.every(
                    (c) => c.dataset.state === 'drawn' && c.dataset.runs === String(runs));
                return cards.length && done ? cards.length : 0;
            }""",
            arg=RUNS,
            timeout=300_000,
        )
        in_view = await in_view.json_value()
        drawn = page.locator(f'.chart-card[data-state="drawn"][data-runs="{RUNS}"]')
        first_screen = time.monotonic() - started
        # Where the first screen's time went, per chart (the page's clock starts at the
        # navigation): when it asked for its data, how long that took, how long the draw.
        cards_timing = await page.evaluate(
            """(n) => [...document.querySelectorAll('.chart-card')].slice(0, n).map((c) =>
                `${c.dataset.metric} asked at ${c.dataset.askedAt} ms, data in `
                + `${c.dataset.fetchMs} ms, drawn in ${c.dataset.drawMs} ms`).join('; ')""",
            in_view,
        )
        await page.screenshot(path=shots / "charts-100x20.png")
        # Then every chart, scrolling down through them.
        for i in range(METRICS):
            await cards.nth(i).scroll_into_view_if_needed()
        await expect(drawn).to_have_count(METRICS, timeout=300_000)
        every = time.monotonic() - started
        line = (
            f"chart view of {RUNS} runs x {METRICS} metrics x {POINTS} points: the "
            f"{in_view} charts of the first screen drawn {first_screen * 1000:.0f} ms after "
            f"navigation, all {METRICS} (scrolled through) {every * 1000:.0f} ms "
            f"(seeding took {seeded_in:.0f} s; load average {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores). First screen: {cards_timing}"
        )
        (shots / "charts-100x20.txt").write_text(line + "\n")
        with capsys.disabled():
            print(f"\n{line}")
    finally:
        server.stop()
