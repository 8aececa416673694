"""A seeded generator of run searches: random but valid filters and order_by lists in every
form trackledger's filter language takes, aimed at selectivities from one run to all runs of
a ``querydata.Dataset``.

Standard library only: the load tests and the differential tests both import it.

    from querydata import Dataset
    from querygen import generate
    for q in generate(Dataset(100_000), 1000, seed=1):
        q.filter, q.order_by, q.shape, q.mlflow, q.estimate

Each query carries:

- ``shape``: a canonical description of its form, e.g. ``param= AND metric< ORDER BY
  MAX(metric)`` (the parts of an AND or an OR sorted; ``<`` stands for any of < <= > >=,
  ``#`` marks a numeric comparison of a param or tag, LIKE says where its wildcards are);
- ``mlflow``: whether MLflow 3.17.2's server accepts it: only an AND of comparisons; metrics
  (latest values) and ``start_time``/``end_time``/``created`` with = != < <= > >= against
  numbers; params and tags with = != LIKE ILIKE against quoted strings and IS [NOT] NULL;
  ``run_name``, ``status``, ``user_id`` and ``run_id`` with = != LIKE ILIKE, and IN / NOT IN
  on ``run_id`` only; order_by on attributes, metrics, params and tags, no aggregates;
- ``estimate``: the fraction of the data set's (non-deleted) runs it matches, evaluated on a
  sample of the runs with trackledger's semantics (a comparison on a key a run lacks is
  unknown), and ``target``: the selectivity it was aimed at;
- ``run_refs``: run indexes whose run ids the filter names as ``{run:INDEX}`` placeholders
  (run ids are made by each server; ``resolve`` fills them in).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from querydata import METRIC_KEYS, T0, Dataset, RunData

__all__ = ["Query", "evaluate", "generate", "render", "shape_of"]

Truth = bool | None
Test = Callable[[RunData], Truth]

#: Target selectivities (fractions of all runs); 0.0 stands for "one run".
TARGETS = [(0.0, 0.15), (0.001, 0.1), (0.01, 0.2), (0.1, 0.25), (0.5, 0.2), (1.0, 0.1)]
STRING_PARAMS = ["model", "optimizer", "lr", "batch_size", "dataset", "layers", "seed"]
SPARSE_PARAMS = ["dropout", "note"]
NUMERIC_PARAMS = ["lr", "batch_size", "layers", "seed", "dropout"]
STRING_TAGS = ["team", "priority", "git_sha", "stage"]
NUMERIC_TAGS = ["priority"]
RANGE_OPS = ["<", "<=", ">", ">="]
#: The longest IN list drawn (a list of unique values selects at most this many runs).
MAX_LIST = 20


@dataclass(frozen=True)
class Term:
    """One comparison: its text, shape, whether MLflow takes it, and its truth per run."""

    text: str
    shape: str
    mlflow: bool
    test: Test
    refs: tuple[int, ...] = ()


@dataclass(frozen=True)
class Node:
    op: str  # AND, OR, NOT
    parts: tuple[Node | Term, ...]


Expr = Node | Term


@dataclass(frozen=True)
class Query:
    filter: str
    order_by: tuple[str, ...]
    shape: str
    mlflow: bool
    target: float
    estimate: float
    run_refs: tuple[int, ...] = ()
    view: str = "ACTIVE_ONLY"

    def resolve(self, run_id: Callable[[int], str]) -> str:
        """The filter with each ``{run:INDEX}`` replaced by that run's id."""
        return re.sub(r"\{run:(\d+)\}", lambda m: run_id(int(m.group(1))), self.filter)


# -- evaluation (trackledger's three-valued logic) -------------------------------------------


def evaluate(expr: Expr, run: RunData) -> Truth:
    if isinstance(expr, Term):
        return expr.test(run)
    if expr.op == "NOT":
        inner = evaluate(expr.parts[0], run)
        return None if inner is None else not inner
    values = [evaluate(p, run) for p in expr.parts]
    decisive = expr.op == "OR"  # OR: any True decides; AND: any False decides
    if decisive in values:
        return decisive
    if None in values:
        return None
    return not decisive


