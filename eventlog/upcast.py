"""Reading events written in a shape the code no longer has.

An event's fields only ever gain defaults, and a field's type and an event's tag never
change (``events.py``). A change that cannot follow those rules gives the event a new tag,
and the old tag stays readable through an upcaster registered here: a function from the
old payload, decoded as plain msgpack (a dict with its ``"type"``), to a current event.
Stored events are never rewritten; every reader (the feed, histories, as-of, rebuild,
export) decodes through ``decode_event``, which tries the current events first and asks
this registry only about a payload they refuse, so decoding current events costs nothing
more. An export writes the upcast event, in the current shape.

A hypothetical example: had metric points once been logged one per event, as
``{"type": "run.metric_logged", "run_id": ..., "key": ..., "value": ..., "timestamp": ...}``::

    @upcaster("run.metric_logged")
    def _one_point(raw: dict[str, Any]) -> AnyEvent:
        point = MetricPoint(raw["key"], raw["value"], raw["timestamp"], raw.get("step", 0))
        return MetricsLogged(run_id=raw["run_id"], metrics=[point])
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import msgspec

from trackledger.eventlog.events import AnyEvent

__all__ = ["UPCASTERS", "Upcaster", "upcast", "upcaster"]

#: Turns an old payload (a plain dict, ``"type"`` included) into a current event.
Upcaster = Callable[[dict[str, Any]], AnyEvent]

#: Old tag -> its upcaster.
UPCASTERS: dict[str, Upcaster] = {}


def _current_tags() -> set[str]:
    return {cls.__struct_config__.tag for cls in typing.get_args(AnyEvent)}


def upcaster(tag: str) -> Callable[[Upcaster], Upcaster]:
    """Register the decorated function as the reader of payloads tagged ``tag``."""

    def register(function: Upcaster) -> Upcaster:
        if tag in _current_tags():
            raise ValueError(f"{tag!r} is a current event's tag: it needs no upcaster")
        if tag in UPCASTERS:
            raise ValueError(f"{tag!r} already has an upcaster")
        UPCASTERS[tag] = function
        return function

    return register


def upcast(payload: bytes, refused: msgspec.ValidationError) -> AnyEvent:
    """The current event for a payload the current events refused (``refused``, raised
    again when no upcaster knows its tag)."""
    try:
        raw = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError:
        raise refused from None
    tag = raw.get("type") if isinstance(raw, dict) else None
    convert = UPCASTERS.get(tag) if isinstance(tag, str) else None
    if convert is None:
        raise refused
    return convert(raw)
