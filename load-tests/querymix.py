"""The query-mix scenario: load a data set of N runs, then time 1,000 generated searches of
every shape the filter language allows, side by side on each target.

    python load-tests/querymix.py                        # 100,000 runs, 1,000 queries
    python load-tests/querymix.py --runs 10000 --queries 300 --targets trackledger-sqlite
    python load-tests/querymix.py --runs 1000000 --load import

Loading (``--load``):

- ``import`` (default): the runs are written once into an MLflow SQLite database (schema by
  MLflow's own store, rows by SQL), which ``trackledger import-mlflow`` brings into each
  trackledger store as events, and which the MLflow target serves as it is. Every target
  holds the same runs under the same run ids. The fastest way to 1,000,000 runs.
- ``events``: every run written through trackledger's event log in-process (the commands
  the API's requests become), 32 writers at once; trackledger targets only.
- ``api``: every run through the REST API (create, log-batch, update), on any target.

Each query asks for one page (``--page-size``, 100) in the run view it was generated with;
queries MLflow's server refuses are not sent to MLflow targets. The report gives p50, p95 and
p99 per target (over all queries, and over those MLflow accepts), the median per shape, and
the slowest shapes; ``--raw`` keeps every query's timing as JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from loadgen import Connection
from querydata import Dataset
from querygen import Query, generate
from queryload import EXPERIMENT, import_mlflow_db, load_api, load_events, make_mlflow_db
from servers import OTHER_TARGETS, TARGETS, start

API = "/api/2.0/mlflow"
TARGET_CHOICES = [t for t in TARGETS if not t.endswith("-auth")] + list(OTHER_TARGETS)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Timed:
    index: int
    shape: str
    mlflow: bool
    ms: float
    status: int  # HTTP status; 0 for a timeout, -1 for not sent, -2 for a lost connection
    runs: int = 0
    more: bool = False
    names: list[str] = field(default_factory=list)


@dataclass
class TargetResult:
    target: str
    load_seconds: float
    timed: list[Timed]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- loading ---------------------------------------------------------------------------------


def _source(args: argparse.Namespace, ds: Dataset) -> Path:
    """The MLflow database the import loads from: made once, reused while its shape holds."""
    source = Path(args.workdir) / "source" / "mlflow.db"
    shape = json.dumps([ds.runs, ds.steps, ds.seed])
    marker = source.with_suffix(".shape")
    if not source.exists() or not marker.exists() or marker.read_text() != shape:
        source.parent.mkdir(parents=True, exist_ok=True)
        _progress(f"making the MLflow database {source} ({ds.describe()}) ...")
        started = time.perf_counter()
        make_mlflow_db(str(source), ds)
        marker.write_text(shape)
        _progress(f"  made in {time.perf_counter() - started:.0f} s")
    return source


async def _load(
    target: str, args: argparse.Namespace, ds: Dataset, refs: set[int]
) -> tuple[object, str, dict[int, str], float]:
    """Start ``target`` with the data set loaded; (server, experiment id, run ids, seconds)."""
    run_ids: dict[int, str] = {i: uuid.UUID(int=i + 1).hex for i in refs}
    started = time.perf_counter()

    async def prepare(store: str, workdir: Path) -> None:
        nonlocal run_ids
        if target.startswith("fasttrackml"):
            return  # loaded through the API once it runs
        if args.load == "import" and target.startswith("mlflow"):
            if not store.startswith("sqlite:///"):
                raise RuntimeError("--load import serves MLflow from SQLite only (mlflow-sqlite)")
            shutil.copy(_source(args, ds), store.removeprefix("sqlite:///"))
        elif args.load == "import":
            source = _source(args, ds)
            _progress(f"{target}: importing {ds.runs:,} runs ...")
            import_mlflow_db(str(source), store, str(workdir))
        elif args.load == "events":
            if not target.startswith("trackledger"):
                raise RuntimeError("--load events writes trackledger's log: trackledger only")
            _progress(f"{target}: writing {ds.runs:,} runs through the event log ...")
            _, run_ids = await load_events(store, ds, refs)

    if args.reuse and (args.load != "import" or target.startswith("fasttrackml")):
        # Only an import gives runs known ids; the others' ids are not kept.
        raise RuntimeError("--reuse needs --load import and no fasttrackml target")
    server = await start(
        target, Path(args.workdir) / target / "querymix", 1, prepare=prepare, reuse=args.reuse
    )
    try:
        if not args.reuse and (args.load == "api" or target.startswith("fasttrackml")):
            _progress(f"{target}: loading {ds.runs:,} runs through the API ...")
            workers = 4 if target.startswith("mlflow") else 32
            _, run_ids = await load_api(server.port, ds, refs, workers)
        seconds = time.perf_counter() - started
        conn = Connection(server.port)
        status, body = await conn.request(
            "GET", f"{API}/experiments/get-by-name?experiment_name={EXPERIMENT}"
        )
        await conn.close()
        if status != 200:
            raise RuntimeError(f"{target}: experiment {EXPERIMENT!r} not found: {body[:200]!r}")
        experiment_id = orjson.loads(body)["experiment"]["experiment_id"]
    except BaseException:
        server.stop()  # type: ignore[attr-defined]
        raise
    _progress(f"{target}: loaded in {seconds:.0f} s ({args.load})")
    return server, experiment_id, run_ids, seconds


# -- timing ----------------------------------------------------------------------------------


async def _search(
    conn: Connection, body: dict[str, object], timeout: float
) -> tuple[Connection, int, bytes, float]:
    for attempt in (1, 2):
        started = time.perf_counter()
        try:
            status, data = await asyncio.wait_for(
                conn.request("POST", f"{API}/runs/search", body), timeout
            )
        except TimeoutError:
            await conn.close()  # the answer may still come: never read it on this connection
            return Connection(conn.port), 0, b"", timeout * 1000
        except (ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
            # A server may close a keep-alive connection (MLflow restarts its workers):
            # once more on a new one.
            await conn.close()
            conn = Connection(conn.port)
            if attempt == 2:
                return conn, -2, repr(exc).encode(), float("nan")
            continue
        return conn, status, data, (time.perf_counter() - started) * 1000
    raise AssertionError("unreachable")


async def time_queries(
    port: int,
    experiment_id: str,
    queries: list[Query],
    run_ids: dict[int, str],
    args: argparse.Namespace,
    mlflow_target: bool,
) -> list[Timed]:
    conn = Connection(port)
    timed: list[Timed] = []
    bodies = []
    for q in queries:
        bodies.append(
            {
                "experiment_ids": [experiment_id],
                "filter": q.resolve(run_ids.__getitem__),
                "max_results": args.page_size,
                "order_by": list(q.order_by),
                "run_view_type": q.view,
            }
        )
    sendable = [i for i, q in enumerate(queries) if q.mlflow or not mlflow_target]
    for i in sendable[: args.warmup]:  # warm-up: the first few, not timed
        conn, *_ = await _search(conn, bodies[i], args.timeout)
    allowed = set(sendable)
    for i, q in enumerate(queries):
        if i not in allowed:
            timed.append(Timed(i, q.shape, q.mlflow, float("nan"), -1))
            continue
        conn, status, data, ms = await _search(conn, bodies[i], args.timeout)
        entry = Timed(i, q.shape, q.mlflow, ms, status)
        if status == 200:
            answer = orjson.loads(data)
            entry.names = [r["info"]["run_name"] for r in answer.get("runs", [])]
            entry.runs = len(entry.names)
            entry.more = "next_page_token" in answer
        timed.append(entry)
        if (i + 1) % 100 == 0:
            done = [t.ms for t in timed if t.status > 0]
            _progress(f"  {i + 1} queries, p50 {percentile(done, 50):.1f} ms")
    await conn.close()
    return timed


# -- the report ------------------------------------------------------------------------------


def _fmt(ms: float) -> str:
    return "n/a" if ms != ms else f"{ms:,.1f}"


def _summary_rows(results: list[TargetResult]) -> list[str]:
    lines = [
        "| target | load | queries | not 200 | timeouts | p50 ms | p95 ms | p99 ms | max ms "
        "| MLflow's subset: p50 | p95 | p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        sent = [t for t in r.timed if t.status != -1]
        # A timeout counts at the timeout: a lower bound of its time.
        ok = [t.ms for t in sent if t.status in (200, 0)]
        subset = [t.ms for t in sent if t.status in (200, 0) and t.mlflow]
        bad = sum(1 for t in sent if t.status not in (200, 0))  # incl. lost connections
        timeouts = sum(1 for t in sent if t.status == 0)
        lines.append(
            f"| {r.target} | {r.load_seconds:,.0f} s | {len(sent)} | {bad} | {timeouts} "
            f"| {_fmt(percentile(ok, 50))} | {_fmt(percentile(ok, 95))} "
            f"| {_fmt(percentile(ok, 99))} | {_fmt(max(ok, default=float('nan')))} "
            f"| {_fmt(percentile(subset, 50))} | {_fmt(percentile(subset, 95))} "
            f"| {_fmt(percentile(subset, 99))} |"
        )
    return lines


def shape_medians(result: TargetResult) -> dict[str, tuple[float, int]]:
    by_shape: dict[str, list[float]] = {}
    for t in result.timed:
        if t.status in (200, 0):
            by_shape.setdefault(t.shape, []).append(t.ms)
    return {s: (statistics.median(v), len(v)) for s, v in by_shape.items()}


def slowest_shapes(results: list[TargetResult], count: int) -> list[str]:
    medians = {r.target: shape_medians(r) for r in results}
    ours = [r.target for r in results if r.target.startswith("trackledger")] or [results[0].target]
    shapes = {s for t in ours for s in medians[t]}

    def worst(shape: str) -> float:
        return max(medians[t].get(shape, (0.0, 0))[0] for t in ours)

    ranked = sorted(shapes, key=worst, reverse=True)[:count]
    head = " | ".join(f"{r.target} median ms" for r in results)
    lines = [f"| shape | n | {head} |", "|---|---:|" + "---:|" * len(results)]
    for shape in ranked:
        n = max(medians[t].get(shape, (0, 0))[1] for t in ours)
        cells = " | ".join(
            _fmt(medians[r.target][shape][0]) if shape in medians[r.target] else "n/a"
            for r in results
        )
        lines.append(f"| `{shape}` | {n} | {cells} |")
    return lines


def components(shape: str) -> set[str]:
    """The parts a shape is made of: each comparison, OR and NOT, and each order key."""
    where, _, order = shape.partition(" ORDER BY ")
    where = where.replace("(metric)", "{metric}")
    split = re.split(r"\(|\)| AND | OR |\bNOT (?!IN|LIKE)", where)
    parts = {p.strip().replace("{metric}", "(metric)") for p in split}
    parts.discard("")
    parts.discard("-")
    if " OR " in where:
        parts.add("OR")
    if re.search(r"(^|[ (])NOT (?!IN|LIKE)", where):
        parts.add("NOT")
    parts |= {f"ORDER BY {key}" for key in order.split(", ") if key}
    return parts


def slowest_components(results: list[TargetResult], count: int) -> list[str]:
    """The median of the queries holding each part: many queries share a part, so these
    medians rest on more queries than a shape's."""
    ours = [r for r in results if r.target.startswith("trackledger")] or results[:1]
    medians: dict[str, dict[str, tuple[float, int]]] = {}
    for r in results:
        holding: dict[str, list[float]] = {}
        for t in r.timed:
            if t.status in (200, 0):
                for part in components(t.shape):
                    holding.setdefault(part, []).append(t.ms)
        medians[r.target] = {p: (statistics.median(v), len(v)) for p, v in holding.items()}
    parts = {p for r in ours for p in medians[r.target]}

    def worst(part: str) -> float:
        return max(medians[r.target].get(part, (0.0, 0))[0] for r in ours)

    head = " | ".join(f"{r.target} median ms" for r in results)
    lines = [f"| part | n | {head} |", "|---|---:|" + "---:|" * len(results)]
    for part in sorted(parts, key=worst, reverse=True)[:count]:
        n = max(medians[r.target].get(part, (0, 0))[1] for r in ours)
        cells = " | ".join(
            _fmt(medians[r.target][part][0]) if part in medians[r.target] else "n/a"
            for r in results
        )
        lines.append(f"| `{part}` | {n} | {cells} |")
    return lines


