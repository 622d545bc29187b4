"""Datasets read by the tools that train on them, as those tools read them: pycocotools' COCOeval,
datumaro's importers, Ultralytics' data.yaml resolution, spaCy's CoNLL converter.

A dataset is right when its consumer reads it as it is, not when it matches our reading of the
format.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from ml_data.converters import ConvertOptions, convert
from ml_data.pipeline import DatasetOptions, fetch_export
from ml_data.tasks import split_of
from tests.support.exports import brush_result

CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='cat'/><Label value='dog'/></RectangleLabels>"
    "<PolygonLabels name='poly' toName='image'><Label value='cat'/><Label value='dog'/></PolygonLabels>"
    "</View>"
)
BOX_CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<RectangleLabels name='box' toName='image'><Label value='cat'/><Label value='dog'/></RectangleLabels></View>"
)
SPLIT = {"train": 0.5, "val": 0.5}
COUNT = 8


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (seed * 30 % 256, 80, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def box(region_id: str, label: str, x: float, y: float, w: float, h: float, rotation: float = 0) -> dict:
    return {
        "id": region_id,
        "from_name": "box",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 80,
        "original_height": 60,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]},
    }


def polygon(region_id: str, label: str) -> dict:
    points = [[10, 10], [60, 15], [50, 70], [15, 55]]
    return {
        "id": region_id,
        "from_name": "poly",
        "to_name": "image",
        "type": "polygonlabels",
        "original_width": 80,
        "original_height": 60,
        "value": {"points": points, "polygonlabels": [label]},
    }


def tasks(url_of, *, polygons: bool = False) -> list[dict]:  # type: ignore[no-untyped-def]
    found = []
    for n in range(1, COUNT + 1):
        result = [box(f"b{n}", "cat" if n % 2 else "dog", 10, 10, 40, 30), box(f"c{n}", "dog", 50, 40, 30, 30)]
        if n == 3:
            result.append(box(f"r{n}", "cat", 20, 20, 30, 20, rotation=30))
        if polygons:
            result = [polygon(f"p{n}", "cat")]
        found.append({"id": n, "data": {"image": url_of(n)}, "annotations": [{"id": n, "result": result}]})
    return found


def boxes_expected(task_list: list[dict]) -> int:
    return sum(len(task["annotations"][0]["result"]) for task in task_list)


@pytest.fixture
def served(file_server):  # type: ignore[no-untyped-def]
    for n in range(1, COUNT + 1):
        file_server.add(f"/img/{n}.png", body=png(n))
    return lambda n: file_server.url(f"/img/{n}.png")


def fetch(tmp_path: Path, settings, task_list: list[dict], fmt: str, *, split=None, config: str = CONFIG) -> Path:  # type: ignore[no-untyped-def]
    export = tmp_path / f"export-{fmt}.json"
    export.write_text(json.dumps(task_list))
    out = tmp_path / f"{fmt}-{'split' if split else 'all'}"
    fetch_export(
        export, format=fmt, out=out, config=config, settings=settings, options=DatasetOptions(format=fmt, split=split)
    )
    return out


# -- pycocotools ------------------------------------------------------------------------------------


def self_evaluation(annotation_file: Path, iou_type: str = "bbox") -> float:
    """COCOeval of the ground truth against itself (every annotation a detection scored 1.0)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ground_truth = COCO(str(annotation_file))
    detections = [{**annotation, "score": 1.0} for annotation in ground_truth.dataset["annotations"]]
    if iou_type == "bbox":
        for detection in detections:
            detection.pop("segmentation", None)
    evaluation = COCOeval(ground_truth, ground_truth.loadRes(detections), iou_type)
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


def test_cocoeval_scores_every_written_coco_perfectly_against_itself(served, settings, tmp_path):
    """Regression: annotation ids from 0 gave AP 0.626 (COCOeval takes id 0 for "unmatched")."""
    box_tasks = tasks(served)
    written = [
        fetch(tmp_path, settings, box_tasks, "coco") / "annotations" / "instances_default.json",
        *sorted((fetch(tmp_path, settings, box_tasks, "coco", split=SPLIT) / "annotations").glob("*.json")),
    ]
    convert(box_tasks, "coco", tmp_path / "plain", config=CONFIG)
    written.append(tmp_path / "plain" / "result.json")
    for path in written:
        assert self_evaluation(path) == pytest.approx(1.0), path
    polygons = tmp_path / "polygons"
    convert(tasks(served, polygons=True), "coco", polygons, config=CONFIG)
    assert self_evaluation(polygons / "result.json", "segm") == pytest.approx(1.0)


