"""Run mypy (strict) on the packages as they install: trackledger.eventlog, .projections...

The folders at the repository root map onto the trackledger.* namespace (pyproject's
package-dir), which mypy cannot follow through an editable install. This lays the same
mapping out as a tree of symlinks in .typecheck/ and checks that tree.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / ".typecheck"


def main() -> int:
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    shutil.rmtree(TREE, ignore_errors=True)
    for package, folder in sorted(mapping.items()):
        target = TREE.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for source in (ROOT / folder).glob("*.py"):
            (target / source.name).symlink_to(source)
        if (ROOT / folder / "py.typed").exists():
            (target / "py.typed").symlink_to(ROOT / folder / "py.typed")
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        str(TREE / "trackledger"),
    ]
    return subprocess.call(command, cwd=TREE)


if __name__ == "__main__":
    sys.exit(main())
