"""VOC's SegmentationClass/ counted by stats: the images with a class mask and the pixels of each
class per split, as datumaro reads the same masks (a VOC written by ml-data from brush results)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from click.testing import CliRunner

from ml_data import dataset_stats
from ml_data.cli import main
from ml_data.converters import ConvertOptions, MediaHooks, convert
from tests.support.exports import brush_result

datumaro = pytest.importorskip("datumaro")
from datumaro.components.annotation import AnnotationType  # noqa: E402
from datumaro.components.dataset import Dataset  # noqa: E402

WIDTH, HEIGHT = 96, 64
CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='sign'/></RectangleLabels>"
    "<BrushLabels name='brush' toName='image'><Label value='road'/><Label value='tree'/></BrushLabels></View>"
)


def blob(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    y, x = rng.integers(0, HEIGHT - 20), rng.integers(0, WIDTH - 20)
    mask[y : y + rng.integers(5, 30), x : x + rng.integers(5, 40)] = 255
    return mask


def rectangle(region_id: str) -> dict:
    value = {"x": 5, "y": 5, "width": 20, "height": 10, "rotation": 0, "rectanglelabels": ["sign"]}
    size = {"original_width": WIDTH, "original_height": HEIGHT}
    return {"id": region_id, "from_name": "box", "to_name": "image", "type": "rectanglelabels", **size, "value": value}


def datumaro_pixels(out) -> dict[str, tuple[int, Counter[str]]]:  # type: ignore[no-untyped-def]
    """split -> (images with a mask, pixels per class), from datumaro's masks."""
    dataset = Dataset.import_from(str(out), "voc_segmentation")
    labels = [label.name for label in dataset.categories()[AnnotationType.label]]
    found: dict[str, tuple[int, Counter[str]]] = {}
    for item in dataset:
        masks = [ann for ann in item.annotations if ann.type == AnnotationType.mask]
        canvas = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
        for mask in masks:
            canvas[mask.image.astype(bool)] = mask.label
        images, pixels = found.get(item.subset, (0, Counter()))
        values, counts = np.unique(canvas, return_counts=True)
        pixels.update({labels[value]: int(count) for value, count in zip(values, counts, strict=True) if value})
        found[item.subset] = (images + 1, pixels)
    return found


def test_voc_class_masks_are_counted_per_split_as_datumaro_reads_them(tmp_path):
    tasks = []
    split = {}
    for task_id in range(1, 9):
        regions = [brush_result(f"r{task_id}", blob(task_id), "road")]
        if task_id % 3 == 0:
            regions.append(brush_result(f"t{task_id}", blob(100 + task_id), "tree"))
        if task_id % 4 == 0:
            regions = [rectangle("box")]  # a box only: no mask for this image
        tasks.append(
            {"id": task_id, "data": {"image": f"/data/upload/1/{task_id}.png"}, "annotations": [{"result": regions}]}
        )
        split[task_id] = "train" if task_id <= 5 else "val"
    media = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT), subset_of=split.get)
    out = tmp_path / "voc"
    convert(
        tasks,
        "voc",
        out,
        config=CONFIG,
        options=ConvertOptions(layout="standard", subsets=("train", "val")),
        media=media,
    )

    stats = dataset_stats(out)
    theirs = datumaro_pixels(out)
    for entry in stats.splits:
        images, pixels = theirs[entry.name]
        assert entry.mask_images == images
        assert +Counter(entry.mask_pixels) == pixels
    assert stats.overall.mask_images == 6  # tasks 4 and 8 have a box only
    assert stats.split("train").mask_pixels["tree"] > 0 and stats.split("val").mask_pixels["tree"] > 0
    assert stats.as_dict()["overall"]["mask_images"] == 6

    result = CliRunner().invoke(main, ["stats", str(out)])
    assert "mask pixels" in result.output and "(images with a mask)" in result.output


def test_masks_are_counted_only_where_the_layout_has_them(tmp_path):
    """A brush project's VOC has SegmentationClass/ even when no image has a mask (zero counts); a
    box project's has none, and stats says nothing of masks."""
    media = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT))
    tasks = [{"id": 1, "data": {"image": "/data/upload/1/1.png"}, "annotations": [{"result": [rectangle("box")]}]}]
    brushes = tmp_path / "brushes"
    convert(tasks, "voc", brushes, config=CONFIG, options=ConvertOptions(layout="standard"), media=media)
    stats = dataset_stats(brushes)
    assert stats.overall.mask_images == 0 and stats.overall.mask_pixels == {"road": 0, "sign": 0, "tree": 0}
    boxes = tmp_path / "boxes"
    box_config = CONFIG.split("<BrushLabels")[0] + "</View>"
    convert(tasks, "voc", boxes, config=box_config, options=ConvertOptions(layout="standard"), media=media)
    assert not (boxes / "SegmentationClass").exists()
    stats = dataset_stats(boxes)
    assert stats.overall.mask_images is None and "mask_images" not in stats.as_dict()["overall"]


def test_a_mask_value_no_class_has_is_a_finding_naming_the_file(tmp_path):
    from PIL import Image

    out = tmp_path / "voc"
    tasks = [
        {
            "id": 1,
            "data": {"image": "/data/upload/1/1.png"},
            "annotations": [{"result": [brush_result("r", blob(1), "road")]}],
        }
    ]
    media = MediaHooks(image_size=lambda url, task_id: (WIDTH, HEIGHT))
    convert(tasks, "voc", out, config=CONFIG, options=ConvertOptions(layout="standard"), media=media)
    (mask,) = (out / "SegmentationClass").iterdir()
    with Image.open(mask) as image:
        pixels = np.asarray(image).copy()
        palette = image.getpalette()
    pixels[0, 0] = 200
    broken = Image.fromarray(pixels, mode="P")
    broken.putpalette(palette)
    broken.save(mask)
    stats = dataset_stats(out)
    (finding,) = [finding for finding in stats.problems() if "class mask" in finding.message]
    assert f"SegmentationClass/{mask.name} (value 200)" in finding.examples
    assert stats.overall.mask_images == 0