def disagreements(results: list[TargetResult], queries: list[Query]) -> list[str]:
    """First pages that differ between targets (runs are matched by their unique names)."""
    if len(results) < 2:
        return []
    base = results[0]
    lines = []
    for other in results[1:]:
        differ = [
            i
            for i, (a, b) in enumerate(zip(base.timed, other.timed, strict=True))
            if a.status == 200 and b.status == 200 and a.names != b.names
        ]
        if differ:
            lines.append(
                f"- {other.target} answers {len(differ)} queries differently from "
                f"{base.target} (first page), e.g. #{differ[0]}: `{queries[differ[0]].filter}` "
                f"order by {list(queries[differ[0]].order_by)}"
            )
    return lines


def report(
    results: list[TargetResult], queries: list[Query], ds: Dataset, args: argparse.Namespace
) -> str:
    accepted = sum(q.mlflow for q in queries)
    lines = [
        f"querymix: {ds.describe()}, loaded by `--load {args.load}`; {len(queries)} generated "
        f"queries (seed {args.seed}; {accepted} of them in MLflow's subset), one page of "
        f"{args.page_size} each, one after the other, after {args.warmup} untimed; "
        f"timeout {args.timeout:g} s. {len({q.shape for q in queries})} shapes.",
        "",
        *_summary_rows(results),
        "",
        f"The {args.slowest} slowest shapes (by the slowest trackledger median; n = queries "
        "of that shape):",
        "",
        *slowest_shapes(results, args.slowest),
        "",
        f"The {args.slowest} slowest parts (median of the queries that hold the part):",
        "",
        *slowest_components(results, args.slowest),
    ]
    extra = disagreements(results, queries)
    if extra:
        lines += ["", *extra]
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> str:
    ds = Dataset(args.runs, steps=args.steps)
    _progress(f"generating {args.queries} queries over {ds.describe()} ...")
    queries = generate(ds, args.queries, seed=args.seed)
    refs = {i for q in queries for i in q.run_refs}
    results: list[TargetResult] = []
    raw = Path(args.raw) if args.raw else None
    for target in args.targets.split(","):
        server, experiment_id, run_ids, seconds = await _load(target, args, ds, refs)
        try:
            _progress(f"{target}: timing {len(queries)} queries ...")
            timed = await time_queries(
                server.port,  # type: ignore[attr-defined]
                experiment_id,
                queries,
                run_ids,
                args,
                not target.startswith("trackledger"),
            )
        finally:
            server.stop()  # type: ignore[attr-defined]
        results.append(TargetResult(target, seconds, timed))
        if raw is not None:
            with raw.open("a") as out:
                for t in timed:
                    q = queries[t.index]
                    row = {"target": target, **asdict(t), "filter": q.filter}
                    row |= {"order_by": q.order_by, "view": q.view, "aim": q.target}
                    row["estimate"] = q.estimate
                    out.write(json.dumps(row) + "\n")
        _progress(report(results, queries, ds, args))
    return report(results, queries, ds, args)


