"""``trackledger import-mlflow SOURCE``: its options, its progress line and its summary."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import TYPE_CHECKING

from trackledger.services.backends import open_backend
from trackledger.settings import Settings, artifacts_default

if TYPE_CHECKING:
    from trackledger.services.mlflow_plan import Tally

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser: argparse.ArgumentParser = sub.add_parser(
        "import-mlflow",
        help="import experiments, runs, logged models, artifacts and the model registry from "
        "MLflow (again: only what is new or changed)",
        description="Import from an MLflow tracking server (http(s)://host:port, credentials "
        "from MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN) or from the "
        "database of an MLflow SQL store (sqlite:///mlflow.db, postgresql://user@host/db; "
        "opened read-only). Ids are kept; a clash is reported, never silently renumbered.",
    )
    parser.add_argument("source", help="the MLflow server URL or database URI")
    parser.add_argument(
        "--experiment",
        action="append",
        default=[],
        help="import only this experiment (id or name; repeatable; default: all)",
    )
    parser.add_argument(
        "--artifacts",
        choices=("copy", "reference"),
        default="copy",
        help="copy artifact files into trackledger's store, or leave them where they are and "
        "reference them (default: copy)",
    )
    parser.add_argument(
        "--source-artifacts",
        default=None,
        help="for a database source: where its mlflow-artifacts: files are, the MLflow "
        "server's URL or its --artifacts-destination directory (default: 'mlartifacts' "
        "beside a SQLite file, if there is one)",
    )
    parser.add_argument(
        "--renumber",
        action="store_true",
        help="give an experiment whose id is taken here a new id (reported) instead of "
        "leaving it out",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="read and compare, but write nothing; report"
    )
    parser.add_argument(
        "--batch-runs",
        type=int,
        default=500,
        help="runs read and appended per transaction (default: 500)",
    )
    return parser


class _Progress:
    """One line with rate and ETA, redrawn in place on a terminal."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, done: int, total: int | None, points: int) -> None:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        line = f"import-mlflow: {done:,}"
        if total:
            line += f"/{total:,} runs ({100 * done / total:.0f}%)"
        else:
            line += " runs"
        line += f", {points:,} points, {done / elapsed:,.0f} runs/s"
        line += f", {points / elapsed:,.0f} points/s"
        if total and done:
            left = int(elapsed * (total - done) / done)
            line += f", ETA {left // 60}:{left % 60:02d}"
        end = "\r" if sys.stderr.isatty() and done != total else "\n"
        print(line, end=end, file=sys.stderr, flush=True)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from trackledger.services.artifact_location import artifact_store_for
    from trackledger.services.mlflow_import import ImportOptions, import_mlflow, open_source
    from trackledger.services.mlflow_source import SourceUnavailable

    if args.batch_runs < 1:
        raise ValueError("--batch-runs must be at least 1")
    options = ImportOptions(
        experiments=args.experiment,
        copy_artifacts=args.artifacts == "copy",
        dry_run=args.dry_run,
        renumber=args.renumber,
        importer=_user(),
        batch_runs=args.batch_runs,
        retention_ms=int(settings.retention_days * 86_400_000),
    )
    started = time.monotonic()
    try:
        source, warnings = await open_source(args.source, args.source_artifacts)
    except SourceUnavailable as exc:
        raise ValueError(str(exc)) from None
    for warning in warnings:
        print(f"import-mlflow: {warning}", file=sys.stderr)
    artifacts = artifact_store_for(artifacts_default(settings))
    try:
        await artifacts.start()
        backend = await open_backend(settings.backend_store_uri)
        try:
            tally = await import_mlflow(
                backend,
                source,
                options,
                artifacts=artifacts,
                now=int(time.time() * 1000),
                progress=_Progress(),
            )
        finally:
            await backend.close()
            await artifacts.close()
    except SourceUnavailable as exc:
        raise ValueError(str(exc)) from None
    finally:
        await source.close()
    _report(tally, args.dry_run, time.monotonic() - started, source.label)
    return 1 if tally.clashes else 0


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None


def _report(t: Tally, dry_run: bool, seconds: float, label: str) -> None:
    verb = "would import" if dry_run else "imported"
    note = " (dry run: nothing written)" if dry_run else ""
    print(f"{verb} from {label} in {seconds:.1f} s{note}")
    print(f"  experiments: {t.experiments_created:,} new, {t.experiments_updated:,} updated")
    print(
        f"  runs: {t.runs_created:,} new, {t.runs_updated:,} updated, "
        f"{t.runs_unchanged:,} unchanged, {t.runs_skipped:,} skipped"
    )
    print(f"  logged models: {t.models_created:,} new, {t.models_updated:,} updated")
    print(
        f"  registered models: {t.registered_models_created:,} new, "
        f"{t.registered_models_updated:,} updated"
    )
    print(
        f"  metric points: {t.points:,}; params: {t.params:,}; tags: {t.tags:,}; "
        f"datasets: {t.datasets:,}"
    )
    print(f"  artifact files: {t.files:,} ({t.bytes / 2**20:,.1f} MiB)")
    print(f"  events: {t.events:,}")
    if t.deleted_past_retention:
        print(
            f"  {t.deleted_past_retention:,} deleted runs are past the restore window and "
            "will be purged by the next gc"
        )
    for warning in t.warnings:
        print(f"import-mlflow: warning: {warning}", file=sys.stderr)
    for clash in t.clashes:
        print(f"import-mlflow: clash (not imported): {clash}", file=sys.stderr)
