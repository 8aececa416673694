"""Drive trackledger and MLflow's own server with the same load, side by side, and print a table.

    python load-tests/run.py                      # every ingest scenario on every target
    python load-tests/run.py --targets trackledger-sqlite,mlflow-sqlite --scenarios batch

Each (target, scenario) gets a freshly started server on an empty store, a warm-up, then
``--repeats`` timed rounds; the table shows the medians of the rounds. Afterwards the runner
counts the points the server holds through the API and reports any acknowledged point that
is missing. Requests go to 127.0.0.1 only, and every round is bounded in seconds and
requests. ``--scenarios search`` runs the search scenario (search.py) instead, and
``--scenarios registry`` the model registry's (registry.py).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from cpu import Snapshot, shares
from loadgen import Connection, Result, run_workers
from scenarios import SCENARIOS
from servers import AUTH_USER, TARGETS, start_target

INGEST = ("batch", "single", "mix")


@dataclass
class Row:
    scenario: str
    target: str
    requests_per_s: float
    points_per_s: float
    p50: float
    p95: float
    p99: float
    errors: int
    lost: int


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _basic(username: str, password: str) -> str:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return f"Authorization: Basic {credentials}\r\n"


#: The user an -auth target is loaded as: not an admin, with EDIT on experiment 0 (so each
#: request's permission is resolved as for anyone on a team server).
WRITER = ("writer", "writer-password-1")


async def _writer(port: int) -> None:
    """Create WRITER (as the admin) and send its credentials from now on."""
    Connection.extra_headers = _basic(*AUTH_USER)
    conn = Connection(port)
    try:
        for path, body in (
            ("/api/2.0/mlflow/users/create", {"username": WRITER[0], "password": WRITER[1]}),
            (
                "/api/3.0/mlflow/users/permissions/grant",
                {
                    "username": WRITER[0],
                    "resource_type": "experiment",
                    "resource_id": "0",
                    "permission": "EDIT",
                },
            ),
        ):
            status, answer = await conn.request("POST", path, body)
            if status != 200:
                raise RuntimeError(f"{path}: {status} {answer[:200]!r}")
    finally:
        await conn.close()
    Connection.extra_headers = _basic(*WRITER)


async def measure(target: str, scenario: str, args: argparse.Namespace) -> Row:
    Connection.extra_headers = ""
    server = await start_target(
        target, Path(args.workdir) / target / scenario, args.server_workers
    )
    try:
        if target.endswith("-auth"):
            await _writer(server.port)
        load = SCENARIOS()[scenario]
        await load.setup(server.port, args.concurrency)
        warm = await run_workers(
            server.ports,
            args.concurrency,
            load.step,
            seconds=args.warmup,
            max_requests=args.max_requests,
        )
        rounds: list[Result] = []
        pids = [s.process.pid for s in getattr(server, "servers", [server])]
        database = f"bench_{target.split('-')[0]}" if "-postgres" in target else None
        for i in range(args.repeats):
            before = Snapshot.take(pids, database)
            result = await run_workers(
                server.ports,
                args.concurrency,
                load.step,
                seconds=args.seconds,
                max_requests=args.max_requests,
            )
            used = shares(before, Snapshot.take(pids, database))
            rounds.append(result)
            _progress(
                f"  {target:22} {scenario:7} round {i + 1}/{args.repeats}: "
                f"{result.requests / result.seconds:9,.0f} req/s "
                f"{result.points / result.seconds:10,.0f} points/s "
                f"p99 {result.percentile(99):7.1f} ms, {result.errors} errors; CPU (of the "
                f"machine): servers {used['servers']:.0%}, database {used['database']:.0%}, "
                f"load generator {used['generator']:.0%}"
                + (f" (first: {result.first_errors[0][:120]})" if result.first_errors else "")
            )
        _progress(f"  {target:22} {scenario:7} counting stored points ...")
        acknowledged = warm.points + sum(r.points for r in rounds)
        stored = await load.stored_points(server.port)
    finally:
        server.stop()
    return Row(
        scenario=scenario,
        target=target,
        requests_per_s=statistics.median(r.requests / r.seconds for r in rounds),
        points_per_s=statistics.median(r.points / r.seconds for r in rounds),
        p50=statistics.median(r.percentile(50) for r in rounds),
        p95=statistics.median(r.percentile(95) for r in rounds),
        p99=statistics.median(r.percentile(99) for r in rounds),
        errors=warm.errors + sum(r.errors for r in rounds),
        lost=max(acknowledged - stored, 0),
    )


def table(rows: list[Row], args: argparse.Namespace) -> str:
    by_key = {(r.scenario, r.target): r for r in rows}
    lines = [
        f"{args.concurrency} concurrent connections, {args.repeats} rounds of {args.seconds:g} s "
        f"(medians), after {args.warmup:g} s of warm-up",
        "",
        "| scenario | target | requests/s | points/s | p50 ms | p95 ms | p99 ms | errors | lost "
        "| x MLflow |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = ""
        if r.target.endswith("-3proc"):
            baseline = by_key.get((r.scenario, r.target.removesuffix("-3proc")))
            if baseline and baseline.requests_per_s > 0:
                ratio = f"{r.requests_per_s / baseline.requests_per_s:.2f}x 1 process"
        elif r.target.endswith("-auth"):
            baseline = by_key.get((r.scenario, r.target.removesuffix("-auth")))
            if baseline and baseline.requests_per_s > 0:
                ratio = f"{r.requests_per_s / baseline.requests_per_s:.2f}x auth off"
        elif r.target.startswith("trackledger-"):
            baseline = by_key.get((r.scenario, r.target.replace("trackledger", "mlflow")))
            if baseline and baseline.requests_per_s > 0:
                ratio = f"{r.requests_per_s / baseline.requests_per_s:,.0f}x"
        lines.append(
            f"| {r.scenario} | {r.target} | {r.requests_per_s:,.0f} | {r.points_per_s:,.0f} "
            f"| {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} | {r.errors} | {r.lost} | {ratio} |"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--targets",
        help="comma-separated, from: " + ", ".join(TARGETS) + " (default: all of them; "
        "for search, the trackledger ones: loading MLflow with 100,000 runs takes hours)",
    )
    parser.add_argument(
        "--scenarios",
        default=",".join(INGEST),
        help="comma-separated, from: " + ", ".join(INGEST) + "; or one of search, registry, "
        "traces-ingest, traces-search",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=10, help="length of a timed round")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per pair")
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="upper bound on requests per round"
    )
    parser.add_argument(
        "--server-workers", type=int, default=1, help="trackledger processes (PostgreSQL only)"
    )
    parser.add_argument(
        "--workdir",
        default="/tmp/trackledger-load",
        help="where the servers keep their stores and logs",
    )
    parser.add_argument("--output", help="also write the table (markdown) to this file")
    parser.add_argument(
        "--search-runs", type=int, default=100_000, help="runs to load for the search scenario"
    )
    parser.add_argument(
        "--registry-models", type=int, default=1000, help="models for the registry scenario"
    )
    parser.add_argument(
        "--registry-versions", type=int, default=100, help="versions of each model (registry)"
    )
    parser.add_argument(
        "--trace-count", type=int, default=100_000, help="traces to load for traces-search"
    )
    parser.add_argument(
        "--spans-per-request", type=int, default=100, help="spans per OTLP request (traces-ingest)"
    )
    args = parser.parse_args(argv)
    ingest = all(s in INGEST for s in args.scenarios.split(","))
    if args.targets is None:
        search = args.scenarios in ("search", "registry", "traces-search")
        args.targets = ",".join(
            t
            for t in TARGETS
            if (not search or t.startswith("trackledger")) and (ingest or "-3proc" not in t)
        )
    for target in args.targets.split(","):
        if target not in TARGETS:
            parser.error(f"unknown target {target!r}")
        if target.endswith("-3proc") and not ingest:
            parser.error(f"{target} runs the ingest scenarios only ({', '.join(INGEST)})")
    return args


async def main_async(args: argparse.Namespace) -> str:
    scenarios = args.scenarios.split(",")
    if scenarios == ["search"]:
        from search import run_search

        return await run_search(args)
    if scenarios == ["registry"]:
        from registry import run_registry

        return await run_registry(args)
    if scenarios == ["traces-ingest"]:
        from traces import run_trace_ingest

        return await run_trace_ingest(args)
    if scenarios == ["traces-search"]:
        from traces import run_trace_search

        return await run_trace_search(args)
    rows = []
    started = time.monotonic()
    for scenario in scenarios:
        if scenario not in INGEST:
            raise SystemExit(f"run.py: error: unknown scenario {scenario!r}")
        for target in args.targets.split(","):
            _progress(f"{scenario} on {target} ({time.monotonic() - started:.0f} s so far)")
            rows.append(await measure(target, scenario, args))
    return table(rows, args)


def main() -> None:
    args = parse()
    try:
        report = asyncio.run(main_async(args))
    except (RuntimeError, OSError) as exc:
        raise SystemExit(f"run.py: error: {exc}") from None
    print(report)
    if args.output:
        Path(args.output).write_text(report + "\n")


if __name__ == "__main__":
    main()
