"""Properties of the filter parser, checked on generated input.

- Parsing any text ends in a tree or a FilterError (the API's 400), never in another
  exception (a 500): arbitrary text, and soups of the language's own tokens, which get
  much further into the parser. Whatever parses also compiles for run and experiment
  searches on both dialects, or is refused with a FilterError.
- Every filter the grammar allows round-trips: a generated tree, written in any of the
  spellings the language accepts, parses back to the same tree with the positions at
  which its pieces were written.

The runs are bounded and derandomized (the same examples on every run), so they take a
few seconds and cannot flake; ``@example`` pins the cases that once failed.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.projections.search.grammar import (
    Rendered,
    filters,
    order_keys,
    render,
    render_order_key,
)
from trackledger.eventlog.events import Param, Tag
from trackledger.projections.search import (
    FilterError,
    SqlBuilder,
    compile_experiment_search,
    compile_run_search,
    parse_filter,
    parse_order_by,
)
from trackledger.projections.search.models import model_matches
from trackledger.projections.search.parser import MAX_DEPTH
from trackledger.projections.search.request import run_search
from trackledger.projections.views import LoggedModelView

BOUNDED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

#: The language's tokens, some malformed, for inputs that get past the lexer.
_TOKENS = [
    "metrics",
    "params",
    "tags",
    "attributes",
    "datasets",
    "attr",
    "run",
    ".",
    "x",
    "a.b",
    "`k`",
    '"k"',
    "'v'",
    "''",
    "1",
    "-1",
    "+2.5e3",
    ".5",
    "1e999",
    "9" * 30,
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "(",
    ")",
    ",",
    "AND",
    "or",
    "NOT",
    "IN",
    "LIKE",
    "ILIKE",
    "IS",
    "NULL",
    "MIN",
    "max",
    "LATEST",
    "ASC",
    "DESC",
    "'",
    '"',
    "`",
    "-",
    "+",
    "%",
    "status",
    "run_name",
    "start_time",
    "experiment_id",
    "name",
    "creation_time",
    "²",
    "٣",
    "\u00a0",
    "\x00",
]
token_soup = st.lists(st.sampled_from(_TOKENS), max_size=12).flatmap(
    lambda tokens: st.lists(
        st.sampled_from(["", " "]), min_size=len(tokens), max_size=len(tokens)
    ).map(lambda gaps: "".join(t + g for t, g in zip(tokens, gaps, strict=True)))
)
any_text = st.one_of(st.text(max_size=40), token_soup)

_MODEL = LoggedModelView(
    model_id="m-1",
    experiment_id="1",
    name="model",
    artifact_uri="file:///m",
    creation_time=1,
    last_updated_time=2,
    status="READY",
    source_run_id=None,
    model_type="sklearn",
    lifecycle_stage="active",
    tags=[Tag(key="x", value="1")],
    params=[Param(key="x", value="a")],
)


def _only_filter_errors(call: Any) -> None:
    try:
        call()
    except FilterError:
        pass


@BOUNDED
@given(any_text)
@example("²")  # a digit to str.isdigit that no number pattern takes
@example("metrics.x = " + "9" * 400)  # an int too large for a float
@example("(" * 1000 + "metrics.x = 1" + ")" * 1000)  # nesting past Python's recursion limit
@example("NOT " * 1000 + "metrics.x = 1")
def test_any_text_parses_or_is_a_filter_error(text: str) -> None:
    _only_filter_errors(lambda: parse_filter(text))
    _only_filter_errors(lambda: parse_order_by(text))


def _compile_everywhere(text: str, dialect: str) -> None:
    scope: dict[str, Any] = {"stages": ("active",), "limit": 10, "offset": 0}
    _only_filter_errors(
        lambda: compile_run_search(
            SqlBuilder(dialect),
            run_search(filter_text=text, order_by=[], experiment_ids=[1], **scope),
        )
    )
    _only_filter_errors(
        lambda: compile_run_search(
            SqlBuilder(dialect),
            run_search(filter_text=None, order_by=[text], experiment_ids=[1], **scope),
        )
    )
    _only_filter_errors(
        lambda: compile_experiment_search(
            SqlBuilder(dialect), filter_text=text, order_by=[], **scope
        )
    )


@BOUNDED
@given(any_text)
def test_whatever_parses_compiles_or_is_a_filter_error(text: str) -> None:
    for dialect in ("sqlite", "postgres"):
        _compile_everywhere(text, dialect)
    _only_filter_errors(lambda: model_matches(parse_filter(text), _MODEL))


def _parses_back(rendered: Rendered) -> None:
    """The text parses to the tree, or, nested past the bound, is refused where it goes
    too deep."""
    if rendered.depth <= MAX_DEPTH:
        assert parse_filter(rendered.text) == rendered.tree, rendered.text
    else:
        with pytest.raises(FilterError, match="levels deep"):
            parse_filter(rendered.text)


@BOUNDED
@given(filters)
def test_canonical_text_parses_back_to_the_tree(expr) -> None:
    _parses_back(render(expr))


@BOUNDED
@given(filters, st.data())
def test_every_spelling_parses_back_to_the_tree(expr, data) -> None:
    _parses_back(render(expr, lambda options: data.draw(st.sampled_from(options))))


@BOUNDED
@given(order_keys, st.data())
def test_order_by_clauses_parse_back(key, data) -> None:
    text, expected = render_order_key(key, lambda options: data.draw(st.sampled_from(options)))
    assert parse_order_by(text) == expected, text
