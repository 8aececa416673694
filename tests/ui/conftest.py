"""A real headless Chromium (Debian's, installed by scripts/test) driven by Playwright, and
a folder for the screenshots the UI tests save."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

#: Where the screenshots go: kept after the run, as the run's artifacts.
SHOTS = (
    Path(os.environ.get("TRACKLEDGER_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
    / "ui"
)

#: Without the network flags Chromium tries to reach Google's hosts at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: For a UI test file that runs on SQLite only. The pages read the same API endpoints on
#: either backend, and the API tests run each of them on both; test_browser.py walks the UI
#: on PostgreSQL too. Each page test on both backends cost CI 80 s more on a slow machine.
ON_SQLITE_ONLY = pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture
async def page() -> AsyncIterator[Any]:
    """A page in a fresh headless Chromium; a script error on it fails the test.

    The async API: the sync one holds an event loop open for the whole session, which the
    fixtures that prepare PostgreSQL (asyncio.run) cannot share."""
    executable = _chromium()
    if executable is None:
        reason = "Chromium is not installed (scripts/test installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the UI tests")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        tab = await context.new_page()
        tab.set_default_timeout(15_000)
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield tab
        finally:
            await browser.close()
    assert not errors, f"script errors in the page: {errors}"


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
