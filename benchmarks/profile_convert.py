"""Where a conversion's time goes: cProfile of ``convert`` for each format, grouped by stage.

    .venv/bin/python -m benchmarks.profile_convert                  # 20,000 tasks, every format
    .venv/bin/python -m benchmarks.profile_convert --tasks 5000 --formats COCO VOC

The exports are bench_convert.py's (tests/support/exports.py): image tasks with 5 boxes for
the image and tabular formats, NER texts for CoNLL. Each format is profiled in a fresh process;
each stage is the cumulative time of the functions that make it, as a share of the whole run
(stages nest, so shares do not add up to 100 %).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.children import child_env
from benchmarks.profiling import stage_shares
from tests.support.exports import write_export

FORMATS = ("JSON_MIN", "CSV", "TSV", "CONLL2003", "COCO", "YOLO", "VOC")

_CHILD = """
import cProfile, sys
from tests.support.exports import IMAGE_CONFIG, NER_CONFIG
from ml_data.converters import convert
fmt, source, out, profile = sys.argv[1:5]
config = NER_CONFIG if fmt == "CONLL2003" else IMAGE_CONFIG
cProfile.run("convert(source, fmt, out, config=config)", profile)
"""

#: stage -> (the end of a file name, a function name): the stage is that function's cumulative time.
STAGES = {
    "reading the export (task dicts)": ("ml_data/tasks/reader.py", "_array_items"),
    "building the model (task_from_dict)": ("ml_data/tasks/model.py", "task_from_dict"),
    "box geometry: to_pixels": ("ml_data/converters/geometry.py", "to_pixels"),
    "box geometry: corners": ("ml_data/converters/geometry.py", "corners"),
    "box geometry: enclosing_box": ("ml_data/converters/geometry.py", "enclosing_box"),
    "creating files (open)": ("~", "<built-in method io.open>"),
    "csv writer rows": ("~", "<method 'writerow' of '_csv.writer' objects>"),
    "VOC documents": ("ml_data/converters/voc.py", "voc_document"),
    "CoNLL tokens (treebank.tokens)": ("ml_data/converters/treebank.py", "tokens"),
    "CoNLL spans of an annotation": ("ml_data/converters/conll.py", "_spans"),
    "CoNLL lines": ("ml_data/converters/conll.py", "lines"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ml-data-profile-") as tmp:
        root = Path(tmp)
        exports = {
            kind: write_export(root / f"{kind}.json", kind, args.tasks)
            for kind in {"ner" if fmt == "CONLL2003" else "image" for fmt in args.formats}
        }
        print(f"{args.tasks} tasks: share of each format's profiled time")
        for fmt in args.formats:
            profile = root / f"{fmt}.prof"
            source = exports["ner" if fmt == "CONLL2003" else "image"]
            child = [sys.executable, "-c", _CHILD]
            subprocess.run(
                [*child, fmt, str(source), str(root / f"out-{fmt}"), str(profile)], env=child_env(), check=True
            )
            total, shares = stage_shares(profile, STAGES)
            print(f"  {fmt} ({total:.2f} s under the profiler)")
            for stage, share in shares.items():
                if share:
                    print(f"    {stage:40s} {100 * share:5.1f} %")


if __name__ == "__main__":
    main()
