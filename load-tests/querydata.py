"""The data set the query workload searches: runs whose every value is a pure function of
the run's index, so a generator can aim its filters at given selectivities without reading
the server, and any number of runs (a few hundred to millions) can be made the same way.

Standard library only: the load tests and the differential tests both import it.

Each run ``i`` (0 <= i < runs) has:

- ``run_name`` ``run-0000042`` (unique), ``start_time`` ``T0 + i * 1000`` (unique, so no order
  ever falls back to run ids, which differ between servers), a ``user_id`` of eight with a
  skewed distribution, a status (80% FINISHED, 10% FAILED, 5% RUNNING, 5% KILLED) and an
  ``end_time`` unless RUNNING;
- params: ``model`` (5 values), ``optimizer`` (adam 70%), ``lr`` (numeric-looking strings,
  ``1e-3`` beside ``0.001``), ``batch_size`` (numbers whose string order differs from their
  numeric order), ``layers`` (1-24), ``seed`` (``str(i)``: one run per value), ``dataset``,
  and in some runs only ``dropout`` (50%) and ``note`` (20%);
- tags: ``team`` (4 values), ``priority`` (``0``-``4``, skewed), ``git_sha`` (one value per
  50 runs), and ``stage`` in 30% of runs;
- metrics with ``steps`` points each: ``loss`` (decreasing: its latest is its minimum),
  ``acc`` (90% of runs; rising; NaN as the latest value in 1%), ``val_loss`` (60%; random
  per step, logged newest step first), ``throughput`` (+inf in 1 run of 97) and
  ``epoch_time``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["T0", "Dataset", "RunData"]

T0 = 1_700_000_000_000
_MASK = (1 << 64) - 1

USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
MODELS = ["cnn", "rnn", "mlp", "transformer", "gbm"]
OPTIMIZERS = [("adam", 0.7), ("sgd", 0.2), ("rmsprop", 0.1)]
RATES = ["0.0001", "0.0003", "0.001", "0.003", "0.01", "0.03", "0.1", "0.3", "1e-3", "3e-4"]
BATCH_SIZES = ["16", "32", "64", "128", "256", "512"]
DATASETS = ["cifar10", "cifar100", "imagenet-1k", "imagenet-21k", "mnist", "coco-2017"]
TEAMS = ["vision", "nlp", "speech", "tabular"]
PRIORITIES = [("0", 0.4), ("1", 0.3), ("2", 0.15), ("3", 0.1), ("4", 0.05)]
STATUSES = [("FINISHED", 0.8), ("FAILED", 0.1), ("RUNNING", 0.05), ("KILLED", 0.05)]

PARAM_KEYS = [
    "model",
    "optimizer",
    "lr",
    "batch_size",
    "layers",
    "seed",
    "dataset",
    "dropout",
    "note",
]
TAG_KEYS = ["team", "priority", "git_sha", "stage"]
METRIC_KEYS = ["loss", "acc", "val_loss", "throughput", "epoch_time"]


def mix(*parts: int) -> int:
    """A 64-bit hash of the integers (splitmix64 steps): independent-looking bits."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _MASK
        x ^= x >> 31
    return x


def unit(*parts: int) -> float:
    """A number in [0, 1) from the integers."""
    return (mix(*parts) >> 11) / float(1 << 53)


def _weighted(u: float, choices: list[tuple[str, float]]) -> str:
    for value, weight in choices:
        if u < weight:
            return value
        u -= weight
    return choices[-1][0]


@dataclass
class RunData:
    index: int
    name: str
    start_time: int
    end_time: int | None
    status: str
    user_id: str
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: key -> points (value, timestamp, step) in the order they are logged.
    metrics: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)
    deleted: bool = False
    #: (aggregate, key) -> value, computed once.
    _summary: dict[tuple[str, str], float | None] = field(default_factory=dict, repr=False)

    def latest(self, key: str) -> float | None:
        """The latest value: the point with the largest (step, timestamp, value)."""
        if ("latest", key) in self._summary:
            return self._summary[("latest", key)]
        points = self.metrics.get(key)
        value = (
            max(points, key=lambda p: (p[2], p[1], -math.inf if math.isnan(p[0]) else p[0]))[0]
            if points
            else None
        )
        self._summary[("latest", key)] = value
        return value

    def extreme(self, key: str, largest: bool) -> float | None:
        """MIN()/MAX() over the history's non-NaN values (None if none)."""
        cached = ("max" if largest else "min", key)
        if cached in self._summary:
            return self._summary[cached]
        values = [p[0] for p in self.metrics.get(key, []) if not math.isnan(p[0])]
        value = (max(values) if largest else min(values)) if values else None
        self._summary[cached] = value
        return value