def _compare(left: object, op: str, right: object) -> Truth:
    if left is None:
        return None
    if isinstance(left, float) and math.isnan(left):
        return op == "!="
    match op:
        case "=":
            return bool(left == right)
        case "!=":
            return bool(left != right)
        case "<":
            return bool(left < right)  # type: ignore[operator]
        case "<=":
            return bool(left <= right)  # type: ignore[operator]
        case ">":
            return bool(left > right)  # type: ignore[operator]
        case ">=":
            return bool(left >= right)  # type: ignore[operator]
    raise ValueError(op)


def _like(pattern: str, insensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def _fmt(x: float | int) -> str:
    """A literal both MLflow's tokenizer and trackledger's read as this number."""
    if isinstance(x, int):
        return str(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    text = repr(x)
    if "e" in text or "E" in text:
        text = f"{x:.15f}".rstrip("0").rstrip(".")
    return text


def _quote(text: str) -> str:
    return "'" + text + "'"


# -- comparisons on each kind of field ---------------------------------------------------------


class _Fields:
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
            listed = ", ".join(_quote(v) for v in values)
            chosen = set(values)
            inside = op == "IN"
            return Term(
                f"{name} {op} ({listed})",
                f"{label} {op}",
                False,
                lambda r: None if get(r) is None else (get(r) in chosen) == inside,
            )
        if op in ("=", "!="):
            value = self.closest_value(freq, target if op == "=" else 1 - target)
            return Term(
                f"{name} {op} {_quote(value)}",
                f"{label}{op}",
                mlflow,
                lambda r: _compare(get(r), op, value),
            )
        value = self.closest_value(freq, target if op != "NOT LIKE" else 1 - target)
        insensitive = op == "ILIKE"
        text, where = self.pattern(value, insensitive)
        regex = _like(text, insensitive)
        negate = op == "NOT LIKE"
        return Term(
            f"{name} {op} {_quote(text)}",
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
            f"{name} {op} {_fmt(value)}",
            f"{label}{op if op in ('=', '!=') else '<'}",
            mlflow,
            lambda r: _compare(get(r), op, value),
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
            lambda r: _compare(r.start_time, op, value),
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
        regex = _like(text, op == "ILIKE")
        negate = op == "NOT LIKE"
        return Term(
            f"{name} {op} {_quote(text)}",
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
            text = f"{name} ILIKE {_quote(names[0].upper())}"
            return Term(text, "run_name ILIKE exact", True, lambda r: r.name in chosen)
        inside = op in ("=", "IN")
        if "IN" in op:
            text = f"{name} {op} ({', '.join(map(_quote, names))})"
            shape = f"run_name {op}"
        else:
            text, shape = f"{name} {op} {_quote(names[0])}", f"run_name{op}"
        return Term(text, shape, "IN" not in op, lambda r: (r.name in chosen) == inside)

    def run_id(self, prefix: str, target: float) -> Term:
        rng = self.rng
        name = prefix + "run_id"
        count = 1 if target == 0.0 else rng.randint(2, 6)
        runs = sorted({self.pick_run() for _ in range(count)})
        op = rng.choice(["=", "IN"]) if len(runs) == 1 else "IN"
        if target >= 0.5:
            op = rng.choice(["!=", "NOT IN"])
        listed = ", ".join(_quote(f"{{run:{i}}}") for i in runs)
        chosen = set(runs)
        if op in ("=", "!="):
            runs = runs[:1]
            chosen = set(runs)
            text = f"{name} {op} {_quote(f'{{run:{runs[0]}}}')}"
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
            return _number(getattr(r, part).get(key))

        if self.rng.random() < 0.15:
            freq = self.frequencies(
                lambda r: None if get(r) is None else _fmt(get(r) or 0.0), "num:" + name
            )
            values = self.subset(freq, target)
            chosen = {float(v) for v in values}
            op = self.rng.choice(["IN", "NOT IN"])
            inside = op == "IN"
            return Term(
                f"{name} {op} ({', '.join(values)})",
                f"{label}# {op}",
                False,
                lambda r: None if get(r) is None else (get(r) in chosen) == inside,
            )
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




# -- filters and orders ------------------------------------------------------------------------


def _target(rng: random.Random) -> float:
    return rng.choices([t for t, _ in TARGETS], weights=[w for _, w in TARGETS])[0]


def _term(fields: _Fields, target: float, mlflow_only: bool) -> Term:
    kinds = [fields.attribute, fields.param, fields.tag, fields.metric]
    for _ in range(50):
        term = fields.rng.choices(kinds, weights=[3, 4, 2, 4])[0](target)
        if term.mlflow or not mlflow_only:
            return term
    raise RuntimeError("no MLflow-compatible comparison found in 50 draws")


def _filter(fields: _Fields, mlflow_only: bool, target: float) -> Expr | None:
    rng = fields.rng
    count = rng.choices([0, 1, 2, 3, 4], weights=[8, 35, 30, 17, 10])[0]
    if count == 0:
        return None
    # Conjunctions aim each part a little wider, so that the whole lands near the target.
    each = target if count == 1 or target in (0.0, 1.0) else target ** (1 / count)
    parts: list[Expr] = []
    for n in range(count):
        if n and target == 0.0:  # one part picks the run, the others let it through
            each = rng.choice([0.5, 1.0])
        if not mlflow_only and rng.random() < 0.3:
            parts.append(_compound(fields, each))
        else:
            parts.append(_term(fields, each, mlflow_only))
    if len(parts) == 1:
        return parts[0]
    if not mlflow_only and rng.random() < 0.15:
        return Node("OR", tuple(parts))
    return Node("AND", tuple(parts))


def _compound(fields: _Fields, target: float) -> Expr:
    rng = fields.rng
    if rng.random() < 0.4:
        inner = _term(fields, 1 - target, False)
        if rng.random() < 0.3:
            other = _term(fields, 0.5, False)
            return Node("NOT", (Node(rng.choice(["AND", "OR"]), (inner, other)),))
        return Node("NOT", (inner,))
    width = rng.randint(2, 3)
    share = target / width if target not in (0.0, 1.0) else target
    parts: list[Expr] = [_term(fields, share, False) for _ in range(width)]
    if rng.random() < 0.2:
        parts[-1] = Node("AND", (parts[-1], _term(fields, 0.5, False)))
    return Node("OR", tuple(parts))


def render(expr: Expr, parent: str = "") -> str:
    if isinstance(expr, Term):
        return expr.text
    if expr.op == "NOT":
        inner = expr.parts[0]
        if isinstance(inner, Term) or inner.op == "NOT":
            return f"NOT {render(inner, 'NOT')}"
        return f"NOT ({render(inner)})"
    text = f" {expr.op} ".join(render(p, expr.op) for p in expr.parts)
    return f"({text})" if parent and parent != expr.op else text


def shape_of(expr: Expr | None, parent: str = "") -> str:
    if expr is None:
        return "-"
    if isinstance(expr, Term):
        return expr.shape
    if expr.op == "NOT":
        inner = expr.parts[0]
        if isinstance(inner, Term) or inner.op == "NOT":
            return f"NOT {shape_of(inner, 'NOT')}"
        return f"NOT ({shape_of(inner)})"
    text = f" {expr.op} ".join(sorted(shape_of(p, expr.op) for p in expr.parts))
    return f"({text})" if parent and parent != expr.op else text


def _terms(expr: Expr | None) -> Iterable[Term]:
    if isinstance(expr, Term):
        yield expr
    elif expr is not None:
        for part in expr.parts:
            yield from _terms(part)


def _mlflow_accepts(expr: Expr | None) -> bool:
    if expr is None or isinstance(expr, Term):
        return expr is None or expr.mlflow
    return expr.op == "AND" and all(_mlflow_accepts(p) for p in expr.parts)


#: order_by keys: (text, shape, identity, MLflow accepts it)
_ORDER_ATTRIBUTES = ["start_time", "end_time", "run_name", "status", "user_id", "created"]


def _order_key(rng: random.Random, run_id: bool) -> tuple[str, str, str, bool]:
    kind = rng.choices(["attribute", "param", "tag", "metric", "aggregate"], [3, 3, 2, 4, 2])[0]
    if kind == "attribute":
        names = _ORDER_ATTRIBUTES + (["run_id"] if run_id else [])
        key = rng.choice(names)
        identity = "start_time" if key == "created" else key
        text = rng.choice(["attributes.", ""]) + key
        return text, "start_time" if key == "created" else key, identity, True
    if kind == "param":
        key = rng.choice(STRING_PARAMS + SPARSE_PARAMS)
        return f"params.{key}", "param", f"param:{key}", True
    if kind == "tag":
        key = rng.choice(STRING_TAGS)
        return f"tags.{key}", "tag", f"tag:{key}", True
    key = rng.choice(METRIC_KEYS)
    if kind == "metric":
        return f"metrics.{key}", "metric", f"metric:{key}", True
    aggregate = rng.choice(["MIN", "MAX", "LATEST"])
    return f"{aggregate}(metrics.{key})", f"{aggregate}(metric)", f"metric:{key}", False


def _order_by(rng: random.Random, mlflow_only: bool, run_id: bool) -> list[tuple[str, str, bool]]:
    count = rng.choices([0, 1, 2], weights=[40, 45, 15])[0]
    keys: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    while len(keys) < count:
        text, shape, identity, mlflow = _order_key(rng, run_id)
        if identity in seen or (mlflow_only and not mlflow):
            continue
        seen.add(identity)
        direction = rng.choice(["", " ASC", " DESC", " DESC"])
        keys.append((text + direction, shape, mlflow))
    return keys


def generate(
    ds: Dataset,
    count: int,
    seed: int = 0,
    *,
    mlflow_share: float = 0.4,
    order_by_run_id: bool = True,
    views: Sequence[str] = ("ACTIVE_ONLY",),
    sample_size: int = 1000,
) -> list[Query]:
    """``count`` queries over ``ds``; about ``mlflow_share`` of them are drawn from MLflow's
    subset only (others may land in it by chance). ``order_by_run_id`` False leaves out
    orders by run id (whose order differs between servers). ``views`` are drawn from for
    each query's run_view_type."""
    rng = random.Random(seed)
    sample = ds.sample(sample_size)
    fields = _Fields(ds, rng, sample)
    queries = []
    for _ in range(count):
        mlflow_only = rng.random() < mlflow_share
        target = _target(rng)
        expr = _filter(fields, mlflow_only, target)
        order = _order_by(rng, mlflow_only, order_by_run_id)
        view = rng.choice(list(views))
        shown = [r for r in sample if _visible(r, view)]
        matches = sum(1 for r in shown if expr is None or evaluate(expr, r) is True)
        shape = shape_of(expr)
        if order:
            shape += " ORDER BY " + ", ".join(s for _, s, _ in order)
        refs = tuple(sorted({i for t in _terms(expr) for i in t.refs}))
        queries.append(
            Query(
                filter=render(expr) if expr is not None else "",
                order_by=tuple(text for text, _, _ in order),
                shape=shape,
                mlflow=_mlflow_accepts(expr) and all(m for _, _, m in order),
                target=target if expr is not None else 1.0,
                estimate=matches / max(1, len(shown)),
                run_refs=refs,
                view=view,
            )
        )
    return queries


def _visible(run: RunData, view: str) -> bool:
    return {"ACTIVE_ONLY": not run.deleted, "DELETED_ONLY": run.deleted}.get(view, True)