def from_raw(args: argparse.Namespace) -> str:
    """The report of a run saved with ``--raw`` (the same --runs, --queries and --seed)."""
    ds = Dataset(args.runs, steps=args.steps)
    queries = generate(ds, args.queries, seed=args.seed)
    loads = dict(item.split("=", 1) for item in args.load_seconds.split(",") if item)
    by_target: dict[str, list[Timed]] = {}
    for line in Path(args.from_raw).read_text().splitlines():
        row = json.loads(line)
        fields = {k: row[k] for k in ("index", "shape", "mlflow", "ms", "status", "runs", "more")}
        by_target.setdefault(row["target"], []).append(Timed(**fields, names=row["names"]))
    results = [
        TargetResult(t, float(loads.get(t, "nan")), timed) for t, timed in by_target.items()
    ]
    return report(results, queries, ds, args)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the data set")
    parser.add_argument("--steps", type=int, default=3, help="points per metric history")
    parser.add_argument("--queries", type=int, default=1000, help="queries to generate and time")
    parser.add_argument("--seed", type=int, default=1, help="the generator's seed")
    parser.add_argument(
        "--targets",
        default="trackledger-sqlite,trackledger-postgres,mlflow-sqlite",
        help="comma-separated, from: " + ", ".join(TARGET_CHOICES),
    )
    parser.add_argument(
        "--load", choices=["import", "events", "api"], default="import", help="how runs get in"
    )
    parser.add_argument("--page-size", type=int, default=100, help="max_results of each search")
    parser.add_argument("--warmup", type=int, default=20, help="untimed queries first")
    parser.add_argument("--timeout", type=float, default=60, help="seconds one search may take")
    parser.add_argument("--slowest", type=int, default=15, help="slowest shapes to list")
    parser.add_argument("--workdir", default="/tmp/trackledger-load/querymix")
    parser.add_argument("--output", help="also write the report (markdown) to this file")
    parser.add_argument("--raw", help="append every query's timing to this file (JSON lines)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the stores the last run left in --workdir (same --runs; --load import) "
        "instead of loading anew",
    )
    parser.add_argument(
        "--from-raw", help="print the report of a run saved with --raw (same --runs, --seed)"
    )
    parser.add_argument(
        "--load-seconds", default="", help="with --from-raw: target=seconds,... to show"
    )
    args = parser.parse_args(argv)
    for target in args.targets.split(","):
        if target not in TARGET_CHOICES:
            parser.error(f"unknown target {target!r}")
    return args


def main() -> None:
    args = parse()
    try:
        text = from_raw(args) if args.from_raw else asyncio.run(main_async(args))
    except (RuntimeError, OSError) as exc:
        raise SystemExit(f"querymix.py: error: {exc}") from None
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
