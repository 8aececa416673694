"""Paging through every run of a search, as ``mlflow.search_runs`` does (pages of 10,000)
or a UI does (pages of 100), following each page's token, on the stores a querymix run
left in its workdir (``querymix.py --workdir W``, same ``--runs``).

    python load-tests/paging.py --workdir W                     # trackledger, both backends
    python load-tests/paging.py --workdir W --targets trackledger-sqlite,mlflow-sqlite

For each target and order it reports the pages, the whole walk's seconds, and the median
and slowest page (the deepest pages are the slow ones where a page is read at an offset).
MLflow is served from the querymix's source database (``W/source/mlflow.db``) as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import orjson
from loadgen import Connection
from queryload import EXPERIMENT
from servers import start

API = "/api/2.0/mlflow"
ORDERS = {
    "newest first": [],
    "metric": ["metrics.val_loss ASC"],
    "metric, descending": ["metrics.acc DESC"],
    "a metric's maximum": ["MAX(metrics.acc) DESC"],
    "param": ["params.lr ASC"],
}


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def walk(port: int, experiment_id: str, order_by: list[str], size: int) -> list[float]:
    """Every page's milliseconds, first to last."""
    conn = Connection(port)
    body: dict[str, object] = {
        "experiment_ids": [experiment_id],
        "order_by": order_by,
        "max_results": size,
    }
    times: list[float] = []
    started = time.perf_counter()
    try:
        while True:
            began = time.perf_counter()
            status, data = await conn.request("POST", f"{API}/runs/search", body)
            times.append((time.perf_counter() - began) * 1000)
            if status != 200:
                raise RuntimeError(f"{status}: {data[:300]!r}")
            token = orjson.loads(data).get("next_page_token")
            if not token:
                return times
            body["page_token"] = token
            if len(times) % 20 == 0:
                rate = len(times) * size / (time.perf_counter() - started)
                _progress(f"  {len(times)} pages, {rate:,.0f} runs/s")
    finally:
        await conn.close()


async def _experiment(port: int) -> str:
    conn = Connection(port)
    try:
        status, data = await conn.request(
            "GET", f"{API}/experiments/get-by-name?experiment_name={EXPERIMENT}"
        )
    finally:
        await conn.close()
    if status != 200:
        raise RuntimeError(f"experiment {EXPERIMENT!r} not found: {data[:200]!r}")
    experiment_id: str = orjson.loads(data)["experiment"]["experiment_id"]
    return experiment_id


async def main_async(args: argparse.Namespace) -> str:
    workdir = Path(args.workdir)
    lines = [
        f"paging: every run of `{EXPERIMENT}` in {workdir}, pages of {args.page_size:,}",
        "",
        "| target | order | pages | total s | median page ms | slowest page ms |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for target in args.targets.split(","):
        store = None
        if target == "mlflow-sqlite":
            store = f"sqlite:///{workdir / 'source' / 'mlflow.db'}"
        server = await start(target, workdir / target / "querymix", store=store, reuse=True)
        try:
            experiment_id = await _experiment(server.port)
            for name, order_by in ORDERS.items():
                _progress(f"{target}: {name} ...")
                times = await walk(server.port, experiment_id, order_by, args.page_size)
                lines.append(
                    f"| {target} | {name} | {len(times)} | {sum(times) / 1000:.1f} "
                    f"| {statistics.median(times):.1f} | {max(times):.1f} |"
                )
                _progress(lines[-1])
        finally:
            server.stop()
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", required=True, help="a querymix run's --workdir")
    parser.add_argument(
        "--targets",
        default="trackledger-sqlite,trackledger-postgres",
        help="comma-separated, from: trackledger-sqlite, trackledger-postgres, mlflow-sqlite",
    )
    parser.add_argument("--page-size", type=int, default=1000, help="max_results of each page")
    parser.add_argument("--output", help="also write the report (markdown) to this file")
    return parser.parse_args(argv)


def main() -> None:
    args = parse()
    report = asyncio.run(main_async(args))
    print(report)
    if args.output:
        Path(args.output).write_text(report)


if __name__ == "__main__":
    main()
