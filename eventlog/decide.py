"""Route a command to its decision, and drive a decision with a lookup answerer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from trackledger.eventlog import commands as c
from trackledger.eventlog import decide_assessments as assessments
from trackledger.eventlog import decide_auth as auth
from trackledger.eventlog import decide_experiments as experiments
from trackledger.eventlog import decide_lifecycle as lifecycle
from trackledger.eventlog import decide_models as models
from trackledger.eventlog import decide_registry as registry
from trackledger.eventlog import decide_runs as runs
from trackledger.eventlog import decide_traces as traces
from trackledger.eventlog import decide_versions as versions
from trackledger.eventlog import registry_commands as rc
from trackledger.eventlog import trace_commands as tc
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.errors import TrackingError
from trackledger.eventlog.lookups import Decision, Lookup, Outcome

__all__ = ["Lockstep", "Primed", "decide"]

_DECISIONS: dict[type, Callable[[Any, DecideContext], Decision]] = {
    c.EnsureDefaultExperiment: experiments.ensure_default,
    c.CreateExperiment: experiments.create,
    c.RenameExperiment: experiments.rename,
    c.SetExperimentTag: experiments.set_tag,
    c.DeleteExperimentTag: experiments.delete_tag,
    c.DeleteExperiment: experiments.delete,
    c.RestoreExperiment: experiments.restore,
    c.CreateRun: runs.create,
    c.UpdateRun: runs.update,
    c.LogBatch: runs.log_batch,
    c.DeleteRunTag: runs.delete_tag,
    c.LogInputs: runs.log_inputs,
    c.DeleteRun: lifecycle.delete,
    c.RestoreRun: lifecycle.restore,
    c.DeleteRunsByTime: lifecycle.delete_by_time,
    c.RestoreRunsByTime: lifecycle.restore_by_time,
    c.Purge: lifecycle.purge,
    c.CreateLoggedModel: models.create,
    c.FinalizeLoggedModel: models.finalize,
    c.SetLoggedModelTags: models.set_tags,
    c.DeleteLoggedModelTag: models.delete_tag,
    c.LogLoggedModelParams: models.log_params,
    c.DeleteLoggedModel: models.delete,
    c.LogOutputs: models.log_outputs,
    c.RecordArtifact: models.record_artifact,
    **auth.DECISIONS,
    tc.StartTrace: traces.start,
    tc.StartTraceV2: traces.start_v2,
    tc.EndTraceV2: traces.end_v2,
    tc.LogSpans: traces.log_spans,
    tc.SetTraceTag: traces.set_tag,
    tc.DeleteTraceTag: traces.delete_tag,
    tc.DeleteTraces: traces.delete,
    tc.RestoreTraces: traces.restore,
    tc.LinkTracesToRun: traces.link_to_run,
    tc.LinkPromptsToTrace: traces.link_prompts,
    tc.CreateAssessment: assessments.create,
    tc.UpdateAssessment: assessments.update,
    tc.DeleteAssessment: assessments.delete,
    rc.CreateRegisteredModel: registry.create,
    rc.RenameRegisteredModel: registry.rename,
    rc.UpdateRegisteredModel: registry.update,
    rc.DeleteRegisteredModel: registry.delete,
    rc.SetRegisteredModelTag: registry.set_tag,
    rc.DeleteRegisteredModelTag: registry.delete_tag,
    rc.SetRegisteredModelAlias: registry.set_alias,
    rc.DeleteRegisteredModelAlias: registry.delete_alias,
    rc.CreateModelVersion: versions.create,
    rc.UpdateModelVersion: versions.update,
    rc.TransitionModelVersionStage: versions.transition,
    rc.DeleteModelVersion: versions.delete,
    rc.SetModelVersionTag: versions.set_tag,
    rc.DeleteModelVersionTag: versions.delete_tag,
}


def decide(command: c.AnyCommand, ctx: DecideContext) -> Decision:
    return _DECISIONS[type(command)](command, ctx)


class Primed:
    """A decision run up to its first lookup: it has checked all it can without state.

    Priming happens before a command reaches its store's transaction, so an invalid
    request is refused without ever queueing for the writer, and the transaction itself
    only answers lookups and writes.
    """

    def __init__(self, decision: Decision) -> None:
        self._decision = decision
        self._lookup: Lookup | None = None
        self._outcome: Outcome | None = None
        try:
            self._lookup = decision.send(None)
        except StopIteration as stop:
            self._outcome = stop.value

    @property
    def lookup(self) -> Lookup | None:
        """The lookup the decision waits on, or None once it has decided."""
        return self._lookup if self._outcome is None else None

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome

    def give(self, answer: Any) -> None:
        """Answer the pending lookup: the decision runs on to its next lookup or decides
        (a rejection raises here)."""
        try:
            self._lookup = self._decision.send(answer)
        except StopIteration as stop:
            self._outcome = stop.value

    def finish_sync(self, answer: Callable[[Lookup], Any]) -> Outcome:
        while (lookup := self.lookup) is not None:
            self.give(answer(lookup))
        assert self._outcome is not None
        return self._outcome

    async def finish(self, answer: Callable[[Lookup], Awaitable[Any]]) -> Outcome:
        while (lookup := self.lookup) is not None:
            self.give(await answer(lookup))
        assert self._outcome is not None
        return self._outcome


class Lockstep:
    """Decisions that read unrelated state (log-batch commands of distinct runs), driven
    together: each round answers all their pending lookups at once, so a group costs one
    query per kind of lookup and round rather than one per decision.

        step = Lockstep(primed)
        while pending := step.pending():
            step.give(answer_many([lookup for _, lookup in pending]))
        outcomes = step.outcomes()
    """

    def __init__(self, primed: list[Primed]) -> None:
        self._primed = primed
        self._rejected: dict[int, TrackingError] = {}
        self._asked: list[int] = []

    def pending(self) -> list[tuple[int, Lookup]]:
        """The lookups waiting now, each with the index of its decision."""
        waiting = [
            (i, lookup)
            for i, primed in enumerate(self._primed)
            if i not in self._rejected and (lookup := primed.lookup) is not None
        ]
        self._asked = [i for i, _ in waiting]
        return waiting

    def give(self, answers: list[Any]) -> None:
        """Answer the lookups of the last ``pending()``, in its order."""
        for i, answer in zip(self._asked, answers, strict=True):
            try:
                self._primed[i].give(answer)
            except TrackingError as exc:
                self._rejected[i] = exc

    def outcomes(self) -> list[Outcome | TrackingError]:
        """Each decision's outcome, or the error that rejected it."""
        decided: list[Outcome | TrackingError] = []
        for i, primed in enumerate(self._primed):
            outcome = primed.outcome
            decided.append(outcome if outcome is not None else self._rejected[i])
        return decided