def test_torchvision_and_detectron2_find_the_images_of_the_standard_layout(served, settings, tmp_path):
    """CocoDetection(root, annFile) and register_coco_instances(name, {}, json, image_root) join
    image_root and file_name."""
    out = fetch(tmp_path, settings, tasks(served), "coco", split=SPLIT)
    for subset in SPLIT:
        coco = json.loads((out / "annotations" / f"instances_{subset}.json").read_text())
        assert coco["images"] and all(
            (out / "images" / subset / image["file_name"]).is_file() for image in coco["images"]
        )
        assert min(category["id"] for category in coco["categories"]) == 1  # 0 is background there
        assert min(annotation["id"] for annotation in coco["annotations"]) == 1


# -- datumaro ---------------------------------------------------------------------------------------


def datumaro_counts(path: Path, fmt: str) -> dict[str, tuple[int, int]]:
    """subset -> (items, boxes) as datumaro imports the dataset."""
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    dataset = Dataset.import_from(str(path), fmt)
    counts: dict[str, tuple[int, int]] = {}
    for item in dataset:
        boxes = sum(1 for annotation in item.annotations if annotation.type == AnnotationType.bbox)
        items, total = counts.get(item.subset, (0, 0))
        counts[item.subset] = (items + 1, total + boxes)
    return counts


@pytest.mark.parametrize(
    ("fmt", "datumaro_format"), [("coco", "coco_instances"), ("voc", "voc_detection"), ("yolo", "yolo")]
)
@pytest.mark.parametrize("split", [None, SPLIT], ids=["no-split", "split"])
def test_datumaro_imports_every_dataset_fetch_writes(served, settings, tmp_path, fmt, datumaro_format, split):
    """Regression: datumaro could not import the datasets as written (layouts, a KeyError for YOLO
    with a split, no labelmap for VOC)."""
    task_list = tasks(served)
    out = fetch(tmp_path, settings, task_list, fmt, split=split, config=BOX_CONFIG)
    counts = datumaro_counts(out, datumaro_format)
    assert sum(items for items, _ in counts.values()) == COUNT
    assert sum(boxes for _, boxes in counts.values()) == boxes_expected(task_list)
    if split:
        expected = {name: sum(1 for n in range(1, COUNT + 1) if split_of(n, split) == name) for name in split}
        assert {subset: items for subset, (items, _) in counts.items()} == {k: v for k, v in expected.items() if v}


BRUSH_CONFIG = (
    "<View><Image name='image' value='$image'/>"
    "<BrushLabels name='brush' toName='image'><Label value='cat'/><Label value='dog'/></BrushLabels></View>"
)


def brush_tasks(url_of) -> tuple[list[dict], dict[int, np.ndarray]]:  # type: ignore[no-untyped-def]
    """One brush mask per image (80x60): a block, and for even tasks a second part."""
    found, masks = [], {}
    for n in range(1, COUNT + 1):
        mask = np.zeros((60, 80), dtype=np.uint8)
        mask[5 + n : 30 + n, 10 : 20 + 5 * n] = 255
        if n % 2 == 0:
            mask[45:55, 60:75] = 255
        masks[n] = mask
        result = [brush_result(f"m{n}", mask, "cat" if n % 2 else "dog")]
        found.append({"id": n, "data": {"image": url_of(n)}, "annotations": [{"id": n, "result": result}]})
    return found, masks


