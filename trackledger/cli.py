"""The ``trackledger`` command: server, db upgrade, rebuild, verify, gc, history, export,
import, import-mlflow.

Every option shows its default and its environment variable in ``--help``. Errors are one
line on stderr and exit status 2 (bad usage or configuration) or 1 (verify found
differences).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO

from trackledger import __version__
from trackledger.services.backends import open_backend
from trackledger.settings import SETTINGS, Settings

__all__ = ["main"]


def _add_settings(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for setting in SETTINGS:
        if setting.name not in names:
            continue
        help = f"{setting.help} (default: {setting.default!r}; env {setting.env})"
        if isinstance(setting.default, bool):
            parser.add_argument(
                setting.option,
                dest=setting.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help,
            )
        else:
            parser.add_argument(
                setting.option,
                dest=setting.name,
                type=type(setting.default),
                default=None,
                help=help,
            )


class _Progress:
    """A one-line progress report with a rate, redrawn in place on a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()

    def __call__(self, done: int, position: int) -> None:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        end = "\r" if sys.stderr.isatty() else "\n"
        print(
            f"{self.label}: {done:,} events replayed (position {position:,}), "
            f"{done / elapsed:,.0f} events/s",
            end=end,
            file=sys.stderr,
            flush=True,
        )


async def _upgrade(settings: Settings) -> int:
    from trackledger.services.migrations import LATEST

    backend = await open_backend(settings.backend_store_uri, progress=_Progress("rebuild"))
    await backend.close()
    if not backend.upgraded:
        print(f"the store is at schema version {LATEST}: nothing to apply")
        return 0
    for migration in backend.upgraded:
        how = " (projections rebuilt from the log)" if migration.rebuild else ""
        print(f"applied migration {migration.version}: {migration.summary}{how}")
    print(f"the store is at schema version {LATEST}")
    return 0


async def _rebuild(settings: Settings, chunk: int) -> int:
    backend = await open_backend(settings.backend_store_uri)
    try:
        last = await backend.rebuild(_Progress("rebuild"), chunk=chunk)
    finally:
        await backend.close()
    print(f"\nrebuilt every projection from the log up to position {last:,}")
    return 0


async def _verify(settings: Settings, chunk: int) -> int:
    backend = await open_backend(settings.backend_store_uri)
    try:
        differences = await backend.verify(_Progress("verify"), chunk=chunk)
    finally:
        await backend.close()
    if not differences:
        print("\nthe projections equal a replay of the log")
        return 0
    for table, count in sorted(differences.items()):
        print(f"{table}: {count} rows differ from a replay of the log")
    return 1


async def _gc(settings: Settings, older_than: str | None) -> int:
    from trackledger.services.artifact_location import artifact_store_for
    from trackledger.services.gc import collect, parse_duration
    from trackledger.settings import artifacts_default

    older_than_ms = (
        parse_duration(older_than) if older_than else int(settings.retention_days * 86_400_000)
    )
    backend = await open_backend(settings.backend_store_uri)
    artifacts = artifact_store_for(artifacts_default(settings))
    await artifacts.start()
    try:
        done = await collect(
            backend,
            older_than_ms,
            artifacts=artifacts,
            actor="trackledger gc",
            progress=lambda runs: print(f"gc: {runs:,} runs purged so far", file=sys.stderr),
        )
    finally:
        await artifacts.close()
        await backend.close()
    traces = f", {done.traces:,} traces" if done.traces else ""
    print(f"purged {done.runs:,} runs{traces} and {done.experiments:,} experiments")
    return 0


async def _history(settings: Settings, run_id: str) -> int:
    from datetime import UTC, datetime

    from trackledger.projections.history import summary

    backend = await open_backend(settings.backend_store_uri)
    try:
        events = await backend.store.read_stream(f"run/{run_id}", limit=10**7)
    finally:
        await backend.close()
    if not events:
        raise ValueError(f"no run {run_id!r} in {settings.backend_store_uri}")
    print(f"{'position':>9}  {'time (UTC)':19}  {'actor':12}  {'event':20}  what")
    for s in events:
        when = datetime.fromtimestamp(s.recorded_at / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"{s.position:>9}  {when:19}  {(s.actor or '-')[:12]:12}  {s.type:20}  {summary(s)}")
    return 0


async def _export(settings: Settings, path: str, experiments: list[str] | None) -> int:
    from trackledger.services.transfer import export_log

    backend = await open_backend(settings.backend_store_uri)
    try:
        with _binary(path, "wb") as out:
            count = await export_log(backend, out, experiments, progress=_count_progress("export"))
    finally:
        await backend.close()
    print(f"exported {count:,} events", file=sys.stderr)
    return 0


