"""The query generator's comparisons on each kind of field (attributes, params, tags,
metrics and their aggregates), each aimed at a selectivity of ``querydata``'s runs and
written in the spellings the filter language allows (``querygen.py`` combines them)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from querydata import METRIC_KEYS, T0, Dataset, RunData
from queryterms import Term, compare, fmt, like, number, quote

__all__ = [
    "MAX_LIST",
    "NUMERIC_PARAMS",
    "RANGE_OPS",
    "SPARSE_PARAMS",
    "STRING_PARAMS",
    "STRING_TAGS",
    "Fields",
]

STRING_PARAMS = ["model", "optimizer", "lr", "batch_size", "dataset", "layers", "seed"]


SPARSE_PARAMS = ["dropout", "note"]


NUMERIC_PARAMS = ["lr", "batch_size", "layers", "seed", "dropout"]


STRING_TAGS = ["team", "priority", "git_sha", "stage"]




RANGE_OPS = ["<", "<=", ">", ">="]


#: The longest IN list drawn (a list of unique values selects at most this many runs).
MAX_LIST = 20


class Fields:
    """Builds comparisons aimed at a selectivity from the data set's known distributions."""

    def __init__(self, ds: Dataset, rng: random.Random, sample: list[RunData]) -> None:
        self.ds = ds
        self.rng = rng
        self.sample = sample
        self._cache: dict[str, object] = {}

    # helpers

    def pick_run(self) -> int:
        return self.rng.randrange(self.ds.runs)

    def quantile(self, values: list[float], target: float, below: bool) -> float:
        """A threshold t with about ``target`` of the sample's runs < t (``below``) or > t."""
        ordered = sorted(values, reverse=not below)
        if not ordered:
            return 0.0
        k = min(len(ordered) - 1, max(0, round(target * len(self.sample))))
        if target >= 1.0:
            return ordered[-1] + (1 if below else -1)
        return ordered[k]

    def frequencies(self, get: Callable[[RunData], str | None], name: str) -> dict[str, float]:
        """How often each value of the field occurs in the sample (cached by ``name``)."""
        cached = self._cache.get("freq:" + name)
        if cached is None:
            cached = self._cache["freq:" + name] = self._frequencies(get)
        return cached  # type: ignore[return-value]

    def values(self, get: Callable[[RunData], float | None], name: str) -> list[float]:
        """The field's finite values in the sample (missing, NaN and infinities left out)."""
        cached = self._cache.get("num:" + name)
        if cached is None:
            found = (get(r) for r in self.sample)
            cached = [v for v in found if v is not None and math.isfinite(v)]
            self._cache["num:" + name] = cached
        return cached  # type: ignore[return-value]

    def _frequencies(self, get: Callable[[RunData], str | None]) -> dict[str, float]:
        counts: dict[str, int] = {}
        for run in self.sample:
            value = get(run)
            if value is not None:
                counts[value] = counts.get(value, 0) + 1
        return {k: v / len(self.sample) for k, v in counts.items()}

    def closest_value(self, freq: dict[str, float], target: float) -> str:
        return min(freq, key=lambda v: (abs(math.log((freq[v] + 1e-9) / (target + 1e-9))), v))

    def subset(self, freq: dict[str, float], target: float) -> list[str]:
        """Values whose frequencies add up to about ``target`` (at least one)."""
        values = sorted(freq)
        self.rng.shuffle(values)
        chosen: list[str] = []
        total = 0.0
        for value in values:
            if len(chosen) == MAX_LIST:
                break
            if chosen and total + freq[value] > target * 1.5:
                continue
            chosen.append(value)
            total += freq[value]
            if total >= target:
                break
        return chosen

    def pattern(self, value: str, insensitive: bool) -> tuple[str, str]:
        """A LIKE pattern drawn from ``value`` and its kind (prefix, suffix, infix, exact)."""
        kind = self.rng.choice(["prefix", "prefix", "suffix", "infix", "exact"])
        cut = self.rng.randint(1, max(1, len(value) - 1))
        text = {
            "prefix": value[:cut] + "%",
            "suffix": "%" + value[cut:],
            "infix": "%" + value[cut // 2 : cut] + "%",
            "exact": value[:-1] + "_" if len(value) > 1 else value,
        }[kind]
        if kind == "infix" and text == "%%":
            text, kind = value[:cut] + "%", "prefix"
        if insensitive:
            text = text.upper() if self.rng.random() < 0.5 else text.capitalize()
        return text, kind

    # string fields: params, tags and the string attributes

    def string(
        self,
        name: str,
        label: str,
        get: Callable[[RunData], str | None],
        target: float,
        *,
        kind: str,
    ) -> Term:
        """= != LIKE ILIKE NOT LIKE IN NOT IN IS [NOT] NULL on a string field. ``kind`` is
        param, tag or attribute (MLflow's rules differ)."""
        rng = self.rng
        freq = self.frequencies(get, name.split(".", 1)[-1] + ":" + kind)
        ops = ["=", "=", "!=", "LIKE", "ILIKE", "IN", "NOT IN", "NOT LIKE"]
        if kind != "attribute":
            ops += ["IS NULL", "IS NOT NULL"]
        op = rng.choice(ops)
        mlflow = op in ("=", "!=", "LIKE", "ILIKE") or (
            kind != "attribute" and op in ("IS NULL", "IS NOT NULL")
        )
        if op in ("IS NULL", "IS NOT NULL"):
            want = op == "IS NOT NULL"
            return Term(
                f"{name} {op}", f"{label} {op}", mlflow, lambda r: (get(r) is not None) == want
            )
        if op in ("IN", "NOT IN"):
            # NOT IN keeps about `target`: it lists about the rest
            values = self.subset(freq, target if op == "IN" else max(0.0, 1 - target))
            listed = ", ".join(quote(v) for v in values)
            return _listed(name, f"{label} {op}", op, listed, get, set(values))
        if op in ("=", "!="):
            value = self.closest_value(freq, target if op == "=" else 1 - target)
            return Term(
                f"{name} {op} {quote(value)}",
                f"{label}{op}",
                mlflow,
                lambda r: compare(get(r), op, value),
            )
        value = self.closest_value(freq, target if op != "NOT LIKE" else 1 - target)
        insensitive = op == "ILIKE"
        text, where = self.pattern(value, insensitive)
        regex = like(text, insensitive)
        negate = op == "NOT LIKE"
        return Term(
            f"{name} {op} {quote(text)}",
            f"{label} {op} {where}",
            mlflow,
            lambda r: None if get(r) is None else bool(regex.match(get(r) or "")) != negate,
        )

    def numeric(
        self,
        name: str,
        label: str,
        get: Callable[[RunData], float | None],
        target: float,
        *,
        mlflow: bool,
        exact: Callable[[], float | int] | None = None,
        ints: bool = False,
    ) -> Term:
        """= != < <= > >= against a number aimed at ``target`` (``exact`` gives one run's value
        for = and for the one-run target)."""
        rng = self.rng
        if target == 0.0 and exact is not None:
            op = rng.choice(["=", "=", "<=", ">="])
            value: float | int = exact()
            if op != "=":  # the one run at an end of the range
                values = self.values(get, name)
                value = min(values) if op == "<=" else max(values)
        elif target == 0.0:  # no single value known: the run(s) at an end of the range
            values = self.values(get, name)
            op = rng.choice(["<=", ">="])
            value = (min(values) if op == "<=" else max(values)) if values else 0.0
        else:
            op = rng.choice(RANGE_OPS + (["!="] if target >= 0.5 else []))
            values = self.values(get, name)
            if op == "!=":
                value = exact() if exact is not None else rng.choice(values)
            else:
                value = self.quantile(values, target, below=op.startswith("<"))
        if ints:
            value = int(value)
        return Term(
            f"{name} {op} {fmt(value)}",
            f"{label}{op if op in ('=', '!=') else '<'}",
            mlflow,
            lambda r: compare(get(r), op, value),
        )

    # the fields

    def attribute(self, target: float) -> Term:
        choice = self.rng.choice(
            ["run_name", "run_name", "status", "user_id", "run_id", "start_time", "end_time"]
        )
        prefix = self.rng.choice(["attributes.", "", "attribute.", "run."])
        if choice == "run_name":
            return self.run_name(prefix, target)
        if choice == "run_id":
            return self.run_id(prefix, target)
        if choice in ("status", "user_id"):
            get: Callable[[RunData], str | None] = (
                (lambda r: r.status) if choice == "status" else (lambda r: r.user_id)
            )
            return self.string(prefix + choice, choice, get, target, kind="attribute")
        if choice == "start_time":
            return self.start_time(prefix, target)
        if self.rng.random() < 0.2:
            op = self.rng.choice(["IS NULL", "IS NOT NULL"])
            want = op == "IS NULL"
            return Term(
                f"{prefix}end_time {op}",
                f"end_time {op}",
                False,
                lambda r: (r.end_time is None) == want,
            )
        return self.numeric(
            f"{prefix}end_time", "end_time", lambda r: r.end_time, target, mlflow=True, ints=True
        )

    def start_time(self, prefix: str, target: float) -> Term:
        n = self.ds.runs
        name = prefix + self.rng.choice(["start_time", "start_time", "created"])
        if target == 0.0:
            i = self.pick_run()
            op, value = "=", self.ds.start_time(i)
        elif target >= 1.0 and self.rng.random() < 0.5:
            op, value = "!=", self.ds.start_time(self.pick_run())
        else:
            op = self.rng.choice(RANGE_OPS)
            k = min(n, max(1, round(target * n)))
            # the k newest (> / >=) or the k oldest (< / <=)
            edge = n - k if op.startswith(">") else k
            value = T0 + edge * 1000 + (-1 if op == ">=" else 0) + (0 if op != "<=" else -1)
        return Term(
            f"{name} {op} {value}",
            f"start_time{op if op in ('=', '!=') else '<'}",
            True,
            lambda r: compare(r.start_time, op, value),
        )

    def run_name(self, prefix: str, target: float) -> Term:
        rng, ds = self.rng, self.ds
        name = prefix + rng.choice(["run_name", "run_name", "`Run Name`"])
        label = "run_name"
        if target == 0.0 or rng.random() < 0.3:
            return self.run_name_exact(name)
        if rng.random() < 0.6:  # a prefix of the zero-padded index: an exact range of runs
            width = max(0, min(7, round(math.log10(max(1.0, target * ds.runs)))))
            head = f"{self.pick_run():07d}"[: 7 - width]
            op = rng.choice(["LIKE", "LIKE", "ILIKE"])
            text = f"run-{head}%" if op == "LIKE" else f"RUN-{head}%"
            where = "prefix"
        else:
            digits = max(1, min(7, round(-math.log10(max(target, 1e-7)))))
            tail = f"{rng.randrange(10**digits):0{digits}d}"
            op = rng.choice(["LIKE", "NOT LIKE"]) if target >= 0.5 else "LIKE"
            text, where = f"%{tail}", "suffix"
        regex = like(text, op == "ILIKE")
        negate = op == "NOT LIKE"
        return Term(
            f"{name} {op} {quote(text)}",
            f"{label} {op} {where}",
            op != "NOT LIKE",
            lambda r: bool(regex.match(r.name)) != negate,
        )

    def run_name_exact(self, name: str) -> Term:
        """run_name naming one run or a few exactly (= != IN NOT IN, ILIKE without wildcards)."""
        rng, ds = self.rng, self.ds
        runs = sorted({self.pick_run() for _ in range(rng.randint(1, 4))})
        names = [ds.name(i) for i in runs]
        op = rng.choice(["=", "=", "IN", "!=", "NOT IN", "ILIKE"])
        if op in ("=", "!=", "ILIKE"):
            names = names[:1]
        chosen = set(names)
        if op == "ILIKE":
            text = f"{name} ILIKE {quote(names[0].upper())}"
            return Term(text, "run_name ILIKE exact", True, lambda r: r.name in chosen)
        inside = op in ("=", "IN")
        if "IN" in op:
            text = f"{name} {op} ({', '.join(map(quote, names))})"
            shape = f"run_name {op}"
        else:
            text, shape = f"{name} {op} {quote(names[0])}", f"run_name{op}"
        return Term(text, shape, "IN" not in op, lambda r: (r.name in chosen) == inside)

    def run_id(self, prefix: str, target: float) -> Term:
        rng = self.rng
        name = prefix + "run_id"
        count = 1 if target == 0.0 else rng.randint(2, 6)
        runs = sorted({self.pick_run() for _ in range(count)})
        op = rng.choice(["=", "IN"]) if len(runs) == 1 else "IN"
        if target >= 0.5:
            op = rng.choice(["!=", "NOT IN"])
        listed = ", ".join(quote(f"{{run:{i}}}") for i in runs)
        chosen = set(runs)
        if op in ("=", "!="):
            runs = runs[:1]
            chosen = set(runs)
            text = f"{name} {op} {quote(f'{{run:{runs[0]}}}')}"
        else:
            text = f"{name} {op} ({listed})"
        inside = op in ("=", "IN")
        return Term(
            text,
            f"run_id {op}" if "IN" in op else f"run_id{op}",
            True,
            lambda r: (r.index in chosen) == inside,
            tuple(runs),
        )

    def param(self, target: float) -> Term:
        rng = self.rng
        prefix = rng.choice(["params.", "params.", "param.", "parameters."])
        if rng.random() < 0.3:
            key = rng.choice(NUMERIC_PARAMS)
            return self.numeric_text(prefix + key, "param", "params", key, target)
        key = rng.choice(STRING_PARAMS + SPARSE_PARAMS)
        if key == "seed" and target == 0.0:
            i = self.pick_run()
            return Term(
                f"{prefix}seed = '{i}'", "param=", True, lambda r: r.params.get("seed") == str(i)
            )
        return self.string(
            prefix + key, "param", lambda r: r.params.get(key), target, kind="param"
        )

    def tag(self, target: float) -> Term:
        rng = self.rng
        prefix = rng.choice(["tags.", "tags.", "tag."])
        if rng.random() < 0.25:
            return self.numeric_text(prefix + "priority", "tag", "tags", "priority", target)
        key = rng.choice(STRING_TAGS)
        return self.string(prefix + key, "tag", lambda r: r.tags.get(key), target, kind="tag")

    def numeric_text(self, name: str, label: str, part: str, key: str, target: float) -> Term:
        """A numeric comparison of a param or tag (an extension) or IN a list of numbers."""

        def get(r: RunData) -> float | None:
            return number(getattr(r, part).get(key))

        if self.rng.random() < 0.15:
            freq = self.frequencies(
                lambda r: None if get(r) is None else fmt(get(r) or 0.0), "num:" + name
            )
            values = self.subset(freq, target)
            op = self.rng.choice(["IN", "NOT IN"])
            chosen = {float(v) for v in values}
            return _listed(name, f"{label}# {op}", op, ", ".join(values), get, chosen)
        exact = None
        if key == "seed":
            run = self.pick_run()
            exact = lambda: run  # noqa: E731
        term = self.numeric(name, f"{label}#", get, target, mlflow=False, exact=exact)
        return term

    def metric(self, target: float) -> Term:
        rng = self.rng
        key = rng.choice(METRIC_KEYS)
        aggregate = rng.choice(["", "", "", "MIN", "MAX", "LATEST"])
        if not aggregate and rng.random() < 0.08:
            op = rng.choice(["IS NULL", "IS NOT NULL"])
            want = op == "IS NOT NULL"
            return Term(
                f"metrics.{key} {op}",
                f"metric {op}",
                False,
                lambda r: (key in r.metrics) == want,
            )
        if aggregate in ("MIN", "MAX"):
            largest = aggregate == "MAX"

            def get(r: RunData) -> float | None:
                return r.extreme(key, largest)

        else:

            def get(r: RunData) -> float | None:
                return r.latest(key)

        def exact() -> float:
            for _ in range(100):
                value = get(self.ds.run(self.pick_run()))
                if value is not None and math.isfinite(value):
                    return value
            return 0.5

        name = f"{aggregate}(metrics.{key})" if aggregate else f"metrics.{key}"
        label = f"{aggregate}(metric)" if aggregate else "metric"
        return self.numeric(name, label, get, target, mlflow=not aggregate, exact=exact)


def _listed(
    name: str,
    shape: str,
    op: str,
    listed: str,
    get: Callable[[RunData], Any],
    chosen: set[Any],
) -> Term:
    """``name IN (listed)`` or ``NOT IN``: unknown for a run without the field (MLflow's
    comparisons never match a missing key), else whether its value is among ``chosen``."""
    inside = op == "IN"
    return Term(
        f"{name} {op} ({listed})",
        shape,
        False,
        lambda r: None if get(r) is None else (get(r) in chosen) == inside,
    )
