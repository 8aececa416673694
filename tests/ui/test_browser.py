"""The UI in a real headless Chromium against a real ``trackledger server``: data made
through the API, then searched, sorted, opened, charted, edited, compared, downloaded,
deleted and restored in the browser."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests import loopback
from tests.server.process import ServerProcess
from tests.ui.seed import API, Seeded, seed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

expect = pytest.importorskip("playwright.async_api").expect


async def _names(page) -> list[str]:
    return await page.locator("#runs-table tbody tr td.name a").all_inner_texts()


def _stages(base: str, seeded: Seeded, names: list[str]) -> list[str]:
    return [
        loopback.get(f"{base}{API}/runs/get", params={"run_id": seeded.runs[n]}).json()["run"][
            "info"
        ]["lifecycle_stage"]
        for n in names
    ]


async def test_browse_search_chart_edit_compare_download_delete(
    tmp_path: Path, store_uri: str, page, shots: Path
) -> None:
    server = ServerProcess(tmp_path, store_uri).start()
    try:
        await _flow(server.url, seed(server.url), page, shots / Path(store_uri.split(":")[0]))
    finally:
        server.stop()


async def _flow(base: str, seeded: Seeded, page, shots: Path) -> None:
    shots.mkdir(parents=True, exist_ok=True)
    exp = seeded.experiment_id

    # The experiments list, with run counts.
    await page.goto(f"{base}/")
    row = page.locator("#experiments tbody tr", has_text="ui-demo")
    await expect(row.locator("td").nth(3)).to_have_text("6")
    await page.screenshot(path=shots / "experiments.png", full_page=True)

    # The link the mlflow client prints opens the experiment; nested runs sit under their
    # parent, so the top level holds the sweep, the baseline and the old run, newest first.
    await page.goto(f"{base}/#/experiments/{exp}")
    await expect(page.locator("#runs-table")).to_be_visible()
    assert (await _names(page)) == ["baseline", "sweep", "ancient"]
    await page.get_by_role("button", name="Expand").click()
    await expect(page.locator("#runs-table tbody tr")).to_have_count(6)
    assert (await _names(page)) == ["baseline", "sweep", "trial-0", "trial-1", "trial-2", "ancient"]

    # The time-created filter (the expanded sweep stays open).
    await page.get_by_label("Created").select_option(label="Last 30 days")
    await expect(page.locator("#runs-table tbody tr")).to_have_count(5)
    assert "ancient" not in await _names(page)
    await page.get_by_label("Created").select_option(label="Any time")
    await expect(page.locator("#runs-table tbody tr")).to_have_count(6)

    # A valid filter (an extension: a param compared as a number) lists every match.
    search = page.get_by_label("Filter runs")
    await search.fill("params.lr < 0.015")
    await search.press("Enter")
    await expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    assert sorted(await _names(page)) == ["trial-1", "trial-2"]

    # A malformed one shows the server's own message under the box.
    bad = "metrics.loss >>> 1"
    answer = loopback.post(
        f"{base}{API}/runs/search", json={"experiment_ids": [exp], "filter": bad}
    )
    assert answer.status_code == 400
    await search.fill(bad)
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(".filter-error")).to_have_text(answer.json()["message"])
    await page.screenshot(path=shots / "filter-error.png")

    # Sorting by a param column orders the whole flat list on the server.
    await search.fill("")
    await page.get_by_label("Nest child runs").uncheck()
    await expect(page.locator("#runs-table tbody tr")).to_have_count(6)
    await page.locator("#runs-table th", has_text=re.compile(r"^lr")).click()
    await expect(page.locator("#runs-table th", has_text=re.compile(r"^lr"))).to_contain_text("▼")
    assert (await _names(page)) == ["ancient", "trial-0", "sweep", "baseline", "trial-1", "trial-2"]
    await page.locator("#runs-table th", has_text=re.compile(r"^lr")).click()
    await expect(page.locator("#runs-table th", has_text=re.compile(r"^lr"))).to_contain_text("▲")
    assert (await _names(page)) == ["trial-2", "trial-1", "baseline", "sweep", "trial-0", "ancient"]

    # The CSV holds every run found, with a column per param and metric.
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download CSV").click()
    with open(await (await download.value).path(), newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "Run ID",
        "Name",
        "Source Type",
        "Source Name",
        "User",
        "Status",
        "params.batch_size",
        "params.lr",
        "metrics.accuracy",
        "metrics.loss",
    ]
    by_name = {r[1]: r for r in rows[1:]}
    assert sorted(by_name) == ["ancient", "baseline", "sweep", "trial-0", "trial-1", "trial-2"]
    assert by_name["baseline"][:8] == [
        seeded.runs["baseline"],
        "baseline",
        "LOCAL",
        "train.py",
        "ada",
        "FINISHED",
        "32",
        "0.02",
    ]
    assert float(by_name["baseline"][8]) == 0.94

    # The run page: its chart is drawn, min/max come from the whole history (the spike).
    await page.get_by_role("link", name="baseline").click()
    await expect(page.locator("h1")).to_contain_text("baseline")
    loss = page.locator('.chart-card[data-metric="loss"]')
    await expect(loss).to_have_attribute("data-state", "drawn")
    await expect(loss).to_have_attribute("data-kind", "line")
    await expect(loss.locator("canvas")).to_have_count(1)
    await expect(
        page.locator("#metrics tbody tr", has_text="loss").locator("td").nth(3)
    ).to_have_text("6.15621")
    await expect(page.locator("#history tbody tr").first).to_contain_text("run.created")
    await page.get_by_role("link", name="notes.txt").click()
    await expect(page.locator("pre.artifact-text")).to_have_text("hello from the baseline\n")
    await page.screenshot(path=shots / "run.png", full_page=True)

    # Edit a tag.
    await page.locator('tr[data-tag="team"]').get_by_role("button", name="Edit").click()
    await page.get_by_label("Value of team").fill("nlp-2")
    await page.get_by_label("Value of team").press("Enter")
    await expect(page.locator('tr[data-tag="team"] td').nth(1)).to_have_text("nlp-2")
    tags = loopback.get(f"{base}{API}/runs/get", params={"run_id": seeded.runs["baseline"]}).json()
    assert {"key": "team", "value": "nlp-2"} in tags["run"]["data"]["tags"]

    # Compare two runs.
    await page.goto(f"{base}/#/experiments/{exp}")
    await page.get_by_label("Nest child runs").uncheck()
    await expect(page.locator("#runs-table tbody tr")).to_have_count(6)
    await page.get_by_label("Select trial-0").check()
    await page.get_by_label("Select trial-1").check()
    await page.get_by_role("button", name="Compare").click()
    table = page.locator("#compare-table")
    await expect(table.locator('tr[data-key="lr"] td')).to_have_text(["0.1", "0.01"])
    await expect(table.locator('tr[data-key="batch_size"]')).to_have_count(1)
    await page.get_by_label("Show differences only").check()
    await expect(table.locator('tr[data-key="batch_size"]')).to_have_count(0)
    await expect(page.locator("svg.parallel path.line")).to_have_count(2)
    await expect(page.locator("svg.scatter circle.point")).to_have_count(2)
    await page.screenshot(path=shots / "compare.png", full_page=True)

    # Delete the parent with its children, then restore them all.
    trees = ["sweep", "trial-0", "trial-1", "trial-2"]
    await page.goto(f"{base}/#/experiments/{exp}")
    await expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    await page.get_by_label("Select sweep").check()
    await expect(page.get_by_label("include child runs")).to_be_checked()
    await page.get_by_role("button", name="Delete").click()
    await expect(page.locator(".message")).to_contain_text("Deleted 1 run and their child runs")
    await expect(page.locator("#runs-table tbody td.name a")).to_have_text(["baseline", "ancient"])
    assert _stages(base, seeded, trees) == ["deleted"] * 4

    await page.get_by_label("State").select_option("DELETED_ONLY")
    await expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    await page.get_by_label("Select sweep").check()
    await page.get_by_role("button", name="Restore").click()
    await expect(page.locator(".message")).to_contain_text("Restored 1 run")
    assert _stages(base, seeded, trees) == ["active"] * 4


async def test_experiments_and_a_run_are_managed_in_the_browser(
    tmp_path: Path, page, shots: Path
) -> None:
    server = ServerProcess(tmp_path).start()
    try:
        base = server.url
        seeded = seed(base)
        await page.goto(f"{base}/#/experiments")
        await page.get_by_label("New experiment name").fill("made-in-ui")
        await page.get_by_role("button", name="Create experiment").click()
        row = page.locator("#experiments tbody tr", has_text="made-in-ui")
        await expect(row).to_have_count(1)
        await row.get_by_role("button", name="Rename").click()
        await page.get_by_label("New name").fill("renamed-in-ui")
        await page.get_by_label("New name").press("Enter")
        row = page.locator("#experiments tbody tr", has_text="renamed-in-ui")
        await expect(row).to_have_count(1)
        await row.get_by_role("button", name="Delete").click()
        await expect(row).to_have_count(0)
        # The name search waits for typing to pause: its answer (no active experiment has
        # the name now) comes before the view changes, so no search is still on its way
        # to re-render the table under the Restore click (a re-render between the
        # button's press and release was no click: a flake on a loaded machine).
        await page.get_by_label("Search experiments by name").fill("renamed")
        await expect(page.get_by_text("No experiments match.")).to_be_visible()
        await page.get_by_label("Lifecycle").select_option("DELETED_ONLY")
        await expect(row).to_have_count(1)
        await row.get_by_role("button", name="Restore").click()
        await expect(page.locator(".message")).to_contain_text("Restored renamed-in-ui")
        found = loopback.get(
            f"{base}{API}/experiments/get-by-name", params={"experiment_name": "renamed-in-ui"}
        ).json()["experiment"]
        assert found["lifecycle_stage"] == "active"

        # A run's name and description.
        run_id = seeded.runs["trial-1"]
        await page.goto(f"{base}/#/experiments/{seeded.experiment_id}/runs/{run_id}")
        await page.get_by_role("button", name="Rename").click()
        await page.get_by_label("Run name").fill("trial-one")
        await page.get_by_label("Run name").press("Enter")
        await expect(page.locator("h1")).to_contain_text("trial-one")
        await (
            page.locator('section[data-section="Description"]')
            .get_by_role("button", name="Edit")
            .click()
        )
        await page.get_by_label("Description").fill("lr sweep, second trial")
        await page.get_by_role("button", name="Save description").click()
        await expect(page.locator(".note .markdown")).to_have_text("lr sweep, second trial")
        run = loopback.get(f"{base}{API}/runs/get", params={"run_id": run_id}).json()["run"]
        assert run["info"]["run_name"] == "trial-one"
        assert {"key": "mlflow.note.content", "value": "lr sweep, second trial"} in run["data"][
            "tags"
        ]
        # The parent links to this child, and the child back to its parent, by name.
        overview = page.locator('section[data-section="Overview"]')
        await overview.get_by_role("link", name="sweep", exact=True).click()
        await expect(page.locator("h1")).to_contain_text("sweep")
        await expect(page.get_by_role("link", name="trial-one")).to_be_visible()
    finally:
        server.stop()
