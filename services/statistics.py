"""Keep the database's planner statistics fresh while the server runs."""

from __future__ import annotations

import asyncio
import logging

from trackledger.services.backends import Backend

__all__ = ["keep_statistics"]

log = logging.getLogger("trackledger.services.statistics")


async def keep_statistics(backend: Backend, interval_s: float) -> None:
    """Refresh now, then every ``interval_s`` seconds, for as long as the server runs."""
    while True:
        try:
            analyzed = await backend.refresh_statistics()
        except Exception:  # keep serving; the next round tries again
            log.exception("refreshing statistics failed")
        else:
            if analyzed:
                log.info("analyzed %s", ", ".join(analyzed))
        await asyncio.sleep(interval_s)
