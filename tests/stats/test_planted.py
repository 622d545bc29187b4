"""Datasets ml-data wrote, with problems planted in them (see planted.py): stats finds each, its
counts are what was planted, and they agree with datumaro's and pycocotools' own reading of the
same folders."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from ml_data import DatasetStats, dataset_stats
from tests.support.planted import LABELS, SHAPES, Plan, write_dataset

SPLITS = pytest.mark.parametrize("split", [True, False], ids=["split", "no-split"])


def assert_planted(stats: DatasetStats, plan: Plan, split: bool) -> None:
    """Every count of ``stats`` is the plan's."""
    assert [entry.name for entry in stats.splits] == plan.split_names(split)
    assert stats.classes == tuple(LABELS)
    instances = plan.instances(split)
    for entry in stats.splits:
        assert entry.images == plan.images(split)[entry.name]
        assert dict(entry.instances) == {label: instances[entry.name][label] for label in LABELS}
        assert entry.objects == sum(instances[entry.name].values())
        assert entry.empty_images == plan.empty(split)[entry.name]
        assert entry.small_boxes == plan.small(split)[entry.name]
        assert entry.outside_boxes == 0 and entry.unmeasured_boxes == 0
    assert stats.overall.images == len(plan.tasks)
    assert stats.unused_classes == ("fish",)
    found = sorted(sorted(item.split for item in group.files) for group in stats.duplicates)
    assert found == sorted(sorted(splits) for splits in plan.duplicate_groups(split))
    assert not stats.problems()


@pytest.mark.parametrize("fmt", list(SHAPES))
@SPLITS
def test_stats_finds_every_planted_problem(tmp_path, file_server, settings, fmt, split):
    plan, out = write_dataset(tmp_path, file_server, settings, fmt, split=split)
    stats = dataset_stats(out)
    assert stats.format == fmt and stats.manifest
    assert_planted(stats, plan, split)
    kinds = Counter(finding.kind for finding in stats.findings)
    if split:
        # What was planted, said once each.
        assert stats.split("val").missing_classes == ("bird",) and stats.split("train").missing_classes == ()
        assert stats.split("val").small_boxes == 1 and stats.split("train").empty_images == 1
        assert [group.splits for group in stats.leaks] == [("train", "val")]
        assert dict(kinds) == {
            "leak": 1,
            "duplicate": 1,
            "missing-class": 1,
            "unused-class": 1,
            "empty-images": 1,
            "small-boxes": 1,
        }
    else:
        assert not stats.leaks and len(stats.duplicates) == 2
        assert dict(kinds) == {"duplicate": 2, "unused-class": 1, "empty-images": 1, "small-boxes": 1}


@pytest.mark.parametrize("fmt", list(SHAPES))
def test_without_a_manifest_the_layout_alone_gives_the_same_counts(tmp_path, file_server, settings, fmt):
    plan, out = write_dataset(tmp_path, file_server, settings, fmt, split=True)
    (out / "manifest.json").unlink()
    stats = dataset_stats(out)
    assert not stats.manifest
    # Without the manifest, a YOLO variant is known by data.yaml (pose) or else read line by line.
    assert stats.format == {"yolo-obb": "yolo", "yolo-seg": "yolo"}.get(fmt, fmt)
    assert_planted(stats, plan, split=True)


def test_sha256s_come_from_the_manifest_only_while_the_file_is_the_one_it_describes(tmp_path, file_server, settings):
    """The manifest's sha256 is taken for a file of the recorded size and modification time (not
    hashed again); a file written since is hashed."""
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    (leak,) = dataset_stats(out).leaks
    val_copy = next(item.path for item in leak.files if item.split == "val")
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"][val_copy]["sha256"] = "ab" * 32
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert not dataset_stats(out).leaks  # the manifest's word, the file unchanged

    # The same bytes written anew (another file, another modification time): hashed, the leak is back.
    data = (out / val_copy).read_bytes()
    recorded = manifest["files"][val_copy]["mtime_ns"]
    (out / val_copy).unlink()  # hard-linked from the cache: replaced, never written through
    (out / val_copy).write_bytes(data)
    os.utime(out / val_copy, ns=(recorded + 10**9, recorded + 10**9))
    assert [group.splits for group in dataset_stats(out).leaks] == [("train", "val")]


# -- the same folders as datumaro and pycocotools read them ------------------------------------------


def datumaro_counts(path: Path, fmt: str) -> dict[str, tuple[int, Counter[str]]]:
    """subset -> (items, annotations per label) as datumaro imports the dataset."""
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    dataset = Dataset.import_from(str(path), fmt)
    names = [label.name for label in dataset.categories()[AnnotationType.label]]
    counts: dict[str, tuple[int, Counter[str]]] = {}
    for item in dataset:
        items, labels = counts.get(item.subset, (0, Counter()))
        labels.update(
            names[annotation.label] for annotation in item.annotations if annotation.type == AnnotationType.bbox
        )
        counts[item.subset] = (items + 1, labels)
    return counts


@pytest.mark.parametrize(
    ("fmt", "datumaro_format"), [("coco", "coco_instances"), ("voc", "voc_detection"), ("yolo", "yolo")]
)
@SPLITS
def test_counts_agree_with_datumaro(tmp_path, file_server, settings, fmt, datumaro_format, split):
    _, out = write_dataset(tmp_path, file_server, settings, fmt, split=split)
    stats = dataset_stats(out)
    theirs = datumaro_counts(out, datumaro_format)
    ours = {entry.name: (entry.images, +Counter(entry.instances)) for entry in stats.splits}
    assert ours == theirs


@SPLITS
def test_coco_counts_agree_with_pycocotools(tmp_path, file_server, settings, split):
    from pycocotools.coco import COCO

    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=split)
    stats = dataset_stats(out)
    for entry in stats.splits:
        coco = COCO(str(out / "annotations" / f"instances_{entry.name}.json"))
        assert entry.images == len(coco.getImgIds())
        assert entry.empty_images == sum(1 for image_id in coco.getImgIds() if not coco.getAnnIds(imgIds=[image_id]))
        for category in coco.loadCats(coco.getCatIds()):
            assert entry.instances[category["name"]] == len(coco.getAnnIds(catIds=[category["id"]]))
        boxes = [annotation["bbox"] for annotation in coco.loadAnns(coco.getAnnIds())]
        assert entry.small_boxes == sum(1 for _, _, w, h in boxes if w < 4 or h < 4)
