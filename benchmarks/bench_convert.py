"""Conversion benchmark: ml-data against label-studio-sdk's converter, same exports, same run.

    .venv/bin/python -m benchmarks.bench_convert             # 10k and 100k tasks
    .venv/bin/python -m benchmarks.bench_convert --sizes 2000

Exports are generated (tests/support/exports.py): images with 5 boxes each for JSON_MIN, CSV
and TSV; texts with NER spans (and some punctuation) for CoNLL 2003. Each conversion runs in a
fresh process, so its peak RSS is its own; `--cpu` times each child by its own CPU time, for a
machine under other load. For scale, each size also prints two parse floors:
orjson reading the whole file into dicts, and a typed decoder (msgspec Structs holding only the
fields the formats read, from the same bytes); each format's line ends with its time over the
typed floor. YOLO and VOC also create one file per image: their line adds the time to create as
many empty files in a fresh folder. A second line gives ml-data's own streaming reader alone (the
task dicts every format starts from), with its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.children import child_env
from tests.support.exports import write_export

CASES = [
    ("JSON_MIN", "image"),
    ("CSV", "image"),
    ("TSV", "image"),
    ("CONLL2003", "ner"),
    ("COCO", "image"),
    ("YOLO", "image"),
    ("VOC", "image"),
]

_CHILD = """
import json, resource, sys, time
from tests.support.exports import IMAGE_CONFIG, NER_CONFIG
which, fmt, source, out = sys.argv[1:5]
config = NER_CONFIG if fmt == "CONLL2003" else IMAGE_CONFIG
start, start_cpu = time.perf_counter(), time.process_time()
if which == "ml-data":
    from ml_data.converters import convert
    convert(source, fmt, out, config=config)
elif which == "parse":
    import orjson
    with open(source, "rb") as handle:
        orjson.loads(handle.read())
elif which == "read":
    from ml_data.converters import read_tasks
    for _task in read_tasks(source).raw():
        pass
elif which == "typed":
    import msgspec

    class Region(msgspec.Struct):
        from_name: str = ""
        to_name: str = ""
        type: str = ""
        value: dict = {}
        original_width: int | None = None
        original_height: int | None = None

    class Annotation(msgspec.Struct):
        id: int | None = None
        result: list[Region] = []

    class Task(msgspec.Struct):
        id: int | None = None
        data: dict = {}
        annotations: list[Annotation] = []

    with open(source, "rb") as handle:
        msgspec.json.Decoder(list[Task]).decode(handle.read())
elif which == "files":
    from pathlib import Path
    folder = Path(out)
    folder.mkdir()
    for index in range(int(fmt)):
        (folder / f"{index}.txt").touch()
else:
    from label_studio_sdk.converter import Converter
    Converter(config=config, project_dir=None, download_resources=False).convert(source, out, fmt, is_dir=False)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - start_cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(which: str, fmt: str, source: Path, out: Path, *, cpu: bool = False) -> dict:
    """One child's figures; with ``cpu``, its ``seconds`` are its own CPU time (process_time)."""
    output = subprocess.run(
        [sys.executable, "-c", _CHILD, which, fmt, str(source), str(out)],
        env=child_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures = json.loads(output.strip().splitlines()[-1])
    if cpu:
        figures["seconds"] = figures["cpu"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument(
        "--formats", nargs="+", choices=[fmt for fmt, _kind in CASES], default=[fmt for fmt, _kind in CASES]
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time each child by its own CPU time (process_time), for a machine under other load",
    )
    args = parser.parse_args()
    if args.cpu:
        print("times are each child's CPU time (process_time), not wall time")
    print(
        f"{'tasks':>7} {'format':10} {'reference':>10} {'ml-data':>9} {'speed-up':>8} {'ref RSS':>8} {'our RSS':>8} "
        f"{'ml-data/floor':>14}"
    )
    with tempfile.TemporaryDirectory(prefix="ml-data-convert-") as tmp:
        work = Path(tmp)
        for size in args.sizes:
            exports = {
                kind: write_export(work / f"{kind}-{size}.json", kind, size, seed=1) for kind in ("image", "ner")
            }
            floor = {kind: run("parse", "JSON", path, work / "unused", cpu=args.cpu) for kind, path in exports.items()}
            typed = {kind: run("typed", "JSON", path, work / "unused", cpu=args.cpu) for kind, path in exports.items()}
            reading = {kind: run("read", "JSON", path, work / "unused", cpu=args.cpu) for kind, path in exports.items()}
            files = run("files", str(size), exports["image"], work / f"files-{size}", cpu=args.cpu)["seconds"]
            print(
                f"{size:>7} parsing alone: orjson (whole file) image {floor['image']['seconds']:.2f}s, "
                f"NER {floor['ner']['seconds']:.2f}s; typed decode (msgspec) image {typed['image']['seconds']:.2f}s, "
                f"NER {typed['ner']['seconds']:.2f}s; creating {size} files {files:.2f}s",
                flush=True,
            )
            print(
                f"{size:>7} ml-data's streaming reader alone (task dicts, flat memory): "
                f"image {reading['image']['seconds']:.2f}s {reading['image']['peak_rss_mb']:.0f}MB, "
                f"NER {reading['ner']['seconds']:.2f}s {reading['ner']['peak_rss_mb']:.0f}MB",
                flush=True,
            )
            for fmt, kind in CASES:
                if fmt not in args.formats:
                    continue
                theirs = run("reference", fmt, exports[kind], work / f"ref-{fmt}-{size}", cpu=args.cpu)
                ours = run("ml-data", fmt, exports[kind], work / f"ours-{fmt}-{size}", cpu=args.cpu)
                bound = typed[kind]["seconds"] + (files if fmt in ("YOLO", "VOC") else 0.0)
                print(
                    f"{size:>7} {fmt:10} {theirs['seconds']:9.2f}s {ours['seconds']:8.2f}s "
                    f"{theirs['seconds'] / ours['seconds']:7.1f}x "
                    f"{theirs['peak_rss_mb']:6.0f}MB {ours['peak_rss_mb']:6.0f}MB "
                    f"{ours['seconds'] / bound:9.1f}x floor",
                    flush=True,
                )


if __name__ == "__main__":
    main()
