"""Videos made for the tests: coloured squares moving over black, drawn with numpy and encoded
with PyAV, with the keyframe tracks that follow them."""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

WIDTH, HEIGHT, SIDE, FPS = 160, 120, 16, 24
#: label -> the RGB colour of its square
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255)}


@dataclass(frozen=True)
class Square:
    """A square of ``label``'s colour moving linearly from ``start`` to ``end`` (top-left pixels)
    over frames ``first``..``last``, absent from the other frames."""

    label: str
    first: int
    last: int
    start: tuple[float, float]
    end: tuple[float, float]

    def at(self, frame: int) -> tuple[int, int] | None:
        if not self.first <= frame <= self.last:
            return None
        t = (frame - self.first) / max(1, self.last - self.first)
        return (
            round(self.start[0] + (self.end[0] - self.start[0]) * t),
            round(self.start[1] + (self.end[1] - self.start[1]) * t),
        )

    def keyframe(self, frame: int, *, enabled: bool = True) -> dict[str, Any]:
        """The keyframe of this square at ``frame``: its unrounded position, in percent."""
        t = (frame - self.first) / max(1, self.last - self.first)
        x = self.start[0] + (self.end[0] - self.start[0]) * t
        y = self.start[1] + (self.end[1] - self.start[1]) * t
        return {
            "frame": frame,
            "enabled": enabled,
            "x": 100 * x / WIDTH,
            "y": 100 * y / HEIGHT,
            "width": 100 * SIDE / WIDTH,
            "height": 100 * SIDE / HEIGHT,
            "rotation": 0,
            "time": (frame - 1) / FPS,
        }


def encode_video(frames: int, squares: list[Square]) -> bytes:
    """An MP4 (MPEG-4 part 2, high quality) of ``frames`` frames showing ``squares``."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = 4_000_000
        stream.codec_context.time_base = Fraction(1, FPS)
        for number in range(1, frames + 1):
            pixels = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
            for square in squares:
                place = square.at(number)
                if place is not None:
                    x, y = place
                    pixels[y : y + SIDE, x : x + SIDE] = COLOURS[square.label]
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def find_square(pixels: np.ndarray, label: str) -> tuple[int, int, int, int] | None:
    """The pixel box (x0, y0, x1, y1) of ``label``'s colour in an RGB image, None if absent."""
    colour = np.array(COLOURS[label], dtype=np.int16)
    close = np.abs(pixels.astype(np.int16) - colour).max(axis=2) < 60
    ys, xs = np.nonzero(close)
    if len(xs) < SIDE * SIDE // 2:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


#: two videos, three tracks: red crosses video 1, green leaves it at frame 16 (its track ended
#: there by a disabled keyframe), blue crosses video 2 diagonally
VIDEO_1 = (24, [Square("red", 1, 24, (8, 20), (132, 30)), Square("green", 1, 16, (40, 96), (100, 10))])
VIDEO_2 = (20, [Square("blue", 1, 20, (130, 90), (10, 6))])


CONFIG = """<View>
  <Labels name="videoLabels" toName="video"><Label value="red"/><Label value="green"/><Label value="blue"/></Labels>
  <Video name="video" value="$video" frameRate="24"/>
  <VideoRectangle name="box" toName="video"/>
</View>"""


def tracks(count: int, squares: list[Square], *, prefix: str = "track") -> list[dict[str, Any]]:
    """The ``videorectangle`` results following ``squares`` in a video of ``count`` frames: keyframes
    at each square's first, middle and last frame; a track whose square leaves before the end is
    ended there by a disabled keyframe."""
    result = []
    for index, square in enumerate(squares):
        middle = (square.first + square.last) // 2
        ends = square.last < count
        sequence = [
            square.keyframe(square.first),
            square.keyframe(middle),
            square.keyframe(square.last, enabled=not ends),
        ]
        result.append(
            {
                "id": f"{prefix}{index}",
                "from_name": "box",
                "to_name": "video",
                "type": "videorectangle",
                "value": {
                    "sequence": sequence,
                    "labels": [square.label],
                    "framesCount": count,
                    "duration": count / FPS,
                },
            }
        )
    return result


def video_tasks() -> list[dict[str, Any]]:
    """Two video tasks (``data:`` URIs), three tracks; green's track ends at frame 16 by a disabled
    keyframe."""
    tasks = []
    for task_id, (count, squares) in ((1, VIDEO_1), (2, VIDEO_2)):
        url = "data:video/mp4;base64," + base64.b64encode(encode_video(count, squares)).decode()
        result = tracks(count, squares, prefix=f"track{task_id}")
        tasks.append({"id": task_id, "data": {"video": url}, "annotations": [{"id": 10 + task_id, "result": result}]})
    return tasks


def interpolated_boxes(result: list[dict[str, Any]]) -> dict[tuple[int, str], dict[str, float]]:
    """(frame, label) -> the box of each track in each frame, from results that hold every frame
    (Label Studio's export with ``interpolate_key_frames``, or ``extract_key_frames``'s output)."""
    found = {}
    for region in result:
        if region.get("type") != "videorectangle":
            continue
        for item in region["value"]["sequence"]:
            found[(item["frame"], region["value"]["labels"][0])] = item
    return found


def expected_boxes(task: dict[str, Any]) -> dict[tuple[int, str], dict[str, float]]:
    """(frame, label) -> the box Label Studio's interpolated export holds, by the SDK's own code."""
    from label_studio_sdk._extensions.label_studio_tools.postprocessing.video import extract_key_frames

    return interpolated_boxes(extract_key_frames(task["annotations"][0]["result"]))


def video_sha8(video: bytes | dict[str, Any]) -> str:
    """The start of a video's sha256 (of its bytes, or of a task's ``data:`` URI), which names its
    frames in a dataset."""
    if isinstance(video, dict):
        video = base64.b64decode(video["data"]["video"].split(",", 1)[1])
    return hashlib.sha256(video).hexdigest()[:8]
