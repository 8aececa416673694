"""Issue 23 in a real headless Chromium: the experiment chart view (1), charts with their
own axes and sensible defaults (2), the run page's datasets, models, history and Markdown
(3), Compare's defaults and labels (4), and the runs table's groups, pinned name, columns
and pickers (5). Screenshots go to test-artifacts/ui/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.server.process import ServerProcess
from tests.ui.conftest import ON_SQLITE_ONLY
from tests.ui.seed import Seeded, seed, seed_rich

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300), ON_SQLITE_ONLY]

expect = pytest.importorskip("playwright.async_api").expect


@pytest.fixture
def server(tmp_path: Path, store_uri: str):
    started = ServerProcess(tmp_path, store_uri).start()
    try:
        yield started
    finally:
        started.stop()


def _shot(shots: Path, store_uri: str, name: str) -> Path:
    folder = shots / store_uri.split(":")[0]
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


async def _color(locator) -> str:
    return await locator.evaluate("(e) => getComputedStyle(e).backgroundColor")


async def _overlaps(page, selector: str) -> list[str]:
    """Pairs of the matched elements whose boxes overlap, and any that leave their svg."""
    return await page.evaluate(
        """(selector) => {
            const els = [...document.querySelectorAll(selector)];
            const out = [];
            const boxes = els.map((e) => e.getBoundingClientRect());
            for (let i = 0; i < els.length; i++) {
                const a = boxes[i];
                const s = els[i].ownerSVGElement.getBoundingClientRect();
                const outside = a.left < s.left - 1 || a.right > s.right + 1
                    || a.top < s.top - 1 || a.bottom > s.bottom + 1;
                if (outside)
                    out.push(`${els[i].textContent} leaves the chart`);
                for (let j = i + 1; j < els.length; j++) {
                    const b = boxes[j];
                    const apart = a.right - 1 <= b.left || b.right - 1 <= a.left
                        || a.bottom - 1 <= b.top || b.bottom - 1 <= a.top;
                    if (!apart)
                        out.push(`${els[i].textContent} overlaps ${els[j].textContent}`);
                }
            }
            return out;
        }""",
        selector,
    )


async def test_1_experiment_chart_view(server, store_uri: str, page, shots: Path) -> None:
    base = server.url
    seeded = seed(base)
    ids = seeded.runs
    # The strict CSP holds: the vendored library loads from this server, nothing is refused.
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    await page.goto(f"{base}/#/experiments/{seeded.experiment_id}")
    await expect(page.locator("#runs-table tbody tr")).to_have_count(3)
    await page.get_by_role("button", name="Charts").click()
    cards = page.locator(".chart-card")
    await expect(cards).to_have_count(2)
    loss = page.locator('.chart-card[data-metric="loss"]')
    accuracy = page.locator('.chart-card[data-metric="accuracy"]')

    # A line per run in view (the three top-level runs), and bars for a single value.
    await expect(loss).to_have_attribute("data-state", "drawn")
    await expect(loss).to_have_attribute("data-kind", "line")
    await expect(loss).to_have_attribute("data-runs", "3")
    await expect(accuracy).to_have_attribute("data-kind", "bar")
    await expect(accuracy.locator("g.bar")).to_have_count(3)
    await expect(accuracy.locator(f'g.bar[data-run="{ids["baseline"]}"] .bar-value')).to_have_text(
        "0.94"
    )
    assert await _overlaps(page, '.chart-card[data-metric="accuracy"] svg.bars text') == []

    # Each run has one colour, in the table and in every legend, and no two share one.
    colors = []
    for name in ["baseline", "sweep", "ancient"]:
        in_table = await _color(
            page.locator(f'#runs-table tr[data-run-id="{ids[name]}"] td.name i.swatch')
        )
        for card in (loss, accuracy):
            legend = card.locator(f'.legend-item[data-run="{ids[name]}"] i.swatch')
            assert await _color(legend) == in_table
        colors.append(in_table)
    assert len(set(colors)) == 3
    await page.screenshot(path=_shot(shots, store_uri, "experiment-charts.png"), full_page=True)

    # The tooltip lists each run's value at the pointer.
    over = loss.locator(".u-over")
    box = await over.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    tip = loss.locator(".plot-tip")
    await expect(tip).to_be_visible()
    await expect(tip.locator(".tip-row")).to_have_count(3)
    await expect(tip.locator(f'.tip-row[data-run="{ids["baseline"]}"] .tip-name')).to_have_text(
        "baseline"
    )
    await expect(tip.locator(".tip-x")).to_contain_text("step")

    # A legend entry hides its run's line.
    sweep_item = loss.locator(f'.legend-item[data-run="{ids["sweep"]}"]')
    await sweep_item.click()
    await expect(sweep_item).to_have_attribute("aria-pressed", "false")
    await page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
    await expect(tip.locator(".tip-row")).to_have_count(2)

    # Drag to zoom into steps ~40..80; Reset zoom shows 0..199 again.
    plot = loss.locator(".plot")
    assert float(await plot.get_attribute("data-x-max") or "nan") == 199
    assert float(await plot.get_attribute("data-y-max") or "nan") > 6  # the spike
    await page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + 20)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + 40, steps=6)
    await page.mouse.up()
    await expect(plot).not_to_have_attribute("data-x-max", "199")
    zoomed = float(await plot.get_attribute("data-x-max") or "nan")
    assert 60 < zoomed < 100
    # The y axis fits what is in view: the spike at step 137 is not.
    await expect(plot).not_to_have_attribute("data-y-max", "6.700000000000001")
    assert float(await plot.get_attribute("data-y-max") or "nan") < 3
    await loss.get_by_role("button", name="Reset zoom").click()
    await expect(plot).to_have_attribute("data-x-max", "199")

    # Its own x axis: seconds since each run started (points were 1 s apart); log scale.
    await page.get_by_label("X axis of loss").select_option("relative")
    await expect(loss.locator(".plot")).to_have_attribute("data-x-max", "199")
    await expect(loss).to_have_attribute("data-state", "drawn")
    await page.get_by_label("X axis of loss").select_option("time")
    await expect(loss).to_have_attribute("data-state", "drawn")
    x_max = float(await loss.locator(".plot").get_attribute("data-x-max") or "nan")
    assert x_max > 1.6e12  # a time in ms
    await page.get_by_label("Log scale of loss").check()
    await expect(loss).to_have_attribute("data-state", "drawn")
    await expect(page.get_by_label("Log scale of accuracy")).not_to_be_checked()
    # Smoothing adds a smoothed line per run (the raw one stays, faded).
    await expect(loss.locator(".plot")).to_have_attribute("data-series", "3")
    await page.get_by_label("Smoothing").fill("0.9")
    await expect(loss.locator(".plot")).to_have_attribute("data-series", "6")
    await page.get_by_label("Smoothing").fill("0")
    await expect(loss.locator(".plot")).to_have_attribute("data-series", "3")

    # The selection drives the charts, then the filter does; runs already drawn are not
    # fetched again.
    fetched: list[str] = []
    page.on(
        "request",
        lambda r: fetched.append(r.post_data or "") if "sampled-runs" in r.url else None,
    )
    await page.get_by_label("Select baseline").check()
    await page.get_by_label("Select ancient").check()
    await expect(loss).to_have_attribute("data-runs", "2")
    await expect(accuracy.locator("g.bar")).to_have_count(2)
    assert fetched == []
    search = page.get_by_label("Filter runs")
    await search.fill("params.lr < 0.03")
    await search.press("Enter")
    await expect(page.locator("#runs-table tbody td.name a")).to_have_count(3)
    await expect(loss).to_have_attribute("data-runs", "3")
    await expect(accuracy.locator("g.bar")).to_have_count(3)
    await expect(accuracy.locator(f'g.bar[data-run="{ids["trial-2"]}"]')).to_have_count(1)
    # Only the two runs new to the charts were asked for.
    assert fetched and all(ids["baseline"] not in body for body in fetched)

    # Charts are searchable and reorderable; the order is kept.
    await page.get_by_label("Search metrics").fill("acc")
    await expect(loss).to_be_hidden()
    await expect(accuracy).to_be_visible()
    await page.get_by_label("Search metrics").fill("")
    assert await cards.first.get_attribute("data-metric") == "accuracy"
    await page.get_by_label("Move loss earlier").click()
    await expect(cards.first).to_have_attribute("data-metric", "loss")
    # Dragging a chart's title onto another moves it there.
    await cards.nth(1).locator("header").drag_to(cards.nth(0))
    await expect(cards.first).to_have_attribute("data-metric", "accuracy")
    await cards.nth(1).locator("header").drag_to(cards.nth(0))
    await expect(cards.first).to_have_attribute("data-metric", "loss")
    await page.reload()
    await expect(cards).to_have_count(2)
    await expect(cards.first).to_have_attribute("data-metric", "loss")
    await expect(page.get_by_label("X axis of loss")).to_have_value("time")
    assert console_errors == []


async def test_2_each_metric_on_its_own_axis_with_sensible_defaults(
    server, store_uri: str, page, shots: Path
) -> None:
    base = server.url
    rich = seed_rich(base)
    await page.goto(f"{base}/#/experiments/{rich.experiment_id}/runs/{rich.runs['rich']}")
    cards = page.locator(".chart-card")
    # A chart per metric that changes, the most-changing first, the constant one last.
    await expect(cards).to_have_count(4)
    order = [await cards.nth(i).get_attribute("data-metric") for i in range(4)]
    assert order[0] == "loss" and order[-1] == "learning_rate"
    assert set(order) == {"loss", "learning_rate", "system/cpu_percent", "system/disk_mb"}
    # The charts open in the first screen, not below the fold.
    top = await cards.first.evaluate("(e) => e.getBoundingClientRect().top")
    assert top < 700
    for i in range(4):
        await expect(cards.nth(i)).to_have_attribute("data-state", "drawn")
    # Each on its own y axis: the learning rate is not flattened by disk megabytes.
    lr = page.locator('.chart-card[data-metric="learning_rate"] .plot')
    disk = page.locator('.chart-card[data-metric="system/disk_mb"] .plot')
    assert 0.0005 < float(await lr.get_attribute("data-y-min") or "nan") < 0.001
    assert 0.001 < float(await lr.get_attribute("data-y-max") or "nan") < 0.002
    assert float(await disk.get_attribute("data-y-min") or "nan") > 70_000
    # A metric with one value is a value, not a dot on a -1..1 step axis.
    await expect(page.locator('.chart-card[data-metric="val_accuracy"]')).to_have_count(0)
    await expect(page.locator('#single-values [data-metric="val_accuracy"]')).to_have_text(
        "val_accuracy 0.912"
    )
    await page.screenshot(path=_shot(shots, store_uri, "run-charts.png"))

    # In the experiment's chart view, a single value per run is a bar chart.
    await page.goto(f"{base}/#/experiments/{rich.experiment_id}?view=charts")
    single = page.locator('.chart-card[data-metric="val_accuracy"]')
    await single.scroll_into_view_if_needed()  # charts fetch their data once in view
    await expect(single).to_have_attribute("data-kind", "bar")
    await expect(single.locator("g.bar")).to_have_count(1)

    # Compare opens on the metric that changes, not the first by name (a constant).
    ids = ",".join(rich.runs[f"cmp-{i}"] for i in range(3))
    await page.goto(f"{base}/#/compare?runs={ids}")
    await expect(cards).to_have_count(3)
    await expect(cards.first).to_have_attribute("data-metric", "loss")
    await expect(cards.last).to_have_attribute("data-metric", "aaa_constant")


async def test_3_run_page_datasets_models_history_markdown(
    server, store_uri: str, page, shots: Path
) -> None:
    base = server.url
    rich = seed_rich(base)
    await page.goto(f"{base}/#/experiments/{rich.experiment_id}/runs/{rich.runs['rich']}")
    dataset = page.locator('#datasets tr[data-dataset="imagenet-mini"] td')
    await expect(dataset.nth(1)).to_have_text("training")
    await expect(dataset.nth(2)).to_have_text("4f1c2a9e")
    model = page.locator(f'#models tr[data-model="{rich.runs["model:resnet"]}"] td')
    await expect(model.nth(0)).to_have_text("resnet")
    await expect(model.nth(2)).to_have_text("output")
    await expect(model.nth(3)).to_have_text("cnn")
    await expect(model.nth(5)).to_have_text("199")

    # Every history row is a sentence: no "undefined", no empty lists, no blank rows.
    rows = page.locator("#history tbody tr")
    await expect(rows.first).to_be_visible()
    await expect(page.locator('#history tr[data-type="run.outputs_logged"]')).to_have_count(1)
    changes = await page.locator("#history tbody td.change").all_inner_texts()
    types = await page.locator("#history tbody tr").evaluate_all(
        "(rows) => rows.map((r) => r.dataset.type)"
    )
    assert {"run.created", "run.batch_logged", "run.inputs_logged", "run.outputs_logged"} <= set(
        types
    )
    for text in changes:
        assert text.strip() and text.strip().endswith("."), text
        assert "undefined" not in text and ": ;" not in text and "of ;" not in text, text
    by_type = dict(zip(types, changes, strict=True))
    assert by_type["run.inputs_logged"] == (
        'Logged dataset "imagenet-mini" (local, digest 4f1c2a9e) for training.'
    )
    assert by_type["run.outputs_logged"] == (
        f"Logged model {rich.runs['model:resnet']} at step 199 as output."
    )
    batch = [c for t, c in zip(types, changes, strict=True) if t == "run.batch_logged"]
    assert any(c.startswith("Logged params optimizer = adamw, lr = 0.001; set tags") for c in batch)

    # The description renders as Markdown, and its HTML stays text.
    note = page.locator(".note .markdown")
    await expect(note.locator("h3")).to_have_text("Tuning run")
    await expect(note.locator("strong")).to_have_text("AdamW")
    await expect(note.locator("em")).to_have_text("cosine")
    await expect(note.locator("code")).to_have_text("500")
    await expect(note.get_by_role("link", name="the paper")).to_have_attribute(
        "href", "https://arxiv.org/abs/1711.05101"
    )
    await expect(note.locator("a", has_text="a bad link")).to_have_count(0)
    await expect(note).to_contain_text("[a bad link](javascript:alert(1))")
    await expect(note.locator("img, script")).to_have_count(0)
    await expect(note).to_contain_text("<script>document.title='pwned'</script>")
    assert await page.title() != "pwned"
    await page.screenshot(path=_shot(shots, store_uri, "run.png"), full_page=True)


async def test_4_compare_defaults_and_labels(server, store_uri: str, page, shots: Path) -> None:
    base = server.url
    rich = seed_rich(base)
    ids = ",".join(rich.runs[f"cmp-{i}"] for i in range(3))
    await page.goto(f"{base}/#/compare?runs={ids}")
    await expect(page.locator("svg.parallel path.line")).to_have_count(3)
    # The scatter plots a param that differs against the metric that differs most.
    x = await page.get_by_label("Scatter X").input_value()
    y = await page.get_by_label("Scatter Y").input_value()
    assert x.startswith("params.") and x != "params.batch_size"
    assert y == "metrics.loss"
    # Parallel coordinates: no label overlaps another or is cut off; differing fields first.
    assert await _overlaps(page, "svg.parallel text") == []
    names = await page.locator("svg.parallel text.axis-name").all_text_contents()
    assert names.index("params.lr") < names.index("params.batch_size")
    assert "params.a_rather_long_parameter_name_for_the_label" in names
    cards = page.locator(".chart-card")
    await cards.first.scroll_into_view_if_needed()
    await expect(cards.first).to_have_attribute("data-metric", "loss")
    await expect(cards.first).to_have_attribute("data-state", "drawn")
    await expect(page.locator('.chart-card[data-metric="accuracy"]')).to_have_attribute(
        "data-kind", "bar"
    )
    await page.screenshot(path=_shot(shots, store_uri, "compare.png"), full_page=True)


async def _runs(seeded: Seeded, rich: Seeded) -> str:
    return f"{seeded.experiment_id},{rich.experiment_id}"


async def test_5_runs_table_groups_pins_and_pickers(
    server, store_uri: str, page, shots: Path
) -> None:
    base = server.url
    seeded = seed(base)
    rich = seed_rich(base)
    await page.goto(f"{base}/#/experiments/{await _runs(seeded, rich)}")
    table = page.locator("#runs-table")
    await expect(table).to_be_visible()

    # The Columns picker opens over the page: nothing below moves, no name is cut.
    box = page.locator(".runs-box")
    before = await box.bounding_box()
    await page.locator("summary", has_text="Columns").click()
    panel = page.locator(".picker-panel")
    await expect(panel).to_be_visible()
    assert await box.bounding_box() == before
    cut = await panel.locator("label.check").evaluate_all(
        "(labels) => labels.filter((l) => l.scrollWidth > l.clientWidth + 1)"
        ".map((l) => l.textContent)"
    )
    assert cut == []
    await expect(panel.get_by_text("a_rather_long_parameter_name_for_the_label")).to_be_visible()
    # Every metric, and the tag "team", as columns.
    for name in ["system/disk_mb", "val_accuracy"]:
        await panel.locator(
            f'fieldset[data-group="Metrics"] label[data-name="{name}"] input'
        ).check()
    await panel.locator('fieldset[data-group="Tags"] label[data-name="team"] input').check()
    await page.locator("h1").click()
    await expect(panel).to_be_hidden()

    # Grouped columns, each group told apart.
    groups = table.locator("thead tr.groups th[data-group]")
    await expect(groups).to_have_text(["Params", "Metrics", "Tags"])
    assert [await g.get_attribute("colspan") for g in await groups.all()] == ["5", "7", "1"]
    await expect(table.locator("thead tr.labels th.col-params")).to_have_count(5)
    await expect(table.locator("thead tr.labels th.col-metrics")).to_have_count(7)
    lr = table.locator("thead tr.labels th.col-params", has_text="lr")
    learning = table.locator("thead tr.labels th.col-metrics", has_text="learning_rate")
    assert await _color(lr.first) != await _color(learning)
    # Several experiments: an Experiment column names each run's.
    row = table.locator(f'tr[data-run-id="{rich.runs["rich"]}"]')
    await expect(row.locator('td[data-col="Experiment"]')).to_have_text("ui-rich")

    # The page never scrolls sideways; the table does, with the name pinned.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert await box.evaluate("(b) => b.scrollWidth > b.clientWidth")
    name = row.locator("td.name")
    pinned = await name.bounding_box()
    await box.evaluate("(b) => { b.scrollLeft = 600; }")
    await expect(table.locator("thead th.col-tags")).to_have_count(2)
    assert await name.bounding_box() == pinned
    await page.screenshot(path=_shot(shots, store_uri, "runs-table.png"))
    await box.evaluate("(b) => { b.scrollLeft = 0; }")

    # A filter error clears the results shown before.
    search = page.get_by_label("Filter runs")
    await search.fill("metrics.loss >>> 1")
    await search.press("Enter")
    await expect(page.locator(".filter-error")).not_to_be_empty()
    await expect(table).to_have_count(0)
    await expect(page.locator("#no-runs")).to_be_visible()

    # Flat, a child run names its parent, linked.
    await page.goto(f"{base}/#/experiments/{rich.experiment_id}")
    await page.get_by_label("Nest child runs").uncheck()
    child = page.locator(f'#runs-table tr[data-run-id="{rich.runs["rich-child"]}"]')
    parent = child.locator('td[data-col="Parent"] a')
    await expect(parent).to_have_text("rich")
    await parent.click()
    await expect(page.locator("h1")).to_contain_text("rich")
    await page.goto(f"{base}/#/experiments/{rich.experiment_id}/runs/{rich.runs['rich-child']}")
    overview = page.locator('section[data-section="Overview"]')
    await expect(overview.get_by_role("link", name="rich", exact=True)).to_be_visible()
