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

import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from querydata import METRIC_KEYS, Dataset, RunData
from queryfields import SPARSE_PARAMS, STRING_PARAMS, STRING_TAGS, Fields
from queryterms import Expr, Node, Term, evaluate

__all__ = ["Query", "evaluate", "generate", "render", "shape_of"]


#: Target selectivities (fractions of all runs); 0.0 stands for "one run".
TARGETS = [(0.0, 0.15), (0.001, 0.1), (0.01, 0.2), (0.1, 0.25), (0.5, 0.2), (1.0, 0.1)]


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


# -- filters and orders ------------------------------------------------------------------------


def _target(rng: random.Random) -> float:
    return rng.choices([t for t, _ in TARGETS], weights=[w for _, w in TARGETS])[0]


def _term(fields: Fields, target: float, mlflow_only: bool) -> Term:
    kinds = [fields.attribute, fields.param, fields.tag, fields.metric]
    for _ in range(50):
        term = fields.rng.choices(kinds, weights=[3, 4, 2, 4])[0](target)
        if term.mlflow or not mlflow_only:
            return term
    raise RuntimeError("no MLflow-compatible comparison found in 50 draws")


def _filter(fields: Fields, mlflow_only: bool, target: float) -> Expr | None:
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


def _compound(fields: Fields, target: float) -> Expr:
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
    fields = Fields(ds, rng, sample)
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

