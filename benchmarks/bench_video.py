"""Video benchmark: keyframe tracks interpolated per frame, ml-data against label-studio-sdk's
``extract_key_frames`` (what Label Studio's export runs with ``interpolate_key_frames``), and
frame datasets written by ``convert_export`` against the plain loop a user would write (PyAV decode,
every frame saved as PNG).

    .venv/bin/python -m benchmarks.bench_video                  # 200 tracks x 3,000 frames; 480 frames
    .venv/bin/python -m benchmarks.bench_video --tracks 20 --video-frames 96

Interpolation: each track has a keyframe every 50 frames, one in ten ends early with a disabled
keyframe; both implementations run in this process on the same results (best of three), and
their boxes are compared. Frames: one generated video (coloured squares moving over black,
160x120, MPEG-4), all its frames written as a YOLO dataset: cold (decoded into an empty cache),
warm (a new output from the cached frames), and the plain loop into a folder.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml_data.config import Settings
from ml_data.converters import ConvertOptions
from ml_data.pipeline import convert_export
from ml_data.video.interpolation import track_boxes


def tracks(count: int, frames: int, every: int = 50) -> list[dict[str, Any]]:
    rng = random.Random(7)
    made = []
    for index in range(count):
        last = frames if index % 10 else rng.randint(frames // 2, frames)
        sequence = [
            {
                "frame": frame,
                "enabled": not (index % 10 == 0 and frame == last),
                "x": rng.uniform(0, 80),
                "y": rng.uniform(0, 80),
                "width": rng.uniform(5, 20),
                "height": rng.uniform(5, 20),
                "rotation": 0,
                "time": (frame - 1) / 24,
            }
            for frame in [*range(1, last, every), last]
        ]
        value = {"sequence": sequence, "framesCount": frames, "duration": frames / 24, "labels": ["car"]}
        made.append(
            {"id": f"t{index}", "from_name": "box", "to_name": "video", "type": "videorectangle", "value": value}
        )
    return made


def best(run: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - start)
    return min(timings), result


def bench_interpolation(count: int, frames: int) -> None:
    from label_studio_sdk._extensions.label_studio_tools.postprocessing.video import extract_key_frames

    results = tracks(count, frames)
    reference_seconds, reference = best(lambda: extract_key_frames(results))
    ours_seconds, ours = best(lambda: [track_boxes(region["value"]) for region in results])
    boxes = sum(len(region["value"]["sequence"]) for region in reference)
    assert boxes == sum(len(track) for track in ours)
    for region, track in zip(reference, ours, strict=True):
        for item, box in zip(region["value"]["sequence"], track, strict=True):
            assert item["frame"] == box.frame and abs(item["x"] - box.x) < 1e-9
    print(f"interpolation: {count} tracks x {frames} frames, {boxes:,} boxes (equal)")
    print(
        f"  reference {reference_seconds:7.3f} s   ml-data {ours_seconds:7.3f} s   "
        f"speed-up {reference_seconds / ours_seconds:5.1f}x"
    )


CONFIG = """<View>
  <Labels name="videoLabels" toName="video"><Label value="red"/><Label value="green"/></Labels>
  <Video name="video" value="$video" frameRate="24"/>
  <VideoRectangle name="box" toName="video"/>
</View>"""


def bench_frames(frames: int) -> None:
    import av

    from tests.support.videos import Square, encode_video, tracks

    squares = [Square("red", 1, frames, (8, 20), (132, 30)), Square("green", 1, frames // 2, (40, 96), (100, 10))]
    body = encode_video(frames, squares)
    task = {
        "id": 1,
        "data": {"video": "data:video/mp4;base64," + base64.b64encode(body).decode()},
        "annotations": [{"id": 1, "result": tracks(frames, squares)}],
    }
    with tempfile.TemporaryDirectory(prefix="bench-video-") as folder:
        root = Path(folder)
        export = root / "export.json"
        export.write_text(json.dumps([task]))
        settings = Settings(cache_dir=root / "cache")
        options = ConvertOptions(layout="standard")

        def run(out: str) -> None:
            convert_export(export, "yolo", root / out, config=CONFIG, options=options, frames="all", settings=settings)

        start = time.perf_counter()
        run("cold")
        cold = time.perf_counter() - start
        start = time.perf_counter()
        run("warm")
        warm = time.perf_counter() - start
        (root / "video.mp4").write_bytes(body)
        (root / "plain").mkdir()
        start = time.perf_counter()
        with av.open(str(root / "video.mp4")) as container:
            for number, frame in enumerate(container.decode(video=0), start=1):
                frame.to_image().save(root / "plain" / f"frame_{number:06d}.png")
        plain = time.perf_counter() - start
    print(f"frames: one video of {frames} frames (160x120), all written as YOLO")
    for what, seconds in (
        ("plain loop (decode, save PNG)", plain),
        ("ml-data cold (decode, cache)", cold),
        ("ml-data warm (cached frames)", warm),
    ):
        print(f"  {what:30} {seconds:7.3f} s   {frames / seconds:8.0f} frames/s   {plain / seconds:5.2f}x the loop")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--frames", type=int, default=3000, help="frames per track")
    parser.add_argument("--video-frames", type=int, default=480)
    args = parser.parse_args()
    bench_interpolation(args.tracks, args.frames)
    bench_frames(args.video_frames)


if __name__ == "__main__":
    main()
