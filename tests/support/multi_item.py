"""Tasks with several images, as Label Studio exports them: a multi-page document (``<Repeater>``,
results named ``labels_<page>`` on ``page_<page>``) and a ``valueList`` gallery (results on the
image by ``item_index``). Shared by the converter, pipeline and real Label Studio tests."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

REPEATER_CONFIG = """<View>
  <Repeater on="$pages" indexFlag="{{idx}}">
    <Image name="page_{{idx}}" value="$pages[{{idx}}].url"/>
    <RectangleLabels name="labels_{{idx}}" toName="page_{{idx}}">
      <Label value="figure"/>
      <Label value="word"/>
    </RectangleLabels>
  </Repeater>
</View>"""

VALUE_LIST_CONFIG = """<View>
  <Image name="img" valueList="$images"/>
  <RectangleLabels name="box" toName="img">
    <Label value="cat"/>
    <Label value="dog"/>
  </RectangleLabels>
</View>"""

#: every page and gallery image is this size
WIDTH, HEIGHT = 80, 60


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (seed * 37 % 256, 90, 200 - seed * 11 % 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def box(
    region_id: str, from_name: str, to_name: str, label: str, x: float, y: float, *, item_index: int | None = None
) -> dict[str, Any]:
    """A 25% x 50% rectangle at (x, y) percent."""
    region: dict[str, Any] = {
        "id": region_id,
        "from_name": from_name,
        "to_name": to_name,
        "type": "rectanglelabels",
        "original_width": WIDTH,
        "original_height": HEIGHT,
        "image_rotation": 0,
        "value": {"x": x, "y": y, "width": 25, "height": 50, "rotation": 0, "rectanglelabels": [label]},
    }
    if item_index is not None:
        region["item_index"] = item_index
    return region


def page_results(task: int) -> list[dict[str, Any]]:
    """Boxes on pages 0 and 2 of a three-page document; page 1 has none (a background page)."""
    return [
        box(f"t{task}a", "labels_0", "page_0", "word", 10, 10),
        box(f"t{task}b", "labels_2", "page_2", "figure", 50, 20),
        box(f"t{task}c", "labels_2", "page_2", "word", 5, 40),
    ]


def gallery_results(task: int) -> list[dict[str, Any]]:
    """One cat on the second image, two dogs on the first."""
    return [
        box(f"g{task}a", "box", "img", "cat", 20, 20, item_index=1),
        box(f"g{task}b", "box", "img", "dog", 10, 10, item_index=0),
        box(f"g{task}c", "box", "img", "dog", 60, 40, item_index=0),
    ]


def pixels(region: dict[str, Any]) -> list[float]:
    """A region's COCO bbox in pixels."""
    value = region["value"]
    return [value["x"] * WIDTH / 100, value["y"] * HEIGHT / 100, WIDTH / 4, HEIGHT / 2]
