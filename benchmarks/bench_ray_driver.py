"""The driver's memory while ``write_dataset`` merges the shards, on Ray's two-node local test cluster.

```bash
.venv/bin/python -m benchmarks.bench_ray_driver                        # 100,000 and 300,000 tasks
.venv/bin/python -m benchmarks.bench_ray_driver --tasks 1000000
.venv/bin/python -m benchmarks.bench_ray_driver --tasks 100000 --merge both   # and the in-memory merge
.venv/bin/python -m benchmarks.bench_ray_driver --merge-only --tasks 100000,300000,1000000
```

An export of N generated tasks, each with a ``data:`` image of its own (no server to wait on) and
one box, is read by byte ranges and written as YOLO by ``write_dataset`` (its write tasks resolve) to a local
folder. The driver runs in a process of its own; it reports its peak RSS (``VmHWM``) when the
cluster is up and the export planned, and at the end: what the write adds is the merge's share
(the write tasks run in Ray's workers). ``--merge old`` commits with the merge that held every
shard's manifest and the dataset's in memory (tests/support/reference_merge.py), for comparison.

``--merge-only``: no cluster; shard manifests as write tasks cut them (8 shards, entries as the
build writes them, two files per task) are generated, and one process merges them
(``merge_manifests``, files left where they are): its peak RSS before and after the merge, for
project sizes a 2-core machine cannot build in reasonable time.

Ray's cluster asks cloud metadata addresses what it runs on, so the benchmark runs in a network
namespace of its own that has nothing but loopback (it re-executes itself under ``unshare --net``).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_ray import CONFIG, loopback_only

_RUN = """
import json, sys, time
from pathlib import Path
from ml_data.config import Settings
from ml_data.pipeline import DatasetOptions

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024

merge, export, out, cache, config = sys.argv[1:6]
settings = Settings(cache_dir=Path(cache), read_timeout=60.0)
options = DatasetOptions(format="yolo", workers=4)
import ray
from ray.cluster_utils import Cluster
from ml_data.ray import read_tasks, write_dataset
from ml_data.ray.write import DatasetSink

node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 300 * 1024 * 1024}
cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
cluster.add_node(**node)
cluster.wait_for_nodes()
ray.init(address=cluster.address, log_to_driver=False)
ds = read_tasks(export=export, config=config, settings=settings)  # the write tasks resolve the data: URIs
before = peak_mb()
started = time.perf_counter()
source = {"export": "export.json"}
if merge == "new":
    report = write_dataset(ds, out, options=options, config=config, source=source, settings=settings)
    tasks, shards = report.tasks, None
else:
    from ml_data.fsutil import atomic_folder
    from ml_data.jsonio import dumps
    from ml_data.ray.merge import Merged
    from tests.support.reference_merge import merge_shards

    class InMemory(DatasetSink):
        def _commit_folder(self, names):
            with atomic_folder(self.out) as building:
                manifest = merge_shards([self.staging / name for name in names], building, self.out, format="yolo")
                (building / "manifest.json").write_bytes(dumps(manifest, indent=True))
            return Merged(tasks=len(manifest["tasks"]), conversions=manifest["conversions"])

    sink = InMemory(Path(out), config=config, options=options, source=source, settings=settings)
    ds.write_datasink(sink, ray_remote_args={"num_cpus": 0.5})
    tasks = sink.report.tasks
elapsed = time.perf_counter() - started
shards = sum(1 for _ in Path(out).glob("labels/*.txt"))
ray.shutdown()
cluster.shutdown()
print(json.dumps({"seconds": elapsed, "tasks": tasks, "before_mb": before, "peak_mb": peak_mb(), "labels": shards}))
"""


def make_export(path: Path, count: int) -> Path:
    """N tasks, each with a ``data:`` image of its own bytes and one box."""
    box = {"x": 10.0, "y": 20.0, "width": 30.0, "height": 40.0, "rotation": 0, "rectanglelabels": ["cat"]}
    with open(path, "w") as handle:
        handle.write("[")
        for index in range(count):
            payload = base64.b64encode(b"\x89PNG-bench-" + index.to_bytes(8, "big")).decode()
            region = {"id": f"r{index}", "from_name": "label", "to_name": "image", "type": "rectanglelabels"}
            region.update(original_width=640, original_height=480, value=box)
            task = {
                "id": index + 1,
                "data": {"image": f"data:image/png;base64,{payload}"},
                "annotations": [{"id": index + 1, "result": [region]}],
            }
            handle.write(("," if index else "") + json.dumps(task))
        handle.write("]")
    return path


_MERGE = """
import json, sys, time
from pathlib import Path
from ml_data.ray.merge import merge_manifests

def peak_mb():
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")) / 1024

class InPlace:
    def take(self, shard, relative):
        pass

    def combine(self, relative, first, others):
        raise AssertionError(relative)

