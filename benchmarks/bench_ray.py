"""Single-process ``fetch`` against ``fetch --engine ray`` on Ray's two-node local test cluster.

```bash
bash scripts/setup.sh test ray
.venv/bin/python -m benchmarks.bench_ray            # 20,000 tasks, 20 ms per answer
.venv/bin/python -m benchmarks.bench_ray --quick    # 2,000 tasks
```

An export of N tasks (one 10 KB image and one box each) whose images an asyncio server on
127.0.0.1 answers after 20 ms each, as an object store does. Each side writes the YOLO dataset
from a cold cache, in a process of its own: wall time, downloads per second, peak RSS of the driver
and of every Ray worker; then the two datasets are compared (files and their sha256, tasks).

Ray's cluster asks cloud metadata addresses what it runs on, so the benchmark runs in a network
namespace of its own that has nothing but loopback (it re-executes itself under ``unshare --net``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_resolve import free_port

HERE = Path(__file__).resolve().parent

CONFIG = """<View><Image name="image" value="$image"/>
<RectangleLabels name="label" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels></View>"""

_RUN = """
import json, resource, sys, time
from pathlib import Path
from ml_data.config import Settings
from ml_data.pipeline import DatasetOptions
engine, export, out, cache, config = sys.argv[1:6]
settings = Settings(cache_dir=Path(cache), read_timeout=60.0)
options = DatasetOptions(format="yolo", workers=16)
started = time.perf_counter()
if engine == "local":
    from ml_data.pipeline import fetch_export
    report = fetch_export(export, format="yolo", out=out, config=config, settings=settings, options=options)
    workers = []
else:
    import ray
    from ray.cluster_utils import Cluster
    from ml_data.ray.fetch import fetch_with_ray
    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 300 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    started = time.perf_counter()  # the cluster's start is not the dataset's time
    report = fetch_with_ray(export=export, config=config, out=out, settings=settings, options=options)
    elapsed = time.perf_counter() - started
    workers = []
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes().split(b"\\0")[0]
            status = (entry / "status").read_text()
        except OSError:
            continue
        if entry.name.isdigit() and title.startswith(b"ray::") and b"IDLE" not in title:
            peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
            workers.append((title.decode(errors="replace"), peak / 1024))
    ray.shutdown()
    cluster.shutdown()
elapsed = locals().get("elapsed") or time.perf_counter() - started
print(json.dumps({"seconds": elapsed, "tasks": report.tasks, "resolved": report.resources_resolved,
                  "driver_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "workers": workers}))
"""


def loopback_only() -> bool:
    return [name for _index, name in socket.if_nameindex()] == ["lo"]


def make_project(folder: Path, count: int, origin: str) -> Path:
    images = folder / "files"
    images.mkdir(parents=True)
    with open(folder / "export.json", "w") as handle:
        handle.write("[")
        for index in range(count):
            (images / f"img_{index:06d}.jpg").write_bytes(os.urandom(10 * 1024))
            box = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0, "rotation": 0, "rectanglelabels": ["cat"]}
            region = {"id": f"r{index}", "from_name": "label", "to_name": "image", "type": "rectanglelabels"}
            region.update(original_width=640, original_height=480, value=box)
            task = {
                "id": index + 1,
                "data": {"image": f"{origin}/img_{index:06d}.jpg"},
                "annotations": [{"id": index + 1, "result": [region]}],
            }
            handle.write(("," if index else "") + json.dumps(task))
        handle.write("]")
    return folder / "export.json"


def run(engine: str, export: Path, out: Path, cache: Path) -> dict:
    command = [sys.executable, "-c", _RUN, engine, str(export), str(out), str(cache), CONFIG]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])


def files_of(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {relative: entry["sha256"] for relative, entry in manifest["files"].items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="2,000 tasks")
    args = parser.parse_args()
    if not loopback_only():
        # again as a module of the repository root (the current folder), with the same arguments
        again = [sys.executable, "-m", "benchmarks.bench_ray", *sys.argv[1:]]
        os.execvp("unshare", ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *again])
    count = 2_000 if args.quick else args.tasks
    with tempfile.TemporaryDirectory(prefix="ml-data-bench-ray-") as tmp:
        folder = Path(tmp)
        port = free_port()
        export = make_project(folder, count, f"http://127.0.0.1:{port}")
        server = subprocess.Popen(
            [sys.executable, str(HERE / "latency_server.py"), str(folder / "files"), str(port), str(args.latency_ms)]
        )
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            local = run("local", export, folder / "local", folder / "cache-local")
            distributed = run("ray", export, folder / "ray", folder / "cache-ray")
        finally:
            server.terminate()
            server.wait()
        same = files_of(folder / "local") == files_of(folder / "ray")
        tasks_same = (
            json.loads((folder / "local" / "manifest.json").read_text())["tasks"]
            == json.loads((folder / "ray" / "manifest.json").read_text())["tasks"]
        )
    print(f"{count} tasks, one 10 KB image each, {args.latency_ms:g} ms per answer; YOLO from a cold cache")
    for name, result in (("single process", local), ("ray, 2 nodes x 1 CPU", distributed)):
        rate = result["resolved"] / result["seconds"]
        memory = f"driver peak RSS {result['driver_mb']:6.0f} MB"
        print(f"  {name:22s} {result['seconds']:8.2f} s  {rate:8.0f} downloads/s  {memory}")
    if distributed["workers"]:
        peak = max(distributed["workers"], key=lambda item: item[1])
        print(f"  ray workers: {len(distributed['workers'])}, largest peak RSS {peak[1]:.0f} MB ({peak[0]})")
    print(f"  ray / single process: {local['seconds'] / distributed['seconds']:.2f}x the speed")
    verdict = {True: "identical", False: "DIFFER"}
    print(f"  outputs: files {verdict[same]}, manifest tasks {verdict[tasks_same]}")


if __name__ == "__main__":
    main()
