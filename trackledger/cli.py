"""The ``trackledger`` command: server, rebuild, verify.

Every option shows its default and its environment variable in ``--help``. Errors are one
line on stderr and exit status 2 (bad usage or configuration) or 1 (verify found
differences).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable, Sequence

from trackledger.backends import open_backend
from trackledger.settings import SETTINGS, Settings

__all__ = ["main"]


def _add_settings(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for setting in SETTINGS:
        if setting.name not in names:
            continue
        parser.add_argument(
            setting.option,
            dest=setting.name,
            type=type(setting.default),
            default=None,
            help=f"{setting.help} (default: {setting.default!r}; env {setting.env})",
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


async def _rebuild(settings: Settings) -> int:
    backend = await open_backend(settings.backend_store_uri)
    try:
        last = await backend.rebuild(_Progress("rebuild"))
    finally:
        await backend.close()
    print(f"\nrebuilt every projection from the log up to position {last:,}")
    return 0


async def _verify(settings: Settings) -> int:
    backend = await open_backend(settings.backend_store_uri)
    try:
        differences = await backend.verify(_Progress("verify"))
    finally:
        await backend.close()
    if not differences:
        print("\nthe projections equal a replay of the log")
        return 0
    for table, count in sorted(differences.items()):
        print(f"{table}: {count} rows differ from a replay of the log")
    return 1


async def _gc(settings: Settings, older_than: str | None) -> int:
    from trackledger.gc import collect, parse_duration

    older_than_ms = (
        parse_duration(older_than) if older_than else int(settings.retention_days * 86_400_000)
    )
    backend = await open_backend(settings.backend_store_uri)
    try:
        done = await collect(
            backend,
            older_than_ms,
            actor="trackledger gc",
            progress=lambda runs: print(f"gc: {runs:,} runs purged so far", file=sys.stderr),
        )
    finally:
        await backend.close()
    print(f"purged {done.runs:,} runs and {done.experiments:,} experiments")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trackledger",
        description="An event-sourced experiment tracking server for the MLflow client.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser("server", help="serve the MLflow REST API and the UI")
    _add_settings(server, [setting.name for setting in SETTINGS])
    rebuild = sub.add_parser(
        "rebuild", help="rebuild every projection from the event log and swap it in"
    )
    _add_settings(rebuild, ("backend_store_uri",))
    verify = sub.add_parser(
        "verify", help="replay the log and report projection rows that differ (exit 1 if any)"
    )
    _add_settings(verify, ("backend_store_uri",))
    gc = sub.add_parser(
        "gc",
        help="purge runs and experiments deleted longer ago than --older-than, for good",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    gc.add_argument(
        "--older-than",
        default=None,
        help="age of deletions to purge, e.g. 30d, 12h, 1d2h3m4s (default: the retention, "
        "TRACKLEDGER_RETENTION_DAYS days)",
    )
    _add_settings(gc, ("backend_store_uri", "retention_days"))
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
        if args.command == "gc":
            return asyncio.run(_gc(settings, args.older_than))
        runner: Callable[[Settings], object] = {"rebuild": _rebuild, "verify": _verify}[
            args.command
        ]
        return int(asyncio.run(runner(settings)))  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, never a traceback
        print(f"trackledger {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
