"""What an authenticated user may do: their grants, resolved per resource.

A user's grants (their own and their roles') are read once and kept for ``GRANTS_SECONDS``;
a change made through this process empties the cache at once. Which experiment a run or a
logged model belongs to never changes, so that is cached for as long as there is room.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import msgspec

from trackledger.api.auth.principal import Principal
from trackledger.eventlog import access
from trackledger.eventlog.access import Grant
from trackledger.projections.auth_reads import AuthReads

__all__ = ["AccessControl", "ExperimentScope"]

GRANTS_SECONDS = 5.0
PARENTS_SIZE = 200_000


class ExperimentScope(msgspec.Struct, frozen=True):
    """The experiments a user may read: every one (``only`` False) except ``ids``, or
    (``only`` True) just ``ids``."""

    only: bool
    ids: frozenset[str]

    def allows(self, experiment_id: str) -> bool:
        return (experiment_id in self.ids) == self.only

    def restrict(self) -> tuple[bool, tuple[int, ...]] | None:
        """For the experiment search: None when nothing is left out."""
        if not self.only and not self.ids:
            return None
        return self.only, tuple(sorted(int(i) for i in self.ids if i.isdigit()))

    def restrict_ids(self) -> tuple[bool, tuple[str, ...]] | None:
        """For searches of resources with text ids (registered models)."""
        if not self.only and not self.ids:
            return None
        return self.only, tuple(sorted(self.ids))


EVERY_EXPERIMENT = ExperimentScope(False, frozenset())


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, key: str) -> str | None:
        return self._items.get(key)

    def put(self, key: str, value: str) -> None:
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)


class AccessControl:
    def __init__(self, default: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.default = default
        self._clock = clock
        self._grants: dict[int, tuple[list[Grant], float]] = {}
        #: (user, type, id, action) -> (allowed, until): a logging client asks the same
        #: question on every request.
        self._decisions: dict[tuple[int, str, str, str], tuple[bool, float]] = {}
        self._run_experiments = _Lru(PARENTS_SIZE)
        self._model_experiments = _Lru(PARENTS_SIZE)

    def invalidate(self) -> None:
        self._grants.clear()
        self._decisions.clear()

    async def grants(self, reads: AuthReads, principal: Principal) -> list[Grant]:
        held = self._grants.get(principal.user_id)
        if held is not None and held[1] > self._clock():
            return held[0]
        found = await reads.grants_for(principal.user_id)
        if len(self._grants) > 10_000:
            self._grants.clear()
        self._grants[principal.user_id] = (found, self._clock() + GRANTS_SECONDS)
        return found

    async def permission(
        self, reads: AuthReads, principal: Principal, resource_type: str, resource_id: str
    ) -> str:
        """The level ``principal`` has on one resource."""
        if principal.is_admin:
            return access.MANAGE
        grants = await self.grants(reads, principal)
        return access.effective(grants, resource_type, resource_id, self.default)

    async def allowed(
        self,
        reads: AuthReads,
        principal: Principal,
        resource_type: str,
        resource_id: str,
        action: str,
    ) -> bool:
        if principal.is_admin:
            return True
        key = (principal.user_id, resource_type, resource_id, action)
        known = self._decisions.get(key)
        now = self._clock()
        if known is not None and known[1] > now:
            return known[0]
        level = await self.permission(reads, principal, resource_type, resource_id)
        decided = access.allows(level, action)
        if len(self._decisions) > 100_000:
            self._decisions.clear()
        self._decisions[key] = (decided, now + GRANTS_SECONDS)
        return decided

    async def experiment_scope(self, reads: AuthReads, principal: Principal) -> ExperimentScope:
        """The experiments ``principal`` may read, for searches."""
        return await self.readable(reads, principal, access.EXPERIMENT)

    async def readable(
        self, reads: AuthReads, principal: Principal, resource_type: str
    ) -> ExperimentScope:
        """The resources of a type ``principal`` may read, for searches."""
        if principal.is_admin:
            return EVERY_EXPERIMENT
        grants = await self.grants(reads, principal)
        if access.manages_everything(grants):
            return EVERY_EXPERIMENT
        mine = [g for g in grants if g.resource_type == resource_type]
        every = [g.permission for g in mine if g.pattern == "*"]
        base = access.allows(access.floor(access.fold(every), self.default), "read")
        specific: dict[str, list[str]] = {}
        for g in mine:
            if g.pattern != "*":
                specific.setdefault(g.pattern, []).append(g.permission)
        differ = frozenset(
            experiment_id
            for experiment_id, levels in specific.items()
            if access.allows(access.floor(access.fold([*levels, *every]), self.default), "read")
            != base
        )
        return ExperimentScope(only=not base, ids=differ)

    async def run_experiment(self, reads: AuthReads, run_id: str) -> str | None:
        found = self._run_experiments.get(run_id)
        if found is None:
            found = await reads.run_experiment(run_id)
            if found is not None:
                self._run_experiments.put(run_id, found)
        return found

    async def model_experiment(self, reads: AuthReads, model_id: str) -> str | None:
        found = self._model_experiments.get(model_id)
        if found is None:
            found = await reads.model_experiment(model_id)
            if found is not None:
                self._model_experiments.put(model_id, found)
        return found