def test_datumaro_reads_the_masks_of_a_fetched_brush_project_as_voc(served, settings, tmp_path):
    from datumaro.components.annotation import AnnotationType
    from datumaro.components.dataset import Dataset

    task_list, masks = brush_tasks(served)
    out = fetch(tmp_path, settings, task_list, "voc", split=SPLIT, config=BRUSH_CONFIG)
    dataset = Dataset.import_from(str(out), "voc_segmentation")
    assert [label.name for label in dataset.categories()[AnnotationType.label]] == ["background", "cat", "dog"]
    seen = set()
    for item in dataset:
        n = int(item.id)
        assert item.subset == split_of(n, SPLIT) and (out / "JPEGImages" / f"{n}.png").is_file()
        (mask,) = [annotation for annotation in item.annotations if annotation.type == AnnotationType.mask]
        assert mask.label == (1 if n % 2 else 2) and np.array_equal(mask.image.astype(bool), masks[n] > 0)
        seen.add(n)
    assert seen == set(range(1, COUNT + 1))


# -- Ultralytics -----------------------------------------------------------------------------------


def ultralytics_image_folders(data_yaml: Path) -> dict[str, Path]:
    """The train/val folders as Ultralytics' check_det_dataset resolves them: against ``path`` if
    the yaml has one (relative to the working directory), else against the yaml's own folder."""
    data = yaml.safe_load(data_yaml.read_text())
    root = Path(data.get("path") or data_yaml.parent)
    return {key: (root / data[key]).resolve() for key in ("train", "val") if data.get(key)}


@pytest.mark.parametrize("split", [None, SPLIT], ids=["no-split", "split"])
def test_data_yaml_finds_its_images_from_any_working_directory(served, settings, tmp_path, monkeypatch, split):
    """Regression: `path: .` made Ultralytics look for the images in the working directory."""
    out = fetch(tmp_path, settings, tasks(served), "yolo", split=split, config=BOX_CONFIG)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for folder in ultralytics_image_folders(out / "data.yaml").values():
        images = sorted(folder.glob("*.png"))
        assert images, folder
        for image in images:
            # Ultralytics' img2label_paths: /images/ -> /labels/, the extension -> .txt
            label = Path(str(image).replace(f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}")).with_suffix(".txt")
            assert label.is_file(), label


def test_yolo_pose_data_yaml_has_kpt_shape_and_flip_idx(tmp_path):
    config = (
        "<View><Image name='image' value='$image'/>"
        "<RectangleLabels name='box' toName='image'><Label value='person'/></RectangleLabels>"
        "<KeyPointLabels name='kp' toName='image'><Label value='nose' model_index='0'/>"
        "<Label value='left_eye' model_index='1'/><Label value='right_eye' model_index='2'/></KeyPointLabels></View>"
    )
    convert([{"id": 1, "data": {"image": "/data/upload/1/a.jpg"}}], "yolo-pose", tmp_path / "pose", config=config)
    data = yaml.safe_load((tmp_path / "pose" / "data.yaml").read_text())
    assert data["kpt_shape"] == [3, 3] and data["flip_idx"] == [0, 2, 1]
    assert data["names"] == {0: "person"} and "path" not in data


def test_ultralytics_builds_its_dataset_with_no_corrupt_labels(served, settings, tmp_path):
    """Only where ultralytics is installed (it brings torch)."""
    pytest.importorskip("ultralytics")
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out = fetch(tmp_path, settings, tasks(served), "yolo", split=SPLIT, config=BOX_CONFIG)
    data = check_det_dataset(str(out / "data.yaml"))
    dataset = YOLODataset(img_path=data["train"], data=data, task="detect", augment=False)
    assert len(dataset.labels) > 0 and all(label["cls"].size for label in dataset.labels)


def test_fetched_yolo_seg_of_a_brush_project_fills_back_to_its_masks(served, settings, tmp_path):
    """Each label line filled as Ultralytics' polygon2mask fills it (points times the image size,
    int32, cv2.fillPoly) gives back the brush mask: one line per separate part."""
    cv2 = pytest.importorskip("cv2")
    task_list, masks = brush_tasks(served)
    out = fetch(tmp_path, settings, task_list, "yolo-seg", split=SPLIT, config=BRUSH_CONFIG)
    for n, mask in masks.items():
        subset = split_of(n, SPLIT)
        assert (out / "images" / subset / f"{n}.png").is_file()
        lines = (out / "labels" / subset / f"{n}.txt").read_text().splitlines()
        assert len(lines) == (2 if n % 2 == 0 else 1)
        canvas = np.zeros((60, 80), dtype=np.uint8)
        for line in lines:
            values = line.split()
            assert values[0] == ("0" if n % 2 else "1") and len(values) > 6
            points = np.array(values[1:], dtype=np.float64).reshape(1, -1, 2) * (80, 60)
            cv2.fillPoly(canvas, points.astype(np.int32), color=255)
        assert np.array_equal(canvas, mask)
    assert yaml.safe_load((out / "data.yaml").read_text())["names"] == {0: "cat", 1: "dog"}
    if importlib.util.find_spec("ultralytics"):  # where installed (it brings torch): its own reading
        from ultralytics.data.dataset import YOLODataset
        from ultralytics.data.utils import check_det_dataset

        data = check_det_dataset(str(out / "data.yaml"))
        dataset = YOLODataset(img_path=data["train"], data=data, task="segment", augment=False)
        assert dataset.labels and all(len(label["segments"]) for label in dataset.labels)


# -- spaCy ------------------------------------------------------------------------------------------


NER_CONFIG = "<View><Text name='text' value='$text'/><Labels name='ner' toName='text'><Label value='PER'/><Label value='LOC'/></Labels></View>"


def span(start: int, end: int, label: str) -> dict:
    return {
        "from_name": "ner",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "labels": [label]},
    }


