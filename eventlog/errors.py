"""Domain errors raised by the event log and its commands.

Hierarchy::

    TrackingError
    ├── InvalidInput             the request is malformed or breaks a limit
    │   ├── InactiveRun          a write to a deleted run
    │   ├── InactiveExperiment   a write into a deleted experiment
    │   ├── ParamChanged         a param was logged again with another value
    │   └── IdempotencyKeyReused the same key came with another request
    ├── NotFound                 an unknown run, experiment or tag
    ├── AlreadyExists            a duplicate experiment name on create
    ├── NameConflict             a rename onto a name another experiment holds
    ├── InvalidState             the entity is in a state that forbids the operation
    └── StoreUnavailable         the store cannot serve (closed, disk error)

They carry no transport codes: ``trackledger.api.errors`` maps them to MLflow error codes.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "IdempotencyKeyReused",
    "InactiveExperiment",
    "InactiveRun",
    "InvalidInput",
    "InvalidState",
    "NameConflict",
    "NotFound",
    "ParamChanged",
    "StoreUnavailable",
    "TrackingError",
]


class TrackingError(Exception):
    """Base class; ``str(error)`` is the message shown to the user."""


class InvalidInput(TrackingError):
    pass


class InactiveRun(InvalidInput):
    def __init__(self, run_id: str, stage: str) -> None:
        super().__init__(
            f"The run {run_id} must be in the 'active' state. Current state is {stage}."
        )


class InactiveExperiment(InvalidInput):
    def __init__(self, experiment_id: str, stage: str) -> None:
        super().__init__(
            f"The experiment {experiment_id} must be in the 'active' state. "
            f"Current state is {stage}."
        )


class ParamChanged(InvalidInput):
    pass


class IdempotencyKeyReused(InvalidInput):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request; "
            "send a new key for a new request."
        )


class NotFound(TrackingError):
    pass


class AlreadyExists(TrackingError):
    pass


class NameConflict(TrackingError):
    pass


class InvalidState(TrackingError):
    pass


class StoreUnavailable(TrackingError):
    pass
