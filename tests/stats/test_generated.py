"""Larger generated exports (tests/support/exports.py), fetched and converted by ml-data in the
standard layout: stats counts what datumaro and pycocotools count in the same folders."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from ml_data import dataset_stats
from ml_data.converters import ConvertOptions, convert
from ml_data.pipeline import DatasetOptions, fetch_export
from tests.stats.test_planted import datumaro_counts
from tests.support.exports import IMAGE_CONFIG, tasks

COUNT = 40
SPLIT = {"train": 0.7, "val": 0.2, "test": 0.1}


def served_export(tmp_path: Path, file_server) -> Path:  # type: ignore[no-untyped-def]
    """The generated image tasks, each image served at the size its results were drawn on."""
    generated = list(tasks("image", COUNT, seed=7))
    for task in generated:
        region = task["annotations"][0]["result"][0]
        buffer = io.BytesIO()
        colour = (task["id"] % 256, 90, 200)
        Image.new("RGB", (region["original_width"], region["original_height"]), colour).save(buffer, format="PNG")
        file_server.add(f"/img/{task['id']}.png", body=buffer.getvalue())
        task["data"]["image"] = file_server.url(f"/img/{task['id']}.png")
    export = tmp_path / "export.json"
    export.write_text(json.dumps(generated))
    return export


@pytest.mark.parametrize(
    ("fmt", "datumaro_format"), [("coco", "coco_instances"), ("voc", "voc_detection"), ("yolo", "yolo")]
)
def test_stats_of_a_fetched_generated_export_agree_with_datumaro(tmp_path, file_server, settings, fmt, datumaro_format):
    export = served_export(tmp_path, file_server)
    out = tmp_path / fmt
    options = DatasetOptions(format=fmt, split=SPLIT)
    fetch_export(export, format=fmt, out=out, config=IMAGE_CONFIG, settings=settings, options=options)
    stats = dataset_stats(out)
    assert stats.overall.images == COUNT and not stats.problems() and not stats.duplicates
    ours = {entry.name: (entry.images, +Counter(entry.instances)) for entry in stats.splits if entry.images}
    assert ours == datumaro_counts(out, datumaro_format)


def test_stats_of_a_converted_coco_agree_with_pycocotools_and_name_the_missing_images(tmp_path):
    """convert --layout standard writes the annotations, not the images: the counts are read all
    the same, and every image is said to be missing."""
    from pycocotools.coco import COCO

    out = tmp_path / "coco"
    convert(
        list(tasks("image", COUNT, seed=3)), "coco", out, config=IMAGE_CONFIG, options=ConvertOptions(layout="standard")
    )
    stats = dataset_stats(out, min_box_pixels=12)
    (default,) = stats.splits
    coco = COCO(str(out / "annotations" / "instances_default.json"))
    assert default.images == len(coco.getImgIds()) == COUNT
    for category in coco.loadCats(coco.getCatIds()):
        assert default.instances[category["name"]] == len(coco.getAnnIds(catIds=[category["id"]]))
    boxes = [annotation["bbox"] for annotation in coco.loadAnns(coco.getAnnIds())]
    assert default.small_boxes == sum(1 for _, _, w, h in boxes if w < 12 or h < 12) > 0
    (missing,) = stats.problems()
    assert missing.count == COUNT and missing.message.startswith("no image file there")


def test_stats_of_a_fetched_hf_imagefolder_agree_with_the_datasets_library(tmp_path, file_server, settings):
    """Per split, the images and instances the datasets library loads from the same folder; the
    boxes measured as the COCO written from the same export measures them; read alike without
    the manifest (the layout recognised by its files)."""
    from tests.support.hf_datasets import load_folder, rows

    export = served_export(tmp_path, file_server)
    out = tmp_path / "hf"
    options = DatasetOptions(format="hf-imagefolder", split=SPLIT)
    fetch_export(export, format="hf-imagefolder", out=out, config=IMAGE_CONFIG, settings=settings, options=options)
    stats = dataset_stats(out, min_box_pixels=12)
    assert stats.format == "hf-imagefolder" and stats.overall.images == COUNT
    assert not stats.problems() and not stats.duplicates
    loaded = load_folder("imagefolder", out, tmp_path / "hf-cache")
    names = (out / "classes.txt").read_text().splitlines()
    theirs = {}
    for split, dataset in loaded.items():
        found = rows(dataset)
        instances = Counter(names[category] for row in found for category in row["objects"]["categories"])
        theirs["val" if split == "validation" else split] = (len(found), instances)
    ours = {entry.name: (entry.images, +Counter(entry.instances)) for entry in stats.splits if entry.images}
    assert ours == theirs

    coco = tmp_path / "coco"
    fetch_export(
        export,
        format="coco",
        out=coco,
        config=IMAGE_CONFIG,
        settings=settings,
        options=DatasetOptions(format="coco", split=SPLIT),
    )
    measured = dataset_stats(coco, min_box_pixels=12)
    for entry in stats.splits:
        other = measured.split(entry.name)
        assert (entry.objects, entry.small_boxes, entry.outside_boxes, entry.empty_images) == (
            other.objects,
            other.small_boxes,
            other.outside_boxes,
            other.empty_images,
        )
    assert stats.overall.small_boxes > 0

    (out / "manifest.json").unlink()
    again = dataset_stats(out, min_box_pixels=12)
    assert again.format == "hf-imagefolder" and not again.manifest
    # without the manifest the splits come in name order
    assert sorted(map(repr, again.splits)) == sorted(map(repr, stats.splits))
