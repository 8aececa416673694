"""Log one file through the real mlflow client to each tracking URI given, download it
again, and print what happened as JSON (run by test_multipart.py in its own process, with
MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD and small part sizes set)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import mlflow


def main() -> None:
    local = Path(sys.argv[1])
    out = []
    for uri in sys.argv[2:]:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("multipart")
        with mlflow.start_run() as run:
            mlflow.log_artifact(str(local), artifact_path="big")
        back = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path=f"big/{local.name}",
            dst_path=tempfile.mkdtemp(),
        )
        out.append(
            {
                "run_id": run.info.run_id,
                "artifact_uri": run.info.artifact_uri,
                "same": Path(back).read_bytes() == local.read_bytes(),
            }
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
