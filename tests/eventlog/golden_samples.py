"""Pinned encodings of the stored event format: samples of every event type.

``golden/<tag>.json`` holds one event of that type as the log stores it (``msgpack``, hex)
and field by field (``event``, nested structs as objects keyed by field name).
``test_golden.py`` decodes each sample and compares it field by field, and re-encodes it
byte for byte, so a reordered, retyped or renamed field fails CI instead of misreading
the logs already written.

Samples are never rewritten: they stand for logs on disk. A sample is *complete* when it
sets every field its type has now. When a field is added (with a default, as events.py
requires), the old sample must still decode, its new field at the default, and a new
complete sample ``<tag>@2.json`` pins the new shape. Write samples for the event types
that lack a complete one (a new type, a new field), then review and commit them::

    .venv/bin/python -m tests.eventlog.golden_samples

Samples are made from the type annotations: every field, optional ones included, gets a
value of its own (no two alike), so that swapping two fields of one type changes what
decodes.
"""

from __future__ import annotations

import itertools
import json
import sys
import typing
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect

from trackledger.eventlog.events import AnyEvent, Event, encode_event

__all__ = [
    "GOLDEN",
    "Sample",
    "compare",
    "event_types",
    "fields",
    "sample",
    "samples",
    "write_missing",
]

GOLDEN = Path(__file__).parent / "golden"


def event_types() -> dict[str, type[Event]]:
    """Every event type of the log, by tag."""
    return {cls.__struct_config__.tag: cls for cls in typing.get_args(AnyEvent)}


def fields(value: Any) -> Any:
    """``value`` with structs as objects keyed by field name (array-like ones included)."""
    if isinstance(value, msgspec.Struct):
        out = {name: fields(getattr(value, name)) for name in value.__struct_fields__}
        tag = value.__struct_config__.tag
        return {"type": tag, **out} if tag is not None else out
    if isinstance(value, list):
        return [fields(v) for v in value]
    return value


def _value(kind: inspect.Type, name: str, counter: itertools.count[int]) -> Any:
    n = next(counter)
    if isinstance(kind, inspect.UnionType):
        present = [t for t in kind.types if not isinstance(t, inspect.NoneType)]
        return _value(present[0], name, counter)
    if isinstance(kind, inspect.StrType):
        return f"{name}-{n}"
    if isinstance(kind, inspect.BoolType):
        return True
    if isinstance(kind, inspect.IntType):
        return 1_000 + n
    if isinstance(kind, inspect.FloatType):
        return n + 0.25
    if isinstance(kind, inspect.ListType):
        return [_value(kind.item_type, name, counter)]
    if isinstance(kind, inspect.StructType):
        return _build(kind, counter)
    if isinstance(kind, inspect.DictType):
        return {f"{name}-key-{n}": _value(kind.value_type, name, counter)}
    if isinstance(kind, inspect.AnyType):  # decoded JSON-like data (span attributes)
        return {"text": f"{name}-{n}", "number": n, "items": [n + 0.25, True, None]}
    raise TypeError(f"no sample value for {kind!r} (field {name}): extend golden_samples.py")


def _build(info: inspect.StructType, counter: itertools.count[int]) -> Any:
    values = {f.name: _value(f.type, f.name, counter) for f in info.fields}
    return info.cls(**values)


def sample(cls: type[Event]) -> Event:
    """An event of type ``cls`` with every field set, each to a value of its own."""
    info = inspect.type_info(cls)
    assert isinstance(info, inspect.StructType)
    built: Event = _build(info, itertools.count(1))
    return built


def compare(value: Any, recorded: Any, path: str = "event") -> tuple[list[str], bool]:
    """How decoded ``value`` departs from its ``recorded`` fields, and whether the record
    names every field ``value`` has (fields added since must hold their defaults)."""
    if isinstance(value, msgspec.Struct):
        if not isinstance(recorded, dict):
            return [f"{path}: recorded {recorded!r}, decoded a struct"], False
        problems: list[str] = []
        complete = True
        tag = value.__struct_config__.tag
        if tag is not None and recorded.get("type") != tag:
            problems.append(f"{path}: recorded type {recorded.get('type')!r}, decoded {tag!r}")
        for name in sorted(set(recorded) - set(value.__struct_fields__) - {"type"}):
            problems.append(f"{path}.{name}: recorded, but no longer a field")
        for field in msgspec.structs.fields(value):
            got = getattr(value, field.name)
            if field.name in recorded:
                more, whole = compare(got, recorded[field.name], f"{path}.{field.name}")
                problems += more
                complete = complete and whole
                continue
            complete = False
            default = (
                field.default if field.default is not msgspec.NODEFAULT else field.default_factory()
            )
            if got != default:
                problems.append(f"{path}.{field.name}: added since, but decodes to {got!r}")
        return problems, complete
    if isinstance(value, list):
        if not isinstance(recorded, list) or len(recorded) != len(value):
            return [f"{path}: recorded {recorded!r}, decoded {value!r}"], False
        problems, complete = [], True
        for i, (item, record) in enumerate(zip(value, recorded, strict=True)):
            more, whole = compare(item, record, f"{path}[{i}]")
            problems += more
            complete = complete and whole
        return problems, complete
    if type(value) is not type(recorded) or value != recorded:
        return [f"{path}: recorded {recorded!r}, decoded {value!r}"], True
    return [], True


class Sample(msgspec.Struct, frozen=True):
    path: Path
    payload: bytes
    recorded: dict[str, Any]

    @property
    def tag(self) -> str:
        return str(self.recorded["type"])


def samples(directory: Path = GOLDEN) -> list[Sample]:
    out = []
    for path in sorted(directory.glob("*.json")):
        document = json.loads(path.read_text())
        out.append(Sample(path, bytes.fromhex(document["msgpack"]), document["event"]))
    return out


def _complete_tags(directory: Path) -> set[str]:
    from trackledger.eventlog.events import decode_event

    done = set()
    for found in samples(directory):
        try:
            problems, complete = compare(decode_event(found.payload), found.recorded)
        except msgspec.DecodeError:
            continue
        if complete and not problems:
            done.add(found.tag)
    return done


def write_missing(directory: Path = GOLDEN) -> list[Path]:
    """Write a sample for every event type without a complete one; never overwrite one.
    Returns the files written."""
    directory.mkdir(exist_ok=True)
    complete = _complete_tags(directory)
    written = []
    for tag, cls in sorted(event_types().items()):
        if tag in complete:
            continue
        path = directory / f"{tag}.json"
        version = 1
        while path.exists():
            version += 1
            path = directory / f"{tag}@{version}.json"
        event = sample(cls)
        document = {"event": fields(event), "msgpack": encode_event(event).hex()}
        with path.open("x") as out:  # never overwrite a pinned sample
            json.dump(document, out, indent=2, sort_keys=True)
            out.write("\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_missing():
        print(f"wrote {path}", file=sys.stderr)
