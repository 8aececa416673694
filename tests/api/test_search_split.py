"""On SQLite a scan of the whole scope runs as several scans at once, each of a share of the
runs (run_search.SPLIT_PARTS), and the page is sorted from their runs: every page is the
one a single scan gives."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.search_helpers import all_pages, one_page, seed_plans, spy_statements
from tests.api.test_search_plans import FILTERS, ORDERS
from trackledger.projections import run_search
from trackledger.services.backends import Backend

#: The orders of the plan tests whose first key is a metric, param or tag, and two more (a
#: missed window falls back to a scan of the scope in those), and the default order (to a
#: walk, which is not split).
KEYED = [o for o in ORDERS if o and o[0].split(".")[0].lower() in ("metrics", "params", "tags")]
ALL_ORDERS = [*KEYED, ["MIN(metrics.m) DESC"], ["tags.rank", "metrics.m DESC"], []]


#: A share's test of the runs, and the end of a walk in the default order.
_SHARE = "r.rowid *"
_WALK = "ORDER BY r.start_time DESC, r.run_id ASC LIMIT ? OFFSET ?"


async def _scans(backend: Backend, exp: int, parts: int, patch: pytest.MonkeyPatch) -> Any:
    """Every filter in every order, all pages, with windows too small to hold a page and no
    driving sets: the scans (in a metric's, param's or tag's order) and walks (in the
    others) of the scope answer. Also the statements sent."""
    with patch.context() as m:
        m.setattr(run_search, "WINDOW", 5)
        m.setattr(run_search, "choose", lambda *args: None)
        m.setattr(run_search, "SPLIT_PARTS", parts)
        sent = spy_statements(backend, m)
        found = {
            (filter_, str(order)): await all_pages(backend, exp, filter_, order)
            for filter_ in FILTERS
            for order in ALL_ORDERS
        }
    return found, sent


@pytest.mark.timeout(300)
@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
async def test_split_scans_give_the_pages_of_one_scan(backend: Backend, monkeypatch) -> None:
    exp = await seed_plans(backend)
    whole, sent_whole = await _scans(backend, exp, 1, monkeypatch)
    split, sent_split = await _scans(backend, exp, 3, monkeypatch)
    assert split == whole
    assert not any(_SHARE in sql for sql in sent_whole)
    shares = [sql for sql in sent_split if _SHARE in sql]
    # Most filters fall back to scans in the keyed orders, three shares each; no walk
    # (the default order's) is split.
    assert len(shares) >= 3 * len(FILTERS)
    assert not any(sql.endswith(_WALK) for sql in shares)
    assert any(sql.endswith(_WALK) for sql in sent_split)
    assert sum(1 for names in whole.values() if names) > len(whole) * 0.7


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bound", [6, 7])
@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
async def test_a_page_past_the_split_bound_is_one_scan(
    backend: Backend, monkeypatch, bound: int
) -> None:
    exp = await seed_plans(backend)
    with monkeypatch.context() as m:
        m.setattr(run_search, "WINDOW", 5)
        m.setattr(run_search, "choose", lambda *args: None)
        m.setattr(run_search, "SPLIT_PARTS", 2)
        m.setattr(run_search, "WIDER_MAX", {True: 0, False: 0})
        m.setattr(run_search, "SPLIT_PAGE_MAX", bound)
        sent = spy_statements(backend, m)
        names, _ = await one_page(backend, exp, "params.p = 'v3'", ["metrics.m DESC"], 3, 3)
    assert len(names) == 3
    # offset + max_results + 1 (the next page's marker) = 7 runs a share would read
    assert any(_SHARE in sql for sql in sent) == (bound >= 7)