parts = [Path(path) for path in sys.argv[2:]]
before = peak_mb()
started = time.perf_counter()
with open(sys.argv[1], "wb") as handle:
    merged = merge_manifests(parts, InPlace(), handle, output="out")
print(json.dumps({"seconds": time.perf_counter() - started, "tasks": merged.tasks, "before_mb": before,
                  "peak_mb": peak_mb()}))
"""


def make_parts(folder: Path, count: int, shards: int = 8) -> list[Path]:
    """Shard manifests of ``count`` tasks in all (a YOLO image and label each), cut into parts."""
    from ml_data.ray.parts import write_parts

    folders = []
    for shard in range(shards):
        tasks, files = {}, {}
        for number in range(shard, count, shards):
            url = f"data:image/png;base64,<24 characters>#{number}"
            tasks[str(number + 1)] = {
                "fingerprint": f"{number:064x}",
                "split": None,
                "annotations": [number + 1],
                "resources": [url],
            }
            files[f"images/data-{number:016x}.png"] = {
                "size": 19,
                "sha256": f"{number:064x}",
                "source": url,
                "task": number + 1,
                "mtime_ns": 1765000000000000000 + number,
            }
            files[f"labels/data-{number:016x}.txt"] = {"size": 38, "sha256": f"{number:063x}f", "mtime_ns": 1}
        files["classes.txt"] = {"size": 4, "sha256": "c" * 64, "mtime_ns": 1}
        manifest = {
            "manifest_version": 1,
            "ml_data_version": "0",
            "created_at": "2026-12-07T00:00:00+00:00",
            "source": {"export": "export.json"},
            "settings": {"format": "yolo"},
            "label_config": CONFIG,
            "tasks": tasks,
            "files": files,
            "failures": {},
            "conversions": {"all": {"format": "yolo", "tasks": len(tasks), "items_written": len(tasks)}},
        }
        shard_folder = folder / f"shard-{shard}"
        shard_folder.mkdir(parents=True)
        (shard_folder / "manifest.json").write_bytes(json.dumps(manifest).encode())
        del manifest, tasks, files
        write_parts(shard_folder, folder / f"shard-{shard}.parts")
        (shard_folder / "manifest.json").unlink()
        folders.append(folder / f"shard-{shard}.parts")
    return folders


def merge_only(counts: list[int]) -> None:
    print("merge_manifests alone, 8 shards, two files per task; peak RSS of the merging process")
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="ml-data-bench-merge-") as tmp:
            parts = make_parts(Path(tmp), count)
            command = [sys.executable, "-c", _MERGE, str(Path(tmp) / "manifest.json"), *map(str, parts)]
            done = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(done.stdout.splitlines()[-1])
            assert result["tasks"] == count, result
            size = (Path(tmp) / "manifest.json").stat().st_size
            grown = result["peak_mb"] - result["before_mb"]
            print(
                f"  {count:>9,} tasks  {result['seconds']:7.1f} s  manifest {size / 2**20:6.0f} MB  peak "
                f"{result['peak_mb']:5.0f} MB ({result['before_mb']:3.0f} MB before the merge, +{grown:.0f} MB)",
                flush=True,
            )


def run(merge: str, export: Path, out: Path, cache: Path) -> dict:
    command = [sys.executable, "-c", _RUN, merge, str(export), str(out), str(cache), CONFIG]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", default="100000,300000", help="task counts, comma-separated")
    parser.add_argument("--merge", choices=["new", "old", "both"], default="new")
    parser.add_argument("--merge-only", action="store_true", help="no cluster: the merge of generated shards")
    args = parser.parse_args()
    if args.merge_only:
        merge_only([int(text) for text in args.tasks.split(",")])
        return
    if not loopback_only():
        again = [sys.executable, "-m", "benchmarks.bench_ray_driver", *sys.argv[1:]]
        os.execvp("unshare", ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *again])
    merges = ["new", "old"] if args.merge == "both" else [args.merge]
    print("YOLO from generated tasks with data: images, write_dataset on 2 nodes x 1 CPU; driver peak RSS")
    for count in (int(text) for text in args.tasks.split(",")):
        with tempfile.TemporaryDirectory(prefix="ml-data-bench-driver-") as tmp:
            folder = Path(tmp)
            export = make_export(folder / "export.json", count)
            for merge in merges:
                result = run(merge, export, folder / f"out-{merge}", folder / f"cache-{merge}")
                assert result["tasks"] == count == result["labels"], result
                grown = result["peak_mb"] - result["before_mb"]
                print(
                    f"  {count:>9,} tasks  {merge} merge  {result['seconds']:8.1f} s  driver peak "
                    f"{result['peak_mb']:6.0f} MB ({result['before_mb']:4.0f} MB before the write, +{grown:.0f} MB)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