class Dataset:
    """``runs`` runs, ``steps`` points per metric; ``seed`` varies every value."""

    def __init__(self, runs: int, steps: int = 3, seed: int = 0, deleted_every: int = 0) -> None:
        if runs < 1 or steps < 1:
            raise ValueError("runs and steps must be at least 1")
        self.runs = runs
        self.steps = steps
        self.seed = seed
        #: Every so many runs is deleted (0: none), for tests of the view types.
        self.deleted_every = deleted_every

    def describe(self) -> str:
        return (
            f"{self.runs:,} runs x {len(PARAM_KEYS)} params x {len(TAG_KEYS)} tags x "
            f"{len(METRIC_KEYS)} metrics ({self.steps} steps each)"
        )

    def u(self, i: int, salt: int) -> float:
        return unit(self.seed, i, salt)

    def name(self, i: int) -> str:
        return f"run-{i:07d}"

    def start_time(self, i: int) -> int:
        return T0 + i * 1000

    def run(self, i: int) -> RunData:
        u = self.u
        status = _weighted(u(i, 1), STATUSES)
        start = self.start_time(i)
        run = RunData(
            index=i,
            name=self.name(i),
            start_time=start,
            end_time=None if status == "RUNNING" else start + 60_000 + int(u(i, 2) * 3_600_000),
            status=status,
            user_id=USERS[int(len(USERS) * u(i, 3) ** 2)],
            deleted=bool(self.deleted_every) and i % self.deleted_every == self.deleted_every - 1,
        )
        run.params = self._params(i)
        run.tags = {
            "team": TEAMS[int(len(TEAMS) * u(i, 20))],
            "priority": _weighted(u(i, 21), PRIORITIES),
            "git_sha": f"{mix(self.seed, i // 50, 22):016x}"[:10],
        }
        if u(i, 23) < 0.3:
            run.tags["stage"] = "dev" if u(i, 24) < 2 / 3 else "prod"
        run.metrics = self._metrics(i, start)
        return run

    def _params(self, i: int) -> dict[str, str]:
        u = self.u
        params = {
            "model": MODELS[int(len(MODELS) * u(i, 10))],
            "optimizer": _weighted(u(i, 11), OPTIMIZERS),
            "lr": RATES[int(len(RATES) * u(i, 12))],
            "batch_size": BATCH_SIZES[int(len(BATCH_SIZES) * u(i, 13))],
            "layers": str(1 + int(24 * u(i, 14))),
            "seed": str(i),
            "dataset": DATASETS[int(len(DATASETS) * u(i, 15))],
        }
        if u(i, 16) < 0.5:
            params["dropout"] = f"{u(i, 17) * 0.5:.2f}"
        if u(i, 18) < 0.2:
            params["note"] = f"ablation {int(u(i, 19) * 1000)}"
        return params

    def _metrics(self, i: int, start: int) -> dict[str, list[tuple[float, int, int]]]:
        u, steps = self.u, self.steps
        last = steps - 1
        base = round(u(i, 30) * 2, 6)
        loss = [(round(base + (last - s) * 0.25, 6), start + s, s) for s in range(steps)]
        metrics = {"loss": loss}
        if u(i, 31) < 0.9:
            top = round(u(i, 32), 6)
            acc = [(round(top * (s + 1) / steps, 6), start + s, s) for s in range(steps)]
            if u(i, 33) < 0.01:
                acc[-1] = (math.nan, start + last, last)
            metrics["acc"] = acc
        if u(i, 34) < 0.6:
            # Newest step first: the last point written is not the latest.
            metrics["val_loss"] = [
                (round(u(i, 100 + s) * 3, 6), start + s, s) for s in reversed(range(steps))
            ]
        throughput = math.inf if i % 97 == 13 else round(u(i, 35) * 10_000, 3)
        metrics["throughput"] = [(throughput, start + last, last)]
        metrics["epoch_time"] = [
            (round(10 + u(i, 200 + s) * 50, 4), start + s, s) for s in range(steps)
        ]
        return metrics

    def sample(self, size: int = 2000) -> list[RunData]:
        """Every run when there are at most ``size``, else ``size`` runs spread evenly."""
        if self.runs <= size:
            return [self.run(i) for i in range(self.runs)]
        return [self.run(i * self.runs // size) for i in range(size)]
