"""A share of a search's runs, for a scan split across SQLite's reader connections
(``RunSearcher._split``)."""

from __future__ import annotations

import msgspec

from trackledger.projections.search.sql import SqlBuilder

__all__ = ["Share"]

#: 2^32 divided by the golden ratio, odd: the multiplier of ``Share``'s hash.
_GOLDEN = 2654435761


class Share(msgspec.Struct, frozen=True):
    """One of ``of`` equal shares of the runs (SQLite only), by a multiplicative hash of
    their row numbers (Knuth's: the fraction of rowid x 0.618...): rows numbered in any
    arithmetic progression, as runs logged in turns by a sweep are, spread over every share
    alike, where ``rowid % of`` put every run of such a turn in one share (a search for
    the names ending in 0 found all of them in one share, and the other read every run).
    Every index of the runs holds the row number, so a run outside the share is passed
    over on its index entry, before any probe."""

    index: int
    of: int

    def sql(self, b: SqlBuilder) -> str:
        return (
            f"(r.rowid * {_GOLDEN} % {1 << 32}) * {b.param(self.of)} / {1 << 32} "
            f"= {b.param(self.index)}"
        )
