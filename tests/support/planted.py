"""Datasets with planted problems, written by ml-data itself (fetch from an export whose images a
loopback file server serves), and what was planted, for the tests to derive every expected count
from.

The plan: tasks split train/val by ml-data's own split hash; each labelled image has a cat and a
dog; one train image also has a bird (a class only in train), one val image a 2x2 px cat (a tiny
box), one train image has no objects; two train tasks have the same image (a duplicate within a
split), and a train and a val task the same image (a leak). ``fish`` is declared and never used.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ml_data.pipeline import DatasetOptions, fetch_export
from ml_data.tasks.identity import split_of

WIDTH, HEIGHT = 80, 60
LABELS = ["bird", "cat", "dog", "fish"]
SPLIT = {"train": 0.5, "val": 0.5}
#: the formats stats reads, with the shape their config gives
SHAPES = {
    "coco": "rectangle",
    "voc": "rectangle",
    "yolo": "rectangle",
    "yolo-obb": "rectangle",
    "yolo-pose": "rectangle",
    "yolo-seg": "polygon",
}


def png(seed: int) -> bytes:
    """An 80x60 PNG of a colour of its own (seeds up to 65535 all differ)."""
    buffer = io.BytesIO()
    Image.new("RGB", (WIDTH, HEIGHT), (seed % 256, seed // 256, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def config(fmt: str) -> str:
    tag = "PolygonLabels" if SHAPES[fmt] == "polygon" else "RectangleLabels"
    labels = "".join(f"<Label value='{label}'/>" for label in LABELS)
    pose = (
        "<KeyPointLabels name='kp' toName='image'><Label value='nose' model_index='0'/></KeyPointLabels>"
        if fmt == "yolo-pose"
        else ""
    )
    return f"<View><Image name='image' value='$image'/><{tag} name='shape' toName='image'>{labels}</{tag}>{pose}</View>"


def region(region_id: str, label: str, shape: str, x: float, y: float, w: float, h: float) -> dict:
    """A region in Label Studio's percentages of the 80x60 image."""
    if shape == "polygon":
        value = {"points": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]], "polygonlabels": [label]}
        kind = "polygonlabels"
    else:
        value = {"x": x, "y": y, "width": w, "height": h, "rotation": 0, "rectanglelabels": [label]}
        kind = "rectanglelabels"
    return {
        "id": region_id,
        "from_name": "shape",
        "to_name": "image",
        "type": kind,
        "original_width": WIDTH,
        "original_height": HEIGHT,
        "value": value,
    }


#: a normal box: 32x18 px; a tiny one: 2x2 px
NORMAL = (10.0, 10.0, 40.0, 30.0)
TINY = (50.0, 50.0, 2 / WIDTH * 100, 2 / HEIGHT * 100)


@dataclass
class PlannedTask:
    task_id: int
    split: str
    #: which image: tasks with the same key have the same file content
    image: int
    #: (label, tiny)
    objects: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Plan:
    tasks: list[PlannedTask]

    def split_names(self, split: bool) -> list[str]:
        return list(SPLIT) if split else ["default"]

    def split_of(self, task: PlannedTask, split: bool) -> str:
        return task.split if split else "default"

    def images(self, split: bool) -> Counter[str]:
        return Counter(self.split_of(task, split) for task in self.tasks)

    def empty(self, split: bool) -> Counter[str]:
        return Counter(self.split_of(task, split) for task in self.tasks if not task.objects)

    def small(self, split: bool) -> Counter[str]:
        return Counter(self.split_of(task, split) for task in self.tasks for _, tiny in task.objects if tiny)

    def instances(self, split: bool) -> dict[str, Counter[str]]:
        found: dict[str, Counter[str]] = {name: Counter() for name in self.split_names(split)}
        for task in self.tasks:
            for label, _ in task.objects:
                found[self.split_of(task, split)][label] += 1
        return found

    def duplicate_groups(self, split: bool) -> list[list[str]]:
        """The splits of each set of tasks sharing an image."""
        by_image: dict[int, list[str]] = {}
        for task in self.tasks:
            by_image.setdefault(task.image, []).append(self.split_of(task, split))
        return [splits for splits in by_image.values() if len(splits) > 1]

    def export(self, url_of, shape: str) -> list[dict]:  # type: ignore[no-untyped-def]
        found = []
        for task in self.tasks:
            result = [
                region(f"r{task.task_id}_{n}", label, shape, *(TINY if tiny else NORMAL))
                for n, (label, tiny) in enumerate(task.objects)
            ]
            found.append(
                {
                    "id": task.task_id,
                    "data": {"image": url_of(task)},
                    "annotations": [{"id": task.task_id, "result": result}],
                }
            )
        return found


def make_plan() -> Plan:
    """The plan of the module's docstring, on task ids that ml-data's split hash sends where wanted."""
    ids = {name: [n for n in range(1, 200) if split_of(n, SPLIT) == name] for name in SPLIT}
    train, val = ids["train"][:6], ids["val"][:4]
    tasks = [PlannedTask(n, "train", image=n, objects=[("cat", False), ("dog", False)]) for n in train]
    tasks += [PlannedTask(n, "val", image=n, objects=[("cat", False), ("dog", False)]) for n in val]
    tasks[0].objects.append(("bird", False))  # a class only in train
    tasks[1].objects.clear()  # an image without objects
    tasks[3].image = tasks[2].image  # the same image twice in train
    tasks[6].image = tasks[4].image  # the same image in train and val (tasks[6] is the first val task)
    tasks[7].objects.append(("cat", True))  # a 2x2 px box in val
    return Plan(tasks)


def write_dataset(tmp_path: Path, file_server, settings, fmt: str, *, split: bool) -> tuple[Plan, Path]:  # type: ignore[no-untyped-def]
    """Fetch the planted dataset in ``fmt`` (standard layout) into a new folder."""
    plan = make_plan()
    for task in plan.tasks:
        file_server.add(f"/img/{task.task_id}.png", body=png(task.image))
    tasks = plan.export(lambda task: file_server.url(f"/img/{task.task_id}.png"), SHAPES[fmt])
    export = tmp_path / f"export-{fmt}.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / f"{fmt}-{'split' if split else 'all'}"
    options = DatasetOptions(format=fmt, split=SPLIT if split else None)
    fetch_export(export, format=fmt, out=out, config=config(fmt), settings=settings, options=options)
    return plan, out
