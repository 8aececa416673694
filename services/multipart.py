"""Multipart uploads the client sends straight to storage (MLflow's ``/mpu`` endpoints).

A store that can hand out part-upload URLs (object storage) implements ``MultipartStore``;
the local filesystem cannot, and the proxy then answers as MLflow does for such a
repository. The server never sees the parts' bytes: it begins the upload with the parts'
URLs, and completes it from the parts' ETags (or aborts it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import msgspec

__all__ = [
    "MAX_PARTS",
    "Begun",
    "MultipartStore",
    "Part",
    "UnknownUpload",
    "UploadRefused",
]

#: The most parts one upload may have (S3's own limit; a part number is 1..10,000).
MAX_PARTS = 10_000


class UnknownUpload(LookupError):
    """An upload id the store does not know (completed, aborted, or never begun)."""


class UploadRefused(ValueError):
    """Parts the store will not assemble (missing, out of order, too small, a wrong ETag)."""


class Part(msgspec.Struct, frozen=True):
    number: int
    etag: str


class Begun(msgspec.Struct, frozen=True):
    upload_id: str
    #: One URL per part, part 1 first: a client PUTs the part's bytes there.
    urls: list[str]


@runtime_checkable
class MultipartStore(Protocol):
    async def begin_multipart(self, path: str, parts: int) -> Begun:
        """Begin an upload to ``path`` in ``parts`` parts (0..MAX_PARTS)."""
        ...

    async def complete_multipart(self, path: str, upload_id: str, parts: Sequence[Part]) -> int:
        """Assemble the uploaded parts into the file at ``path``; its size in bytes."""
        ...

    async def abort_multipart(self, path: str, upload_id: str) -> None:
        """Drop the upload and the parts sent so far."""
        ...