async def _import(settings: Settings, path: str) -> int:
    from trackledger.services.transfer import import_log

    backend = await open_backend(settings.backend_store_uri)
    try:
        with _binary(path, "rb") as src:
            count = await import_log(backend, src, progress=_count_progress("import"))
    finally:
        await backend.close()
    print(f"imported {count:,} events", file=sys.stderr)
    return 0


def _binary(path: str, mode: str) -> IO[bytes]:
    """``path``, or stdin/stdout for "-", opened in binary mode."""
    if path == "-":
        stream = sys.stdout.buffer if "w" in mode else sys.stdin.buffer
        return contextlib.nullcontext(stream)  # type: ignore[return-value]
    return open(path, mode)


def _count_progress(label: str) -> Callable[[int], None]:
    started = time.monotonic()

    def report(done: int) -> None:
        rate = done / max(time.monotonic() - started, 1e-9)
        print(f"{label}: {done:,} events, {rate:,.0f} events/s", file=sys.stderr, flush=True)

    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackledger",
        description="An event-sourced experiment tracking server for the MLflow client.",
    )
    parser.add_argument("--version", action="version", version=f"trackledger {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser(
        "server",
        help="serve the MLflow REST API and the UI (upgrades the store's schema first)",
    )
    _add_settings(server, [setting.name for setting in SETTINGS])
    db = sub.add_parser("db", help="the store's schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser(
        "upgrade", help="apply the schema migrations the store lacks and say which"
    )
    _add_settings(upgrade, ("backend_store_uri",))
    rebuild = sub.add_parser(
        "rebuild", help="rebuild every projection from the event log and swap it in"
    )
    _add_settings(rebuild, ("backend_store_uri",))
    rebuild.add_argument(
        "--chunk", type=int, default=20_000, help="events replayed per transaction (default: 20000)"
    )
    verify = sub.add_parser(
        "verify", help="replay the log and report projection rows that differ (exit 1 if any)"
    )
    _add_settings(verify, ("backend_store_uri",))
    verify.add_argument(
        "--chunk", type=int, default=20_000, help="events replayed per transaction (default: 20000)"
    )
    gc = sub.add_parser(
        "gc", help="purge runs and experiments deleted longer ago than --older-than, for good"
    )
    gc.add_argument(
        "--older-than",
        default=None,
        help="age of deletions to purge, e.g. 30d, 12h, 1d2h3m4s (default: the retention, "
        "TRACKLEDGER_RETENTION_DAYS days)",
    )
    _add_settings(gc, ("backend_store_uri", "artifacts_destination", "retention_days"))
    history = sub.add_parser("history", help="print a run's events as a table")
    history.add_argument("run_id", help="the run")
    _add_settings(history, ("backend_store_uri",))
    export = sub.add_parser(
        "export", help="write the event log (or some experiments) to a file, streamed"
    )
    export.add_argument("file", help="where to write (- for standard output)")
    export.add_argument(
        "--experiment",
        action="append",
        default=None,
        help="export only this experiment and its runs (repeatable; default: everything)",
    )
    _add_settings(export, ("backend_store_uri",))
    load = sub.add_parser("import", help="append an exported log to this store, streamed")
    load.add_argument("file", help="what to read (- for standard input)")
    _add_settings(load, ("backend_store_uri",))
    from trackledger import mlflow_cli

    _add_settings(
        mlflow_cli.add_parser(sub),
        ("backend_store_uri", "artifacts_destination", "retention_days"),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    try:
        settings = Settings.load(overrides)
        if args.command == "server":
            from trackledger.server import serve

            serve(settings)
            return 0
        if args.command == "db":
            return asyncio.run(_upgrade(settings))
        if args.command == "gc":
            return asyncio.run(_gc(settings, args.older_than))
        if args.command == "history":
            return asyncio.run(_history(settings, args.run_id))
        if args.command == "export":
            return asyncio.run(_export(settings, args.file, args.experiment))
        if args.command == "import":
            return asyncio.run(_import(settings, args.file))
        if args.command == "import-mlflow":
            from trackledger import mlflow_cli

            return asyncio.run(mlflow_cli.run(settings, args))
        if args.command == "rebuild":
            return asyncio.run(_rebuild(settings, args.chunk))
        return asyncio.run(_verify(settings, args.chunk))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, never a traceback
        print(f"trackledger {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
