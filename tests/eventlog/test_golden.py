"""The stored event format is pinned by committed samples of every event type.

How the samples work, and how to add one for a new event type or a new field (a test
here fails until you do): see ``golden_samples.py``. In short::

    .venv/bin/python -m tests.eventlog.golden_samples   # writes only what is missing
"""

from __future__ import annotations

import pytest

from tests.eventlog.golden_samples import Sample, compare, event_types, samples
from trackledger.eventlog.events import decode_event, encode_event
from trackledger.eventlog.upcast import UPCASTERS

SAMPLES = samples()
HOW = "write it with `.venv/bin/python -m tests.eventlog.golden_samples`, review, commit"


def test_every_event_type_has_a_complete_sample():
    complete = set()
    for found in SAMPLES:
        if found.tag in event_types():
            problems, whole = compare(decode_event(found.payload), found.recorded)
            if whole and not problems:
                complete.add(found.tag)
    missing = sorted(set(event_types()) - complete)
    assert not missing, f"no sample sets every field of {missing}: {HOW}"


@pytest.mark.parametrize("found", SAMPLES, ids=lambda s: s.path.stem)
def test_a_sample_decodes_to_its_fields_and_encodes_to_its_bytes(found: Sample):
    if found.tag not in event_types():
        # A tag no current event has: only an upcaster can read it.
        assert found.tag in UPCASTERS, f"{found.tag!r} is no event type and has no upcaster"
        decode_event(found.payload)
        return
    event = decode_event(found.payload)
    problems, complete = compare(event, found.recorded)
    assert problems == []
    if complete:
        assert encode_event(event) == found.payload
