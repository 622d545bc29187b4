"""Brush benchmark: masks of 1920x1080 to NumPy and PNG files, ml-data against label-studio-sdk's
converter (BRUSH_TO_NUMPY, BRUSH_TO_PNG), and to polygons (our yolo-seg against its BRUSH_TO_COCO,
both OpenCV's contours), same export, same run; then VOC's masks and semantic-png (ml-data alone).

    .venv/bin/python -m benchmarks.bench_brush               # 1,000 masks
    .venv/bin/python -m benchmarks.bench_brush --masks 100

Each task has one brush result: a mask of a few filled ellipses, run-length encoded as Label Studio
stores it. Each conversion runs in a fresh process (wall time and peak RSS are its own); the outputs
are compared: every mask ml-data writes equals the reference's, every yolo-seg polygon is one of the
reference's COCO polygons (half a pixel apart: ours run through pixel centres). Then decoding alone: the same
RLEs turned into 1080p masks by each implementation in this process (milliseconds per mask), run last.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.children import child_env
from ml_data.converters.brush_rle import mask_from_rle, rle_from_mask

WIDTH, HEIGHT = 1920, 1080
CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<BrushLabels name='tag' toName='image'><Label value='cell'/></BrushLabels></View>"
)
CASES = [("BRUSH_TO_NUMPY", "brush-numpy"), ("BRUSH_TO_PNG", "brush-png"), ("BRUSH_TO_COCO", "yolo-seg")]
#: formats without a reference counterpart: (format, layout)
OURS_ONLY = [("voc", "standard"), ("semantic-png", "label-studio")]

_CHILD = """
import json, resource, sys, time
which, fmt, source, out, config, layout = sys.argv[1:7]
start = time.perf_counter()
if which == "ml-data":
    from ml_data.converters import ConvertOptions, convert
    convert(source, fmt, out, config=config, options=ConvertOptions(layout=layout))
else:
    from label_studio_sdk.converter import Converter
    Converter(config=config, project_dir=None, download_resources=False).convert(source, out, fmt, is_dir=False)
