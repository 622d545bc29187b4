"""Hugging Face ImageFolder benchmark: ``hf-imagefolder`` beside the nearest thing Label Studio
exports (label-studio-sdk's COCO), ml-data's own COCO, and the datasets library loading the result.

    .venv/bin/python -m benchmarks.bench_hf                  # 10k and 100k tasks
    .venv/bin/python -m benchmarks.bench_hf --sizes 2000

Label Studio has no Hugging Face export: without ml-data, a user exports COCO and writes the
metadata.jsonl from it. The export is the converter benchmark's (tests/support/exports.py:
images with 5 boxes each); each run is a fresh process, so its peak RSS is its own. The last
column, ``load_dataset("imagefolder", data_dir=...)`` on what ml-data wrote (the images are not
placed by a plain conversion; datasets records their paths without opening them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_convert import run
from benchmarks.children import child_env
from tests.support.exports import write_export

_LOAD = """
import json, resource, sys, time
start = time.perf_counter()
import datasets
datasets.disable_progress_bars()
loaded = datasets.load_dataset("imagefolder", data_dir=sys.argv[1], cache_dir=sys.argv[2])
rows = sum(split.num_rows for split in loaded.values())
print(json.dumps({"seconds": time.perf_counter() - start, "rows": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def load(folder: Path, cache: Path) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", _LOAD, str(folder), str(cache)],
        env={**child_env(), "HF_HUB_OFFLINE": "1"},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    print(
        f"{'tasks':>7} {'LS COCO (sdk)':>14} {'ml-data COCO':>13} {'hf-imagefolder':>15} {'hf RSS':>7} "
        f"{'load_dataset':>13} {'rows':>7}"
    )
    with tempfile.TemporaryDirectory(prefix="ml-data-hf-") as tmp:
        work = Path(tmp)
        for size in args.sizes:
            export = write_export(work / f"image-{size}.json", "image", size, seed=1)
            reference = run("reference", "COCO", export, work / f"ref-coco-{size}")
            coco = run("ml-data", "COCO", export, work / f"coco-{size}")
            ours = run("ml-data", "hf-imagefolder", export, work / f"hf-{size}")
            loaded = load(work / f"hf-{size}", work / f"hf-cache-{size}")
            print(
                f"{size:>7} {reference['seconds']:13.2f}s {coco['seconds']:12.2f}s {ours['seconds']:14.2f}s "
                f"{ours['peak_rss_mb']:5.0f}MB {loaded['seconds']:12.2f}s {loaded['rows']:>7}",
                flush=True,
            )


if __name__ == "__main__":
    main()
