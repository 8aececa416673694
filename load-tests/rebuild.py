"""Time a full rebuild of the projections from the log.

    python load-tests/rebuild.py                          # 10,000,000 points on SQLite
    python load-tests/rebuild.py --points 2000000 --store postgresql://postgres@127.0.0.1/x
    python load-tests/rebuild.py --points 50000 --runs 10 --steps-per-event 1   # small batches

Loads the store through the event log (commands of 10 metrics x ``--steps-per-event``
steps: 1,000 points by default; one step each is a training loop's log_metrics calls, which
update the same series event after event), then runs ``rebuild`` ``--repeats`` times and
reports the median points per second.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

from trackledger.eventlog import commands as c
from trackledger.services.backends import open_backend

METRICS = 10


async def load(uri: str, points: int, runs: int, steps: int) -> None:
    backend = await open_backend(uri)
    try:
        run_ids = []
        for _ in range(runs):
            created = await backend.store.execute(c.CreateRun(experiment_id="0"))
            run_ids.append(created.event.run_id)  # type: ignore[union-attr]
        per_event = METRICS * steps
        events = points // per_event
        started = time.perf_counter()

        async def worker(index: int) -> None:
            run_id = run_ids[index]
            for batch in range(index, events, runs):
                step0 = (batch // runs) * steps
                metrics = [
                    c.MetricIn(
                        f"metric_{k}", (step0 + s) * 0.001, 1_700_000_000_000 + step0 + s, step0 + s
                    )
                    for k in range(METRICS)
                    for s in range(steps)
                ]
                await backend.store.execute(c.LogBatch(run_id=run_id, metrics=metrics))
                if index == 0 and batch % (runs * 50) == 0:
                    done = (batch + 1) * per_event
                    rate = done / (time.perf_counter() - started)
                    print(
                        f"  loaded {done:,} of {points:,} points ({rate:,.0f}/s)",
                        file=sys.stderr,
                        flush=True,
                    )

        await asyncio.gather(*(worker(i) for i in range(runs)))
    finally:
        await backend.close()


async def rebuild_once(uri: str) -> float:
    backend = await open_backend(uri)
    try:
        started = time.perf_counter()
        await backend.rebuild()
        return time.perf_counter() - started
    finally:
        await backend.close()


async def main_async(args: argparse.Namespace) -> None:
    uri = args.store or f"sqlite:///{Path(args.workdir) / 'rebuild.db'}"
    if not args.store:
        for suffix in ("", "-wal", "-shm"):
            Path(args.workdir, f"rebuild.db{suffix}").unlink(missing_ok=True)
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    print(f"loading {args.points:,} points into {uri} ...", file=sys.stderr, flush=True)
    await load(uri, args.points, args.runs, args.steps_per_event)
    seconds = []
    for i in range(args.repeats):
        seconds.append(await rebuild_once(uri))
        print(
            f"  rebuild {i + 1}/{args.repeats}: {seconds[-1]:.1f} s, "
            f"{args.points / seconds[-1]:,.0f} points/s",
            file=sys.stderr,
            flush=True,
        )
    median = statistics.median(seconds)
    print(
        f"| rebuild | {uri.split(':')[0]} | {args.points:,} points "
        f"({args.points // (METRICS * args.steps_per_event):,} events) | {median:.1f} s "
        f"| {args.points / median:,.0f} points/s |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=10_000_000, help="metric points to load")
    parser.add_argument("--runs", type=int, default=100, help="runs the points spread over")
    parser.add_argument("--repeats", type=int, default=3, help="rebuilds to time")
    parser.add_argument(
        "--steps-per-event",
        type=int,
        default=100,
        help="steps of each of the 10 metrics per logged batch (points per event / 10)",
    )
    parser.add_argument("--store", help="backend store URI (default: a new SQLite file)")
    parser.add_argument(
        "--workdir", default="/tmp/trackledger-load/rebuild", help="where the SQLite file goes"
    )
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