print(json.dumps({"seconds": time.perf_counter() - start,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def mask(rng: np.random.Generator) -> np.ndarray:
    """A few filled ellipses: the shapes a brush leaves."""
    ys, xs = np.ogrid[:HEIGHT, :WIDTH]
    filled = np.zeros((HEIGHT, WIDTH), dtype=bool)
    for _ in range(int(rng.integers(2, 6))):
        cx, cy = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
        rx, ry = rng.integers(40, 300), rng.integers(40, 300)
        filled |= ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
    return np.where(filled, 255, 0).astype(np.uint8)


def write_export(path: Path, count: int) -> None:
    rng = np.random.default_rng(3)
    with open(path, "w") as handle:
        handle.write("[")
        for index in range(count):
            task = {
                "id": index + 1,
                "data": {"image": f"/data/upload/1/img_{index:05d}.png"},
                "annotations": [
                    {
                        "id": index + 1,
                        "completed_by": 1,
                        "result": [
                            {
                                "id": f"b{index}",
                                "from_name": "tag",
                                "to_name": "image",
                                "type": "brushlabels",
                                "original_width": WIDTH,
                                "original_height": HEIGHT,
                                "value": {
                                    "format": "rle",
                                    "rle": rle_from_mask(mask(rng)),
                                    "brushlabels": ["cell"],
                                },
                            }
                        ],
                    }
                ],
            }
            handle.write(("," if index else "") + json.dumps(task))
        handle.write("]")


def run(which: str, fmt: str, source: Path, out: Path, layout: str = "label-studio") -> dict:
    if which == "reference":
        out.mkdir()  # the reference writes into an existing folder; ml-data creates its own
    finished = subprocess.run(
        [sys.executable, "-c", _CHILD, which, fmt, str(source), str(out), CONFIG, layout],
        env=child_env(),
        capture_output=True,
        text=True,
    )
    if finished.returncode != 0:
        sys.exit(f"{which} {fmt} failed:\n{finished.stderr[-2000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def same_polygons(reference: Path, ours: Path) -> bool:
    """Every yolo-seg line of ours is one of the reference's COCO polygons of the same image,
    and as many: the same contour points, ours half a pixel further (pixel centres)."""
    coco = json.loads((reference / "result_coco.json").read_text())
    names = {image["id"]: image["file_name"] for image in coco["images"]}
    theirs: dict[str, set[tuple[int, ...]]] = {}
    for annotation in coco["annotations"]:
        for polygon in annotation["segmentation"]:
            theirs.setdefault(Path(names[annotation["image_id"]]).stem, set()).add(tuple(polygon))
    for label in (ours / "labels").glob("*.txt"):
        mine = set()
        for line in label.read_text().splitlines():
            values = np.array(line.split()[1:], dtype=np.float64).reshape(-1, 2) * (WIDTH, HEIGHT) - 0.5
            mine.add(tuple(int(v) for v in np.rint(values).ravel()))
        if mine != theirs.pop(label.stem, set()):
            return False
    return not theirs


def same_masks(reference: Path, ours: Path, suffix: str) -> bool:
    """Every mask of ours equals the reference's for the same task (reference files are named
    ``task-<id>-...``, ours after the image, ``img_<id - 1>-...``)."""
    theirs = {int(path.name.split("-")[1]): path for path in reference.rglob(f"*{suffix}")}
    mine = {int(path.name[4:9]) + 1: path for path in ours.rglob(f"*{suffix}")}
    if set(theirs) != set(mine):
        return False
    if suffix == ".npy":
        load = np.load
    else:
        from PIL import Image

        def load(path: Path) -> np.ndarray:
            with Image.open(path) as image:
                return np.asarray(image)

    for task_id, their_path in theirs.items():
        their_mask, my_mask = load(their_path), load(mine[task_id])
        if their_mask.ndim == 3:
            their_mask = their_mask[..., -1]
        if not np.array_equal(their_mask > 0, my_mask > 0):
            return False
    return True


def decode_alone(count: int) -> None:
    """Milliseconds per 1080p mask, RLE to alpha channel, each implementation on the same RLEs."""
    from label_studio_sdk.converter.brush import decode_rle as reference_decode

    rng = np.random.default_rng(3)
    rles = [rle_from_mask(mask(rng)) for _ in range(count)]
    reference_seconds = ours_seconds = 0.0
    same = True
    for rle in rles:  # one mask at a time: neither side pays for memory the other holds
        started = time.perf_counter()
        theirs = reference_decode(rle).reshape(HEIGHT, WIDTH, 4)[:, :, 3]
        reference_seconds += time.perf_counter() - started
        started = time.perf_counter()
        ours = mask_from_rle(rle, WIDTH, HEIGHT)
        ours_seconds += time.perf_counter() - started
        same = same and np.array_equal(theirs, ours)
    reference_ms, ours_ms = reference_seconds * 1000 / count, ours_seconds * 1000 / count
    records = sum(len(rle) for rle in rles) / count
    print(f"decoding alone, {count} masks of {WIDTH}x{HEIGHT} (RLE of {records / 1000:.1f} KB on average)")
    print(
        f"  reference {reference_ms:8.2f} ms/mask   ml-data {ours_ms:6.2f} ms/mask   "
        f"speed-up {reference_ms / ours_ms:6.1f}x   same: {'yes' if same else 'NO'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--masks", type=int, default=1000)
    parser.add_argument("--decode-masks", type=int, default=50, help="masks for the decoding-alone figure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ml-data-brush-") as tmp:
        work = Path(tmp)
        export = work / "export.json"
        write_export(export, args.masks)
        print(f"{args.masks} brush masks of {WIDTH}x{HEIGHT}")
        print(f"  {'format':16} {'reference':>10} {'ml-data':>9} {'speed-up':>8} {'ref RSS':>8} {'our RSS':>8}  same")
        for reference_format, our_format in CASES:
            theirs = run("reference", reference_format, export, work / f"ref-{our_format}")
            ours = run("ml-data", our_format, export, work / f"ours-{our_format}")
            if our_format == "yolo-seg":
                same = same_polygons(work / f"ref-{our_format}", work / f"ours-{our_format}")
            else:
                suffix = ".npy" if our_format == "brush-numpy" else ".png"
                same = same_masks(work / f"ref-{our_format}", work / f"ours-{our_format}", suffix)
            print(
                f"  {our_format:16} {theirs['seconds']:9.2f}s {ours['seconds']:8.2f}s "
                f"{theirs['seconds'] / ours['seconds']:7.1f}x {theirs['peak_rss_mb']:6.0f}MB "
                f"{ours['peak_rss_mb']:6.0f}MB  {'yes' if same else 'NO'}",
                flush=True,
            )
        for our_format, layout in OURS_ONLY:
            ours = run("ml-data", our_format, export, work / f"ours-{our_format}", layout)
            print(
                f"  {our_format:16} {'-':>10} {ours['seconds']:8.2f}s {'-':>8} {'-':>8} {ours['peak_rss_mb']:6.0f}MB",
                flush=True,
            )
    # Last: a child's peak RSS starts at its parent's, so the masks held here must come after.
    decode_alone(args.decode_masks)


if __name__ == "__main__":
    main()
