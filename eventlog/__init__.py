"""The append-only event log: events, commands and the decisions that turn one into the
other, and the stores that keep them."""

from trackledger.eventlog.commands import AnyCommand
from trackledger.eventlog.errors import TrackingError
from trackledger.eventlog.events import AnyEvent
from trackledger.eventlog.store import EventStore, Idempotency, StoredEvent

__all__ = ["AnyCommand", "AnyEvent", "EventStore", "Idempotency", "StoredEvent", "TrackingError"]