def test_spacy_convert_reads_the_conll_with_every_entity(tmp_path):
    text = "Anna Smith moved from Paris to Berlin on 1/2 of May."
    ner_tasks = [
        {
            "id": 1,
            "data": {"text": text},
            "annotations": [{"id": 1, "result": [span(0, 10, "PER"), span(22, 27, "LOC"), span(31, 37, "LOC")]}],
        },
        {"id": 2, "data": {"text": "Nobody here."}, "annotations": [{"id": 2, "result": []}]},
    ]
    convert(ner_tasks, "conll2003", tmp_path / "conll", config=NER_CONFIG)
    converted = tmp_path / "spacy"
    converted.mkdir()
    command = [sys.executable, "-m", "spacy", "convert", str(tmp_path / "conll" / "result.conll"), str(converted)]
    subprocess.run(
        [*command, "--converter", "ner", "--file-type", "spacy"], check=True, capture_output=True, timeout=120
    )
    import spacy
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(converted / "result.spacy").get_docs(spacy.blank("xx").vocab))
    entities = [(entity.text, entity.label_) for doc in docs for entity in doc.ents]
    assert entities == [("Anna Smith", "PER"), ("Paris", "LOC"), ("Berlin", "LOC")]
    # One document (one -DOCSTART-, as Label Studio writes it), a sentence per task.
    assert [len(list(doc.sents)) for doc in docs] == [2]


def test_conll_tokens_do_not_depend_on_what_else_was_imported(tmp_path):
    """Regression: importing label_studio_sdk.converter first (it patches NLTK's tokenizer class
    for the whole process) changed ml-data's CoNLL output."""
    script = (
        "import sys\n"
        "if sys.argv[1] == 'patched':\n"
        "    import label_studio_sdk.converter.utils\n"
        "from ml_data.converters.conll import tokenize\n"
        "text = 'Half 1/2 of it, e.g. at 10:30... Yes!'\n"
        "print([text[s:e] for s, e in tokenize(text)])\n"
    )
    outputs = {
        mode: subprocess.run([sys.executable, "-c", script, mode], check=True, capture_output=True, text=True).stdout
        for mode in ("alone", "patched")
    }
    assert outputs["alone"] == outputs["patched"]
    assert "'1', '/', '2'" in outputs["alone"]  # as Label Studio's own export splits it


def test_conll_tokens_equal_label_studios_on_its_texts():
    from label_studio_sdk.converter.utils import create_tokens_and_tags

    from ml_data.converters.conll import tokenize

    texts = [
        "Half 1/2 of it, e.g. at 10:30... Yes!",
        'Dr. Smith\'s dog (a terrier) barked: "woof"; then 3/4 left.',
        "Prices: $5 & 10% off @store #1.",
    ]
    for text in texts:
        expected, _tags = create_tokens_and_tags(text, [])
        assert [text[s:e] for s, e in tokenize(text)] == list(expected), text
    assert ConvertOptions().layout == "label-studio"
