"""Planning a run search: which plan answers a page, tried cheapest first.

The plans (``search/runs.py``) give the same page; what differs is how many runs each
reads. In turn:

1. the filter's driving set, when its counted size is small (``search/plan.py``); an empty
   set answers at once;
2. for an order whose first key is a param or tag whose first value many runs share, the
   same search among those runs, ordered by the other keys (``search/groups.py``);
3. a window of the first runs in the page's order (within the filter's bounds of the
   value it sorts), then a wider one (``RunSearcher._wider``);
4. when the windows miss: a driving set counted in full (in a key's order and a large
   scope, counted further: up to a twentieth of the scope), or a scan of the scope (in a
   key's order, or a user's or an end time's, whose walk would sort every match), or the
   walk of every run in the page's order.

A driven plan tests each run of its set on the filter, less the comparisons the set holds
exactly (``plan.without_implied``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from trackledger.projections.fetch import FetchAll
from trackledger.projections.search.compile import comparisons_of
from trackledger.projections.search.drivers import DriverLeaf, Scope, drivers_of
from trackledger.projections.search.groups import first_value_sql, group_key, group_size_sql
from trackledger.projections.search.orders import (
    compared,
    sorts_every_match,
    stops_early,
    windowed_walk,
    without_tied_keys,
)
from trackledger.projections.search.plan import (
    PROBE_CAP,
    Chosen,
    Sizes,
    by_selectivity,
    choose,
    count_sql,
    counted,
    kept_count,
    large_cap,
    needs_count,
    past_cap,
    probe_sql,
    read_cost,
    scope_size_sql,
    to_count,
    with_ids,
    without_implied,
    worth_driving,
)
from trackledger.projections.search.request import RunSearch
from trackledger.projections.search.runs import (
    Edge,
    compile_run_search,
    fits_driven,
    key_window,
    run_scope,
    time_ordered,
    walk_window,
)
from trackledger.projections.search.shares import Share
from trackledger.projections.search.sql import SqlBuilder
from trackledger.projections.search.window_edges import window_edge_sql

__all__ = ["RunSearcher"]

#: How many entries a window first looks at, in the page's order (runs, or a key's
#: values); a miss costs testing this many, a hit saves sorting every match. A first
#: group is searched on its own when more runs than this share the value.
WINDOW = 2000
#: The largest second window, by whether it is counted in values of a metric, param or
#: tag (each a probe of the run and its filter's keys) or in runs of an index of the runs
#: (cheaper per run).
WIDER_MAX = {True: 8_000, False: 20_000}
#: Past ``WIDER_MAX``, a second window may still be as large as one in this many of the
#: scope's runs (``RunSearcher._wider``; after a first window without a match, that
#: large): the alternative is testing every run of the scope, and a window's entry
#: costs about as much as that many runs of a scan (SQLite, 1,000,000 runs: a metric
#: window's entry 11-12 us, a run of the window of the runs' index about 3; a scan 1.4 us
#: a run, on both cores at once), with half again to spare for a miss.
WIDER_SHARE = {True: 32, False: 16}
#: The order keys whose windows hold every run tied on the edge's value (``_probes``).
_GROUPED = ("parameter", "tag")
#: Order keys a search may descend through first groups (each level costs two index
#: probes and the group's own plan).
GROUP_DEPTH = 2
#: SQLite: a search that tests every run of its scope (no window, no set) runs as this
#: many searches at once, each of an equal share of the runs, on reader connections of
#: their own: SQLite tests each run by index probes, one core a connection. One share a
#: core, at most the reader pool's four.
SPLIT_PARTS = max(1, min(4, os.cpu_count() or 1))
#: The largest page (offset included) a split search reads: each part reads that many
#: runs, and the page is sorted from all parts' runs by their ids.
SPLIT_PAGE_MAX = 1000
#: Seconds a scope's counted size guides plans before it is counted again, and how many
#: scopes' sizes are kept.
SCOPE_SIZE_TTL = 60.0
SCOPE_SIZES_KEPT = 256
#: How many bounds kept until a write commits (``RunSearcher._kept_bound``) are kept.
COUNTS_KEPT = 256


class RunSearcher:
    """Answers run searches with the queries of ``search/runs.py`` through ``fetchall``."""

    def __init__(
        self,
        fetchall: FetchAll,
        dialect: str,
        commit_mark: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        """``commit_mark``: a mark of the store's committed writes, equal while nothing is
        committed (SQLite: the log's last position, which its one writer commits in
        order; PostgreSQL: the server's snapshot): bounds are kept while it stays
        (``_kept_bound``)."""
        self._fetchall = fetchall
        self._dialect = dialect
        self._commit_mark = commit_mark
        #: Scopes' sizes by (experiments, stages): (when counted, runs).
        self._scope_sizes: dict[tuple[tuple[int, ...], tuple[str, ...]], tuple[float, int]] = {}
        #: Bounds kept until a write commits (``_kept_bound``), by statement, and the
        #: commit mark read before they were counted.
        self._counts: dict[tuple[str, tuple[Any, ...]], int] = {}
        self._counts_at: Any = None

    async def run_ids(self, search: RunSearch) -> list[str]:
        """The ids of the page's runs (up to ``search.limit``), in the page's order; a bad
        filter or order raises before any query runs."""
        compile_run_search(SqlBuilder(self._dialect), search)
        ids = await self._search(without_tied_keys(search), 0, Sizes(), attempt=False)
        assert ids is not None, "a search that is not an attempt always answers"
        return ids

    async def _page(
        self,
        search: RunSearch,
        edge: Edge | None,
        driver: Chosen | None = None,
        *,
        scan: bool = False,
    ) -> list[str]:
        if driver is not None and driver.estimate == 0:
            return []  # every match is in the set, and it is empty
        if (driver is not None or scan) and not fits_driven(search):
            driver, scan = None, False  # the walk reads the first key from its index
        if driver is not None:
            expr = without_implied(search.expr, driver, self._dialect)
            search = msgspec.structs.replace(search, expr=expr)
        elif scan and edge is None and _splits(search, self._dialect):
            return await self._split(search, SPLIT_PARTS)
        b = SqlBuilder(self._dialect)
        sql = compile_run_search(
            b, search, edge=edge, driver=driver.driver if driver else None, scan=scan
        )
        return [row[0] for row in await self._fetchall(sql, b.params)]

    async def _split(self, search: RunSearch, parts: int) -> list[str]:
        """A scan of the scope as ``parts`` scans at once, each of a share of the runs
        (``Share``) and for the whole page; then the page sorted from their runs (each
        share's first runs in the page's order hold the page's)."""
        whole = msgspec.structs.replace(search, limit=search.offset + search.limit, offset=0)
        statements = []
        for index in range(parts):
            b = SqlBuilder(self._dialect)
            part = Share(index, parts)
            statements.append((compile_run_search(b, whole, scan=True, part=part), b.params))
        found = await asyncio.gather(*(self._fetchall(sql, ps) for sql, ps in statements))
        ids = tuple(row[0] for rows in found for row in rows)
        if not ids:
            return []
        b = SqlBuilder(self._dialect)
        sql = compile_run_search(b, search, among=ids)
        return [row[0] for row in await self._fetchall(sql, b.params)]

    async def _search(
        self, search: RunSearch, depth: int, sizes: Sizes, *, attempt: bool
    ) -> list[str] | None:
        """The page's run ids. An ``attempt`` tries only the plans that read a bounded
        number of runs (a small set, a first group, windows), and gives None when they
        miss. ``sizes``: the driving sets counted so far."""
        driver = await self.driving_set(search, scans=False, sizes=sizes)
        if worth_driving(driver):
            return await self._page(search, None, driver)
        search = self._by_selectivity(search, sizes)
        if depth < GROUP_DEPTH:
            grouped, large = await self._first_group(search, depth, sizes)
            if grouped is not None:
                return grouped
            if large and attempt:
                return None  # a window in this order would read that whole group
        if search.expr is None and not windowed_walk(search):
            return await self._page(search, None)  # every run matches: the walk stops early
        if walk_window(search.keys):
            ids = await self._windows(search)
            if ids is not None or attempt:
                return ids
            # The windows did not hold the page: the matches are rarer (or later) than the
            # sets' sizes let on. Read a driving set where there is one, counting the
            # filtered scans too now that a full walk is the alternative. No set either:
            # in a key's order, a walk would read every value one probe at a time; testing
            # the scope's runs and sorting the few matches costs less. So it does in the
            # order of a user or an end time, whose walk sorts every match anyway (runs
            # without one come last: an expression no index holds), and a scan is split.
            driver = await self.driving_set(search, scans=True, sizes=sizes)
            keyed = key_window(search.keys)
            if driver is None and keyed:
                driver = await self._large_set(search, sizes)
            search = self._by_selectivity(search, sizes)
            scan = keyed or sorts_every_match(search.keys)
            if driver or scan:
                return await self._page(search, None, driver, scan=scan)
        elif not attempt:
            driver = await self.driving_set(search, scans=True, sizes=sizes)
            search = self._by_selectivity(search, sizes)
            if worth_driving(driver):
                return await self._page(search, None, driver)
        return None if attempt else await self._page(search, None)

    async def _windows(self, search: RunSearch) -> list[str] | None:
        """The page from the first runs in its order (``walk_window``), a window and then a
        wider one; None when they do not hold it. The page usually lies among those runs:
        testing them costs less than a plan that sorts every match."""
        full, keys = search.limit, search.keys
        need = search.offset + full
        window = max(WINDOW, 4 * need)
        edge = await self._edge(search, window)
        if await self._probes(search, window, edge):
            edge = msgspec.structs.replace(edge, probe=True)
        ids = await self._page(search, edge)
        if len(ids) < full and edge.value is not None:
            # Not a page: a wider window (``_wider``). On the first page, the first
            # window's matches are all in it: the wider one only searches past its edge,
            # for the rest of the page.
            wider = await self._wider(search, window, len(ids))
            if wider is not None:
                last, edge = edge, await self._edge(search, wider)
                if search.offset == 0:
                    rest = msgspec.structs.replace(search, limit=full - len(ids))
                    ids += await self._page(rest, Edge(edge.value, after=last.value))
                else:
                    ids = await self._page(search, edge)
        if len(ids) == full:
            return ids
        if time_ordered(keys) is not None and edge.value is None:
            return ids  # the window held every run of the scope
        return None

    async def _probes(self, search: RunSearch, window: int, edge: Edge) -> bool:
        """PostgreSQL: whether a window of a param's or tag's values probes each of its
        runs (as a metric's does). Its planner judges the filter's other keys from
        statistics of every key's values (``optimizer = 'sgd'`` at 2,600 runs, 20,000
        found) and joins from them, where the window holds a few thousand runs; but a
        window holds every run tied on its edge's value, which may be thousands more: it
        probes only when the value at twice its width differs (an index probe). Not with
        an ``IS NULL`` or ``IS NOT NULL`` part, whose probe of a run PostgreSQL plans as
        an anti-join of one row, and then hashes every run."""
        first = search.keys[0].field.entity if search.keys else None
        if self._dialect != "postgres" or edge.value is None or first not in _GROUPED:
            return False
        if any(c.op in ("IS NULL", "IS NOT NULL") for c in comparisons_of(search.expr)):
            return False
        wider = await self._edge(search, 2 * window)
        return bool(wider.value != edge.value)

    async def _wider(self, search: RunSearch, window: int, found: int) -> int | None:
        """How many entries a second window reads, when the first (``window`` wide) held
        ``found`` of the page's matches (and its offset's); None for none. Some matches:
        a window as many times larger as the page needs, and half again, holds it at the
        same rate, if it costs less than the plans after it: within ``WIDER_MAX``, or a
        ``WIDER_SHARE``-th of a large scope, whose scan it would spare (on 1,000,000 runs,
        0.7-1.5 s). No match: in a scope that large, the share's whole width, for an order
        whose first entries the matches avoid (the lowest values of a metric, of runs
        that crashed without their params; the newest runs, where the filter names older
        ones); otherwise the matches are too rare for any window."""
        keyed, need = key_window(search.keys), search.offset + search.limit
        at_rate = window * need * 3 // (2 * (search.offset + found)) if found else None
        if at_rate is not None and at_rate <= WIDER_MAX[keyed]:
            return at_rate
        share = await self._scope_size(search) // WIDER_SHARE[keyed]
        if at_rate is not None:
            return at_rate if at_rate <= share else None
        return share if share > WIDER_MAX[keyed] and search.offset == 0 else None

    async def _large_set(self, search: RunSearch, sizes: Sizes) -> Chosen | None:
        """Once the windows missed in a key's order and no set is within ``PROBE_CAP``
        (the alternative is a scan of the whole scope: a walk in the key's order would
        probe every run): a set of up to a ``SCAN_RATIO``-th of the scope's runs (and
        ``LARGE_CAP``), if the scope is large enough to hold one; None when there is
        none. A walk in start-time order, also the alternative, stops at a full page."""
        driver = drivers_of(search.expr)
        if driver is None or not past_cap(driver, sizes):
            return None  # no set was too large to count: none is worth recounting
        scope = self._scope(search)
        cap = large_cap(await self._scope_size(search))
        if cap is None:
            return None
        leaves = to_count(driver, sizes, self._dialect, scans=False, cap=cap)
        await self._count_sets(leaves, scope, sizes, cap)
        chosen = choose(driver, sizes, self._dialect, cap)
        if chosen is None or chosen.costly or read_cost(chosen, sizes) > cap:
            return None
        return with_ids(chosen, sizes)

    async def _scope_size(self, search: RunSearch) -> int:
        """How many runs the search's scope holds (``scope_size_sql``), as counted in the
        last ``SCOPE_SIZE_TTL`` seconds: a count reads the scope's index, 80-150 ms for
        1,000,000 runs, and only guides the choice of a plan."""
        key = (search.experiment_ids, search.stages)
        now = time.monotonic()
        known = self._scope_sizes.get(key)
        if known is not None and now - known[0] < SCOPE_SIZE_TTL:
            return known[1]
        b = SqlBuilder(self._dialect)
        rows = await self._fetchall(scope_size_sql(b, self._scope(search)), b.params)
        if len(self._scope_sizes) >= SCOPE_SIZES_KEPT:
            self._scope_sizes.clear()
        self._scope_sizes[key] = (now, int(rows[0][0]))
        return int(rows[0][0])

    async def _edge(self, search: RunSearch, window: int) -> Edge:
        b = SqlBuilder(self._dialect)
        rows = await self._fetchall(window_edge_sql(b, search, window), b.params)
        return Edge(rows[0][0] if rows else None)

    def _by_selectivity(self, search: RunSearch, sizes: Sizes) -> RunSearch:
        expr = by_selectivity(search.expr, sizes, self._dialect)
        return msgspec.structs.replace(search, expr=expr)

    def _scope(self, search: RunSearch) -> Callable[[SqlBuilder, str], str]:
        def scope(b: SqlBuilder, alias: str) -> str:
            return run_scope(b, list(search.experiment_ids), search.stages, alias)

        return scope

    async def driving_set(
        self, search: RunSearch, *, scans: bool, sizes: Sizes | None = None
    ) -> Chosen | None:
        """The filter's driving set, counted, if it is small enough to read at all
        (``search/plan.py``; ``scans``: count the filtered scans too). ``sizes`` keeps
        the counts for the search's later plans, which count only what is new."""
        driver = drivers_of(search.expr)
        if driver is None:
            return None
        sizes = Sizes() if sizes is None else sizes
        scope = self._scope(search)
        leaves = to_count(driver, sizes, self._dialect, scans=scans)
        await self._count_sets(leaves, scope, sizes)
        chosen = choose(driver, sizes, self._dialect)
        if chosen is None:
            return None
        if needs_count(chosen):
            if chosen.driver not in sizes:
                b = SqlBuilder(self._dialect)
                rows = await self._fetchall(count_sql(b, chosen, scope), b.params)
                kept_count(chosen, rows[0], sizes)
            chosen = Chosen(chosen.driver, sizes[chosen.driver], chosen.costly)
        return with_ids(chosen, sizes)

    async def _count_sets(
        self, leaves: list[DriverLeaf], scope: Scope, sizes: Sizes, cap: int | None = None
    ) -> None:
        """Count the leaves' sets into ``sizes``, up to ``cap`` (``probe_sql``). Given a
        commit mark, the bound of a set of the runs that lack a key (``DriverLeaf.bound``)
        is kept until a write commits (``_kept_bound``)."""
        limit = PROBE_CAP if cap is None else cap
        bounded = [leaf for leaf in leaves if leaf.bounded] if self._commit_mark else []
        mark = await self._forget_if_written() if bounded else None
        for leaf in bounded:
            bound = max(await self._kept_bound(leaf, mark), 0)
            sizes[leaf] = bound if bound <= limit else limit + 1
        fresh = [leaf for leaf in leaves if leaf not in bounded]
        if fresh:
            b = SqlBuilder(self._dialect)
            rows = await self._fetchall(probe_sql(b, fresh, scope, cap), b.params)
            counted(fresh, rows[0], sizes, self._dialect)

    async def _forget_if_written(self) -> Any:
        """The commit mark, read now; the kept bounds dropped if a write committed since
        they were counted. Each was counted after its mark was read, so an equal mark
        later says that it read the same tables."""
        assert self._commit_mark is not None, "bounds are kept only given a commit mark"
        mark = await self._commit_mark()
        if mark != self._counts_at:
            self._counts.clear()
            self._counts_at = mark
        return mark

    async def _kept_bound(self, leaf: DriverLeaf, mark: Any) -> int:
        """A set's bound (every run's count less the key's rows, one statement, so one
        snapshot), as counted since a write last committed: each count reads every row it
        counts (90 ms for a key of 1,000,000 runs on SQLite, 30 ms for 100,000 on
        PostgreSQL), where a search that reads what no run lacks answers at once. Only
        bounds of the search's own ``mark`` are read or kept: a search running alongside
        may have read a later mark (and a count this one took before that write must not
        be kept under it) or an earlier one."""
        b = SqlBuilder(self._dialect)
        bound = leaf.bound(b)
        assert bound is not None, "only a set of the runs that lack a key has a bound"
        key = (bound, tuple(b.params))
        if self._counts_at == mark and key in self._counts:
            return self._counts[key]
        rows = await self._fetchall(f"SELECT {bound}", b.params)
        count = int(rows[0][0])
        if self._counts_at == mark:
            if len(self._counts) >= COUNTS_KEPT:
                self._counts.clear()
            self._counts[key] = count
        return count

    async def _first_group(
        self, search: RunSearch, depth: int, sizes: Sizes
    ) -> tuple[list[str] | None, bool]:
        """For an order whose first key is a param, a tag or a user whose first value more
        than ``WINDOW`` runs share (a window would read and sort them all), the page from
        those runs (``search/groups.py``); None when there is no such group or it does not
        hold the page and one more run; and whether there is such a group (a window in
        this order would then read all of its runs: an attempt stops there). A user the
        filter compares otherwise than by ``=`` (which leaves the key out of the order) is
        not grouped: its first value is read without the filter."""
        key = group_key(search.keys)
        if key is None or not stops_early(search.keys[1:]) or compared(key, search.expr):
            return None, False
        b = SqlBuilder(self._dialect)
        first = first_value_sql(b, key, search.expr, self._scope(search))
        rows = await self._fetchall(first, b.params)
        if not rows:
            return None, False
        value = str(rows[0][0])
        within = search.within_first_group(value)
        if not fits_driven(within):
            return None, False
        b = SqlBuilder(self._dialect)
        size = group_size_sql(b, key, value, self._scope(search), WINDOW + 1)
        if int((await self._fetchall(size, b.params))[0][0]) <= WINDOW:
            return None, False
        ids = await self._search(within, depth + 1, sizes, attempt=True)
        return (ids if ids is not None and len(ids) == search.limit else None), True


def _splits(search: RunSearch, dialect: str) -> bool:
    """Whether a scan of the whole scope runs split (``SPLIT_PARTS``): on SQLite, with a
    filter and a page of at most ``SPLIT_PAGE_MAX``. A walk is not: it stops at the page,
    and each share would have to find a whole page of its own: when fewer than two pages
    match, each share reads every run it holds where one walk stopped early (one search of
    1,000,000 runs 11 -> 98 ms). PostgreSQL is not split: it joins a key's rows by hashing
    them all, and each part would hash every one of them again."""
    return (
        dialect == "sqlite"
        and SPLIT_PARTS > 1
        and search.expr is not None
        and search.offset + search.limit <= SPLIT_PAGE_MAX
    )
