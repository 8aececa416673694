"""Artifacts in S3-compatible object storage (``--artifacts-destination s3://bucket/prefix``).

The server proxies: clients never see storage credentials. Bytes stream both ways with a
bounded amount of memory per transfer: an upload goes to S3 in parts of ``PART_BYTES``
(one PUT when it is smaller), a download is read from S3 in chunks as the client takes them.
A client may instead send a large file's parts straight to S3 (MLflow's proxy multipart
upload): the server begins the upload, signs one URL per part, and completes or aborts it.

Endpoint and credentials come from the usual settings: ``MLFLOW_S3_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL``) and botocore's own chain (``AWS_ACCESS_KEY_ID`` and friends,
profiles, instance roles). The client library is aiobotocore: botocore's requests signed
and sent on aiohttp, so a slow transfer never blocks the event loop, maintained by aio-libs
alongside botocore's releases.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any
from urllib.parse import urlsplit

from trackledger.services.artifact_store import Download, Entry, UnsafePath, Written, clean
from trackledger.services.multipart import Begun, Part, UnknownUpload, UploadRefused

__all__ = ["S3ArtifactStore", "parse_s3_uri"]

#: Upload part size (S3 needs at least 5 MiB for every part but the last).
PART_BYTES = 8 * 2**20
#: How much of a download is read from S3 at a time.
READ_BYTES = 256 * 1024
#: S3's answers to a completion it will not do (parts missing, out of order, too small).
_REFUSED = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "MalformedXML", "InvalidArgument"}
#: Part URLs signed between two yields to the event loop: signing is CPU work, ~0.7 ms a
#: URL here, so 10,000 parts take seconds, in slices of ~35 ms.
_SIGNED_PER_YIELD = 50


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix")."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    return parts.netloc, parts.path.strip("/")


class S3ArtifactStore:
    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.bucket, self.prefix = parse_s3_uri(uri)
        self._stack: AsyncExitStack | None = None
        self._client: Any = None

    async def start(self) -> None:
        from aiobotocore.session import get_session  # the optional 's3' extra

        endpoint = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get(
            "AWS_ENDPOINT_URL"
        )
        self._stack = AsyncExitStack()
        self._client = await self._stack.enter_async_context(
            get_session().create_client(
                "s3",
                endpoint_url=endpoint or None,
                region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            )
        )

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    def _key(self, path: str) -> str:
        relative = clean(path)
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def _dir_prefix(self, path: str) -> str:
        key = self._key(path)
        return f"{key}/" if key else ""

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("the S3 artifact store was not started")
        return self._client

    async def write(self, path: str, chunks: AsyncIterator[bytes]) -> Written:
        key = self._key(path)
        if not clean(path):
            raise UnsafePath("Invalid path: an artifact needs a file name")
        digest = hashlib.sha256()
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            async for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                buffer += chunk
                while len(buffer) >= PART_BYTES:
                    if upload_id is None:
                        created = await self.client.create_multipart_upload(
                            Bucket=self.bucket, Key=key
                        )
                        upload_id = created["UploadId"]
                    part, buffer = bytes(buffer[:PART_BYTES]), buffer[PART_BYTES:]
                    parts.append(await self._part(key, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(buffer))
            else:
                if buffer or not parts:
                    parts.append(await self._part(key, upload_id, len(parts) + 1, bytes(buffer)))
                await self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            if upload_id is not None:
                await self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            raise
        return Written(size=size, sha256=digest.hexdigest())

    async def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        sent = await self.client.upload_part(
            Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": sent["ETag"]}

    async def read(self, path: str) -> Download | None:
        key = self._key(path)
        if not clean(path):
            return None
        try:
            got = await self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            async with got["Body"] as body:
                while chunk := await body.read(READ_BYTES):
                    yield chunk

        return Download(name=key.rsplit("/", 1)[-1], size=got["ContentLength"], chunks=chunks())

    async def is_dir(self, path: str) -> bool:
        found = await self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=self._dir_prefix(path), MaxKeys=1
        )
        return bool(found.get("KeyCount"))

    async def list(self, path: str) -> list[Entry]:
        prefix = self._dir_prefix(path)
        entries: dict[str, Entry] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(prefix) :].rstrip("/")
                entries[name] = Entry(name, True, None)
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                if name:
                    entries[name] = Entry(name, False, item["Size"])
        return [entries[name] for name in sorted(entries)]

    async def delete(self, path: str) -> None:
        if not clean(path):
            raise UnsafePath("Invalid path: refusing to delete the artifact root")
        key = self._key(path)
        await self.client.delete_object(Bucket=self.bucket, Key=key)
        paginator = self.client.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{key}/"):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                await self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})

    # Multipart uploads sent by the client straight to S3 (services/multipart.py).

    async def begin_multipart(self, path: str, parts: int) -> Begun:
        key = self._key(path)
        if not clean(path):
            raise UnsafePath("Invalid path: an artifact needs a file name")
        created = await self.client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id: str = created["UploadId"]
        urls: list[str] = []
        for number in range(1, parts + 1):
            params = {
                "Bucket": self.bucket,
                "Key": key,
                "PartNumber": number,
                "UploadId": upload_id,
            }
            urls.append(await self.client.generate_presigned_url("upload_part", Params=params))
            if number % _SIGNED_PER_YIELD == 0:
                await asyncio.sleep(0)
        return Begun(upload_id=upload_id, urls=urls)

    async def complete_multipart(self, path: str, upload_id: str, parts: Sequence[Part]) -> int:
        key = self._key(path)
        listed = [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
        try:
            await self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            )
        except self.client.exceptions.ClientError as exc:
            raise _upload_error(exc, upload_id) from None
        head = await self.client.head_object(Bucket=self.bucket, Key=key)
        size: int = head["ContentLength"]
        return size

    async def abort_multipart(self, path: str, upload_id: str) -> None:
        key = self._key(path)
        try:
            await self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
        except self.client.exceptions.ClientError as exc:
            raise _upload_error(exc, upload_id) from None


def _upload_error(exc: Any, upload_id: str) -> Exception:
    """S3's refusal of a multipart call, as the store's own error (or as it came)."""
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    if code == "NoSuchUpload":
        return UnknownUpload(f"No multipart upload {upload_id!r} to this path")
    if code in _REFUSED:
        return UploadRefused(f"The object store refused the parts: {error.get('Message', code)}")
    unexpected: Exception = exc  # an outage or a misconfiguration: a 500, as any other
    return unexpected
