"""Route a command to its decision, and drive a decision with a lookup answerer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trackledger.eventlog import commands as c
from trackledger.eventlog import decide_experiments as experiments
from trackledger.eventlog import decide_runs as runs
from trackledger.eventlog.context import DecideContext
from trackledger.eventlog.lookups import Decision, Lookup, Outcome

__all__ = ["decide", "run_sync"]

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
    c.DeleteRun: runs.delete,
    c.RestoreRun: runs.restore,
}


def decide(command: c.AnyCommand, ctx: DecideContext) -> Decision:
    return _DECISIONS[type(command)](command, ctx)


def run_sync(decision: Decision, answer: Callable[[Lookup], Any]) -> Outcome:
    """Drive ``decision`` to its outcome, answering each lookup with ``answer``."""
    reply: Any = None
    try:
        while True:
            reply = answer(decision.send(reply))
    except StopIteration as stop:
        outcome: Outcome = stop.value
        return outcome
