"""Which artifact store a destination names: ``s3://bucket/prefix`` or a local directory."""

from __future__ import annotations

from pathlib import Path

from trackledger.services.artifact_store import ArtifactStore, LocalArtifactStore

__all__ = ["artifact_store_for"]


def artifact_store_for(destination: str) -> ArtifactStore:
    if destination.startswith("s3://"):
        from trackledger.services.s3_store import S3ArtifactStore

        return S3ArtifactStore(destination)
    return LocalArtifactStore(Path(destination))
