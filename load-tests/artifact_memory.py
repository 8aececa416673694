"""The server's memory while a large file goes up through the artifact proxy and back down.

    python load-tests/artifact_memory.py                        # 2 GiB, S3 (moto) and local
    python load-tests/artifact_memory.py --size-mb 500 --destinations s3

For each destination, starts a ``trackledger server`` (SQLite store) proxying artifacts to
S3 (moto's server, in a process of its own: moto keeps what it stores, and its memory is
not ours) or to a local directory; streams a generated file of ``--size-mb`` MiB up with
one PUT to ``/api/2.0/mlflow-artifacts/artifacts/...`` and down with one GET, checks the
bytes (sha256), and samples the server's RSS (``VmRSS`` of /proc/<pid>/status, the process
and any children) every 20 ms. Prints, per destination: RSS at idle, the peak during the
upload and during the download, the peak minus idle, the kernel's high-water mark
(``VmHWM``), and the throughput each way. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from cpu import cpu_seconds, process_tree
from servers import BIN, Server, _free_port, start

MIB = 2**20
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "load-test",
    "AWS_SECRET_ACCESS_KEY": "load-test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _status_kib(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def rss_mib(pid: int) -> float:
    return sum(_status_kib(p, "VmRSS") for p in process_tree(pid)) / 1024


class Sampler(threading.Thread):
    """The largest RSS seen since the last ``take``, sampled every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.peak = max(self.peak, rss_mib(self.pid))

    def take(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak


def _chunks(size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """``size`` bytes in 1 MiB chunks: one random block, each copy numbered (cheap to make,
    and no two chunks alike)."""
    block = os.urandom(MIB)
    sent = 0
    index = 0
    while sent < size:
        chunk = (index.to_bytes(8, "big") + block[8:])[: size - sent]
        digest.update(chunk)
        yield chunk
        sent += len(chunk)
        index += 1


def _moto(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (workdir / "moto.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url, timeout=1)
            return process, url
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log_path = workdir / "moto.log"
                raise RuntimeError(f"moto_server did not start; see {log_path}") from None
            time.sleep(0.1)


def _cpu(pid: int | None) -> float:
    """CPU seconds used so far by ``pid`` and its children (0 for None)."""
    if pid is None:
        return 0.0
    return sum(cpu_seconds(p) for p in process_tree(pid))


def _transfer(
    server: Server, size: int, sampler: Sampler, store_pid: int | None
) -> dict[str, float]:
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=base, timeout=600) as http:
        run = http.post("/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})
        run.raise_for_status()
        run_id = run.json()["run"]["info"]["run_id"]
        url = f"{PROXY}/0/{run_id}/artifacts/big.bin"
        for _ in range(5):  # settle after start-up, then read idle
            http.get("/health")
        time.sleep(1)
        idle = statistics.median(rss_mib(server.process.pid) for _ in range(20))
        sampler.take()

        pid = server.process.pid
        sent = hashlib.sha256()
        cpu = (_cpu(pid), _cpu(store_pid))
        started = time.perf_counter()
        put = http.put(url, content=_chunks(size, sent))
        put.raise_for_status()
        up_s = time.perf_counter() - started
        up_peak = sampler.take()
        up_cpu = (_cpu(pid) - cpu[0], _cpu(store_pid) - cpu[1])

        got = hashlib.sha256()
        received = 0
        cpu = (_cpu(pid), _cpu(store_pid))
        started = time.perf_counter()
        with http.stream("GET", url) as response:
            response.raise_for_status()
            for chunk in response.iter_bytes(MIB):
                got.update(chunk)
                received += len(chunk)
        down_s = time.perf_counter() - started
        down_peak = sampler.take()
        down_cpu = (_cpu(pid) - cpu[0], _cpu(store_pid) - cpu[1])
    if received != size or got.hexdigest() != sent.hexdigest():
        raise RuntimeError(f"downloaded {received:,} bytes that differ from the upload")
    return {
        "idle": idle,
        "up_peak": up_peak,
        "down_peak": down_peak,
        "hwm": _status_kib(server.process.pid, "VmHWM") / 1024,
        "up_mib_s": size / MIB / up_s,
        "down_mib_s": size / MIB / down_s,
        # CPU seconds per GiB moved: the server's, and the S3 server's (moto).
        "up_cpu": up_cpu[0] / (size / 2**30),
        "down_cpu": down_cpu[0] / (size / 2**30),
        "up_store_cpu": up_cpu[1] / (size / 2**30),
        "down_store_cpu": down_cpu[1] / (size / 2**30),
    }


async def measure(destination: str, size: int, workdir: Path) -> dict[str, float]:
    moto: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = {}
    try:
        if destination == "s3":
            workdir.mkdir(parents=True, exist_ok=True)
            moto, endpoint = _moto(workdir)
            env = {**CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": endpoint}
            httpx.put(f"{endpoint}/artifacts").raise_for_status()  # the bucket
            where = "s3://artifacts/proxied"
        else:
            where = str(workdir / "server" / "artifacts")
        server = await start(
            "trackledger-sqlite",
            workdir / "server",
            args=["--artifacts-destination", where],
            env=env,
        )
        sampler = Sampler(server.process.pid)
        sampler.start()
        try:
            store_pid = moto.pid if moto is not None else None
            figures = await asyncio.to_thread(_transfer, server, size, sampler, store_pid)
            if moto is not None:
                figures["moto_rss"] = rss_mib(moto.pid)
            return figures
        finally:
            sampler.stopped.set()
            server.stop()
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(timeout=30)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=2048, help="MiB to send up and down")
    parser.add_argument(
        "--destinations", default="s3,local", help="comma-separated, from: s3, local"
    )
    parser.add_argument(
        "--workdir",
        default="/tmp/trackledger-artifact-memory",
        help="where the server, moto and a local destination keep their files",
    )
    args = parser.parse_args(argv)
    for destination in args.destinations.split(","):
        if destination not in ("s3", "local"):
            parser.error(f"unknown destination {destination!r}")
    if args.size_mb < 1:
        parser.error("--size-mb must be at least 1")
    return args


def main() -> None:
    args = parse()
    size = args.size_mb * MIB
    lines = [
        f"{args.size_mb:,} MiB up (one PUT) and down (one GET) through the proxy; server RSS "
        "in MiB, sampled every 20 ms",
        "",
        "| destination | idle | peak up | peak down | peak - idle | VmHWM | up MiB/s "
        "| down MiB/s | server CPU s/GiB up, down | moto CPU s/GiB up, down |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for destination in args.destinations.split(","):
        print(f"{destination}: {args.size_mb:,} MiB up and down ...", file=sys.stderr, flush=True)
        try:
            f = asyncio.run(measure(destination, size, Path(args.workdir) / destination))
        except (RuntimeError, OSError, httpx.HTTPError) as exc:
            raise SystemExit(f"artifact_memory.py: error: {exc}") from None
        peak = max(f["up_peak"], f["down_peak"])
        lines.append(
            f"| {destination} | {f['idle']:.0f} | {f['up_peak']:.0f} | {f['down_peak']:.0f} "
            f"| {peak - f['idle']:+.0f} | {f['hwm']:.0f} | {f['up_mib_s']:.0f} "
            f"| {f['down_mib_s']:.0f} | {f['up_cpu']:.1f}, {f['down_cpu']:.1f} "
            + (
                f"| {f['up_store_cpu']:.1f}, {f['down_store_cpu']:.1f} |"
                if destination == "s3"
                else "| |"
            )
        )
        if "moto_rss" in f:
            print(f"  (moto's own RSS afterwards: {f['moto_rss']:.0f} MiB)", file=sys.stderr)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
