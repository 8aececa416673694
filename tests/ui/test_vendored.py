"""The vendored uPlot is the release its notes name: each file's sha256 matches the one
recorded in VENDORED.md, the license sits beside it, and the package ships them."""

from __future__ import annotations

import hashlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
VENDOR = ROOT / "api" / "static" / "vendor" / "uplot"


def test_vendored_uplot_matches_its_recorded_hashes() -> None:
    notes = (VENDOR / "VENDORED.md").read_text()
    recorded = dict(re.findall(r"`(?:dist/)?([\w.]+)` sha256 `([0-9a-f]{64})`", notes))
    assert set(recorded) == {"uPlot.esm.js", "uPlot.min.css", "LICENSE"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    assert "(v1.6.32)" in (VENDOR / "uPlot.esm.js").read_text()[:400]
    assert "MIT" in notes and "Leon Sorokin" in (VENDOR / "LICENSE").read_text()


def test_the_package_ships_the_vendored_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    data = config["tool"]["setuptools"]["package-data"]["trackledger.api"]
    assert "static/vendor/uplot/*" in data
