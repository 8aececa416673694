"""The model registry's pages (issue 16) in a real headless Chromium against a real
``trackledger server``, on SQLite and PostgreSQL: the Models list (search, sort, pages), a
model's page (description, tags, aliases, versions, its history told as sentences), a
version's page, a logged model's page, and the run page's registered versions. Data made
through the REST API by two users; screenshots go to test-artifacts/ui/<backend>/."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.server.process import ServerProcess
from tests.ui.conftest import ON_SQLITE_ONLY
from tests.ui.seed_registry import (
    BULK,
    CHURN_TAGS,
    CHURN_VERSIONS,
    MODEL,
    QUOTED,
    seed_registry,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), ON_SQLITE_ONLY]

expect = pytest.importorskip("playwright.async_api").expect

#: The first answer of a page may be slow on a loaded machine.
LOAD = 30_000
#: The pager's buttons (by name; "Next" alone would also match "Next page" links).
NEXT = re.compile(r"^Next")
PREVIOUS = re.compile(r"Previous$")


@pytest.fixture
def server(tmp_path: Path, store_uri: str):
    started = ServerProcess(tmp_path, store_uri).start()
    try:
        yield started
    finally:
        started.stop()


def _folder(shots: Path, store_uri: str) -> Path:
    folder = shots / store_uri.split(":")[0]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _model_url(base: str, name: str) -> str:
    return f"{base}/#/models/{quote(name, safe='')}"


async def _texts(locator) -> list[str]:
    return [t.strip() for t in await locator.all_inner_texts()]


async def test_models_list_search_sort_and_pages(server, store_uri: str, page, shots: Path) -> None:
    base = server.url
    seed_registry(base)
    folder = _folder(shots, store_uri)
    names = page.locator("#models-table tbody tr td.name a")

    # The nav link beside Experiments opens the list: 25 a page, by name.
    await page.goto(f"{base}/")
    await page.locator("header nav").get_by_role("link", name="Models").click()
    await expect(page).to_have_url(re.compile(r"#/models$"))
    await expect(names).to_have_count(25, timeout=LOAD)
    all_names = sorted([*BULK, MODEL, "churn", QUOTED])
    assert await _texts(names) == all_names[:25]
    await page.screenshot(path=folder / "models.png", full_page=True)
    await page.get_by_role("button", name=NEXT).click()
    await expect(names).to_have_count(len(all_names) - 25)
    assert await _texts(names) == all_names[25:]
    await expect(page.locator(".pager")).to_contain_text("Page 2")
    await expect(page.get_by_role("button", name=NEXT)).to_be_disabled()
    await page.get_by_role("button", name=PREVIOUS).click()
    await expect(names.first).to_have_text(all_names[0])

    # Sorting by name the other way; by last change, the newest first.
    await page.locator('th[data-sort="name"]').click()
    await expect(names.first).to_have_text(all_names[-1])
    await page.locator('th[data-sort="last_updated_timestamp"]').click()
    await expect(names.first).to_have_text(QUOTED)  # the last one created

    # Search by part of the name, any case (ILIKE); the row's latest version, aliases,
    # stages and tags.
    search = page.get_by_label("Search models by name")
    await search.fill("FRAUD")
    await expect(names).to_have_count(1)
    await expect(names.first).to_have_text(MODEL)
    row = page.locator(f'#models-table tr[data-model="{MODEL}"]')
    cells = row.locator("td")
    await expect(cells.nth(1)).to_have_text("Version 3")
    assert await _texts(cells.nth(2).locator(".alias")) == ["@challenger v3", "@champion v2"]
    await expect(cells.nth(3)).to_have_text("Production: v2")
    await expect(cells.nth(4)).to_have_text("team: risk")
    await expect(page).to_have_url(re.compile(r"#/models\?q=FRAUD$"))
    await page.screenshot(path=folder / "models-search.png", full_page=True)

    # The search stays in the address: a reload shows it again.
    await page.reload()
    await expect(names).to_have_count(1, timeout=LOAD)
    await expect(search).to_have_value("FRAUD")

    # A name holding quotes is searched too (the filter quotes it the other way).
    await search.fill("'brien's")
    await expect(names).to_have_count(1)
    await expect(names.first).to_have_text(QUOTED)
    await search.fill("no such model")
    await expect(page.locator("#no-models")).to_contain_text('contains "no such model"')

    # The alias chip opens the version it points at.
    await search.fill("fraud")
    await expect(names).to_have_count(1)
    await page.locator('#models-table .alias[data-alias="champion"]').click()
    await expect(page.locator("h1")).to_have_text(f"{MODEL} version 2", timeout=LOAD)


async def test_model_version_and_run_pages(server, store_uri: str, page, shots: Path) -> None:
    base = server.url
    seeded = seed_registry(base)
    folder = _folder(shots, store_uri)

    await page.goto(f"{base}/#/models?q=fraud")
    await page.locator("#models-table").get_by_role("link", name=MODEL).click()
    await expect(page).to_have_url(_model_url(base, MODEL))
    await expect(page.locator("h1")).to_have_text(MODEL, timeout=LOAD)

    # The description is Markdown; tags; each alias with the version it points at.
    await expect(page.locator("#model-description strong")).to_have_text("fraud")
    await expect(page.locator("#model-description li")).to_have_count(2)
    await expect(page.locator('#model-tags tr[data-tag="team"] td').nth(1)).to_have_text("risk")
    champion = page.locator('#aliases-table tr[data-alias="champion"] a')
    await expect(champion).to_have_text("Version 2")
    assert (await champion.get_attribute("href")).endswith("/versions/2")
    await expect(page.locator('#aliases-table tr[data-alias="challenger"] a')).to_have_text(
        "Version 3"
    )

    # The versions, newest first (version 4 was deleted): stage, aliases, source run.
    rows = page.locator("#versions-table tbody tr")
    await expect(rows).to_have_count(3, timeout=LOAD)
    assert [await r.get_attribute("data-version") for r in await rows.all()] == ["3", "2", "1"]
    v2 = page.locator('#versions-table tr[data-version="2"] td')
    await expect(v2.nth(1)).to_have_text("Production")
    await expect(v2.nth(2)).to_have_text("@champion")
    await expect(v2.nth(3)).to_have_text("train-b")
    v3 = page.locator('#versions-table tr[data-version="3"] td')
    await expect(v3.nth(2)).to_have_text("@challenger")
    await expect(v3.nth(4)).to_have_text(seeded.model_id)

    # The history, from the log, told as sentences: who registered, who moved the alias.
    history = page.locator("#model-history tbody tr")
    await expect(history).to_have_count(15, timeout=LOAD)
    sentences = await _texts(page.locator("#model-history td.sentence"))
    run_a, run_b = seeded.runs["train-a"], seeded.runs["train-b"]
    assert sentences == [
        'alice registered the model "fraud-old".',
        'alice renamed the model from "fraud-old" to "fraud detector".',
        sentences[2],  # the description, cut short
        "alice set the model's tag team = risk.",
        f"alice registered version 1 from run train-a (source runs:/{run_a}/model).",
        f"alice registered version 2 from run train-b (source runs:/{run_b}/model).",
        f"alice registered version 3 from run train-b, logged model {seeded.model_id}"
        f" (source models:/{seeded.model_id}).",
        "alice registered version 4 (source s3://bucket/fraud/scratch).",
        "alice set tag validated = yes on version 3.",
        "alice pointed the new alias @champion at version 1.",
        "alice pointed the new alias @scratch at version 4.",
        "bob moved the alias @champion from version 1 to version 2.",
        "bob pointed the new alias @challenger at version 3.",
        "bob moved version 2 from stage None to Production.",
        "bob deleted version 4 and with it the alias @scratch.",
    ]
    assert sentences[2].startswith('alice changed the description to "Scores card payments')
    positions = [int(p) for p in await _texts(page.locator("#model-history tbody td.num"))]
    assert positions == sorted(positions)
    times = await _texts(page.locator("#model-history tbody tr td:nth-child(2)"))
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", t) for t in times)
    # The deleted version has no page to link to; the others do.
    moved = page.locator("#model-history tr", has_text="bob moved the alias")
    await expect(moved.locator("a.version-link")).to_have_count(2)
    deleted = page.locator("#model-history tr", has_text="bob deleted version 4")
    await expect(deleted.locator("a.version-link")).to_have_count(0)
    await expect(deleted.locator(".gone-version")).to_have_text("version 4")
    await page.screenshot(path=folder / "model.png", full_page=True)

    # The source run link opens the run page, which lists the versions registered from it.
    await (
        page.locator('#versions-table tr[data-version="1"]')
        .get_by_role("link", name="train-a")
        .click()
    )
    exp = seeded.experiment_id
    await expect(page).to_have_url(re.compile(rf"#/experiments/{exp}/runs/{run_a}$"))
    run_rows = page.locator("#run-versions tbody tr")
    await expect(run_rows).to_have_count(1, timeout=LOAD)
    await expect(run_rows.first.locator("td").nth(0)).to_have_text(MODEL)
    await expect(run_rows.first.locator("td").nth(1)).to_have_text("Version 1")

    # A version's page: its fields, aliases, tags, source run, logged model, its history.
    await page.goto(f"{_model_url(base, MODEL)}/versions/3")
    await expect(page.locator("h1")).to_have_text(f"{MODEL} version 3", timeout=LOAD)
    fields = page.locator("#version-fields")
    await expect(fields.locator('tr[data-field="Stage"] td')).to_have_text("None")
    await expect(fields.locator('tr[data-field="Aliases"] td')).to_have_text("@challenger")
    await expect(fields.locator('tr[data-field="Source"] td')).to_have_text(
        f"models:/{seeded.model_id}"
    )
    await expect(fields.locator('tr[data-field="Source run"] a')).to_have_text("train-b")
    logged_link = page.locator("#logged-model-link")
    await expect(logged_link).to_have_text(f"xgb ({seeded.model_id})")
    await expect(page.locator('#version-tags tr[data-tag="validated"] td').nth(1)).to_have_text(
        "yes"
    )
    await expect(page.locator("#version-history td.sentence")).to_have_text(
        [
            f"alice registered version 3 from run train-b, logged model {seeded.model_id}"
            f" (source models:/{seeded.model_id}).",
            "alice set tag validated = yes on version 3.",
            "bob pointed the new alias @challenger at version 3.",
        ],
        timeout=LOAD,
    )
    await page.screenshot(path=folder / "version.png", full_page=True)

    # Its logged model's page, which lists the versions registered from it.
    await logged_link.click()
    await expect(page).to_have_url(
        re.compile(rf"#/experiments/{seeded.experiment_id}/models/{seeded.model_id}$")
    )
    await expect(page.locator("h1")).to_have_text("Logged model xgb", timeout=LOAD)
    await expect(page.locator("#logged-model-versions li")).to_have_text([f"{MODEL}, version 3"])
    await page.screenshot(path=folder / "logged-model.png", full_page=True)

    # Its source run: two versions came from train-b, each with its alias.
    await page.locator("#logged-model-fields").get_by_role("link", name="train-b").click()
    await expect(page).to_have_url(re.compile(rf"/runs/{run_b}$"))
    run_rows = page.locator("#run-versions tbody tr")
    await expect(run_rows).to_have_count(2, timeout=LOAD)
    assert [await r.get_attribute("data-version") for r in await run_rows.all()] == ["3", "2"]
    await expect(run_rows.nth(0).locator("td").nth(3)).to_have_text("@challenger")
    await expect(run_rows.nth(1).locator("td").nth(3)).to_have_text("@champion")
    await expect(run_rows.nth(1).locator("td").nth(2)).to_have_text("Production")
    # The run's logged models table links to the logged model's page.
    await expect(page.locator("#models").get_by_role("link", name=seeded.model_id)).to_be_visible()
    await page.locator("section", has=page.locator("#run-versions")).screenshot(
        path=folder / "run-versions.png"
    )
    await run_rows.nth(1).get_by_role("link", name="Version 2").click()
    await expect(page.locator("h1")).to_have_text(f"{MODEL} version 2", timeout=LOAD)

    # A run nothing was registered from says so.
    await page.goto(
        f"{base}/#/experiments/{seeded.experiment_id}/runs/{seeded.runs['unregistered']}"
    )
    await expect(page.locator("#no-run-versions")).to_be_visible(timeout=LOAD)

    # A model that does not exist: the server's message.
    await page.goto(_model_url(base, "nope"))
    await expect(page.locator(".error")).to_contain_text(
        "Registered Model with name=nope not found", timeout=LOAD
    )


async def test_long_version_list_and_history_page(
    server, store_uri: str, page, shots: Path
) -> None:
    base = server.url
    seed_registry(base)
    await page.goto(_model_url(base, "churn"))
    versions = page.locator("#versions-table tbody tr")
    await expect(versions).to_have_count(25, timeout=LOAD)
    assert await versions.first.get_attribute("data-version") == str(CHURN_VERSIONS)
    pager = page.locator("section[data-section=Versions] .pager")
    await pager.get_by_role("button", name=NEXT).click()
    await expect(versions).to_have_count(CHURN_VERSIONS - 25)
    assert await versions.last.get_attribute("data-version") == "1"

    # The history comes 100 events at a time.
    history = page.locator("#model-history tbody tr")
    await expect(history).to_have_count(100, timeout=LOAD)
    await page.get_by_role("button", name="Load more").click()
    await expect(history).to_have_count(1 + CHURN_VERSIONS + CHURN_TAGS)
    await expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    await expect(history.last.locator("td.sentence")).to_have_text(
        f"Set the model's tag round = {CHURN_TAGS - 1}."
    )
    await page.screenshot(path=_folder(shots, store_uri) / "model-long.png", full_page=True)
