"""hf-imagefolder and hf-audiofolder as their users read them: ``fetch`` writes the dataset from
a loopback file server (and from the suite's real Label Studio), and the datasets library's own
``load_dataset("imagefolder" | "audiofolder", data_dir=...)`` reads it, split by split.

The boxes are checked against the percentages of the export (in pixels) and against the COCO
this project writes for the same tasks, read by pycocotools.
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import pytest
from PIL import Image

from ml_data.errors import ConfigurationError, FormatNotSupported
from ml_data.pipeline import DatasetOptions, fetch_export, fetch_project
from ml_data.tasks import split_of
from tests.support.exports import BOX_LABELS, IMAGE_CONFIG, tasks
from tests.support.hf_datasets import datasets, load_folder, rows

SPLIT = {"train": 0.5, "val": 0.25, "test": 0.25}
#: datasets' name of each split folder
READ_AS = {"train": "train", "val": "validation", "test": "test"}
CLASSIFY = (
    "<View><Image name='image' value='$image'/><Choices name='kind' toName='image'>"
    "<Choice value='outdoor'/><Choice value='indoor'/></Choices></View>"
)
AUDIO = "<View><Audio name='audio' value='$audio'/><TextArea name='said' toName='audio'/></View>"


def png(size: tuple[int, int], shade: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (shade % 256, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


def wav(tenths: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x01\x00" * 800 * tenths)
    return buffer.getvalue()


def fetch(tmp_path: Path, settings, task_list: list[dict], fmt: str, config: str, split=None, name: str = "out"):  # type: ignore[no-untyped-def]
    export = tmp_path / f"{name}.json"
    export.write_text(json.dumps(task_list))
    options = DatasetOptions(format=fmt, split=split)
    report = fetch_export(export, out=tmp_path / name, config=config, settings=settings, options=options)
    return tmp_path / name, report


def generated(file_server, count: int, seed: int = 3) -> list[dict]:
    """The suite's generated box export, each image served at the size its results record."""
    found = []
    for task in tasks("image", count, seed=seed):
        first = task["annotations"][0]["result"][0]
        size = (first["original_width"], first["original_height"])
        file_server.add(f"/img/{task['id']}.png", body=png(size, task["id"]))
        found.append({**task, "data": {"image": file_server.url(f"/img/{task['id']}.png")}})
    return found


def warnings(report) -> list[str]:  # type: ignore[no-untyped-def]
    return [warning for conversion in report.conversions.values() for warning in conversion.warnings]


def test_every_split_loads_as_a_datasets_split_with_the_export_s_boxes(file_server, settings, tmp_path):
    task_list = generated(file_server, 16)
    out, report = fetch(tmp_path, settings, task_list, "hf-imagefolder", IMAGE_CONFIG, split=SPLIT)
    loaded = load_folder("imagefolder", out, tmp_path / "hf-cache")
    expected = {name: [t["id"] for t in task_list if split_of(t["id"], SPLIT) == name] for name in SPLIT}
    assert sorted(loaded) == sorted(READ_AS[name] for name in SPLIT if expected[name])
    assert report.splits == {name: len(ids) for name, ids in expected.items()}
    classes = (out / "classes.txt").read_text().splitlines()
    assert classes == sorted(BOX_LABELS)
    by_id = {task["id"]: task for task in task_list}
    for name, ids in expected.items():
        if not ids:
            continue
        split = loaded[READ_AS[name]]
        assert split.num_rows == len(ids)
        assert split.features["objects"]["bbox"] == datasets.List(datasets.List(datasets.Value("float64")))
        seen = []
        for row in rows(split):
            task_id = int(Path(row["image"]["path"]).stem)
            seen.append(task_id)
            regions = by_id[task_id]["annotations"][0]["result"]
            width, height = regions[0]["original_width"], regions[0]["original_height"]
            assert (row["width"], row["height"]) == (width, height)
            assert [classes[c] for c in row["objects"]["categories"]] == [
                r["value"]["rectanglelabels"][0] for r in regions
            ]
            for bbox, area, region in zip(row["objects"]["bbox"], row["objects"]["area"], regions, strict=True):
                value = region["value"]
                pixels = [value["x"] * width / 100, value["y"] * height / 100]
                pixels += [value["width"] * width / 100, value["height"] * height / 100]
                assert bbox == pytest.approx(pixels, abs=1e-9) and area == pytest.approx(pixels[2] * pixels[3])
        assert sorted(seen) == sorted(ids)
        # The image the row names is the task's own, placed in its split's folder.
        first = split[0]["image"]
        assert first.size == (split[0]["width"], split[0]["height"])


def test_without_a_split_every_row_is_in_train_whatever_the_image_names(file_server, settings, tmp_path):
    """Regression: rows at the top of the folder made datasets read ``COCO_val2014_1.png`` as a
    validation split of one image, without its metadata, and drop every other row."""
    names = ["COCO_val2014_000001.png", "photo-test-2.png", "eval.png", "plain.png"]
    task_list = []
    for number, name in enumerate(names, start=1):
        file_server.add(f"/img/{name}", body=png((80, 60), number))
        result = [
            {
                "id": f"b{number}",
                "from_name": "label",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": 80,
                "original_height": 60,
                "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rotation": 0, "rectanglelabels": ["cat"]},
            }
        ]
        task_list.append(
            {"id": number, "data": {"image": file_server.url(f"/img/{name}")}, "annotations": [{"result": result}]}
        )
    out, _report = fetch(tmp_path, settings, task_list, "hf-imagefolder", IMAGE_CONFIG)
    loaded = load_folder("imagefolder", out, tmp_path / "hf-cache")
    assert list(loaded) == ["train"]
    found = {Path(row["image"]["path"]).name: Path(row["image"]["path"]) for row in rows(loaded["train"])}
    assert sorted(found) == sorted(names)
    assert all(found[name].read_bytes() == png((80, 60), number) for number, name in enumerate(names, start=1))
    assert {tuple(row["objects"]["bbox"][0]) for row in rows(loaded["train"])} == {(8.0, 6.0, 40.0, 30.0)}


def test_a_rotated_box_is_the_box_around_its_corners_as_coco_writes_it(file_server, settings, tmp_path):
    from pycocotools.coco import COCO

    task_list = generated(file_server, 6, seed=9)
    for task in task_list[::2]:
        for region in task["annotations"][0]["result"]:
            region["value"]["rotation"] = 30
    hf, report = fetch(tmp_path, settings, task_list, "hf-imagefolder", IMAGE_CONFIG, name="hf")
    coco_out, _coco_report = fetch(tmp_path, settings, task_list, "coco", IMAGE_CONFIG, name="coco")
    coco = COCO(str(coco_out / "annotations" / "instances_default.json"))
    names = {category["id"]: category["name"] for category in coco.dataset["categories"]}
    classes = (hf / "classes.txt").read_text().splitlines()
    expected = {
        (image["file_name"], names[a["category_id"]], tuple(a["bbox"]))
        for image in coco.dataset["images"]
        for a in coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
    }
    loaded = load_folder("imagefolder", hf, tmp_path / "hf-cache")
    written = {
        (Path(row["image"]["path"]).name, classes[category], tuple(bbox))
        for row in rows(loaded["train"])
        for category, bbox in zip(row["objects"]["categories"], row["objects"]["bbox"], strict=True)
    }
    assert written == expected and len(written) == 6 * 5
    turned = sum(len(task["annotations"][0]["result"]) for task in task_list[::2])
    assert f"{turned} rotated boxes written as the axis-aligned box around the turned corners" in " ".join(
        warnings(report)
    )


def test_images_without_objects_load_beside_images_with_them(file_server, settings, tmp_path):
    """Background images (empty lists, which say nothing of their items' type) first in every
    split: each split is typed by its rows with boxes, alike."""
    task_list = generated(file_server, 8, seed=4)
    for task in task_list[:5]:  # the first rows of every split are backgrounds
        task["annotations"][0]["result"] = []
    out, report = fetch(tmp_path, settings, task_list, "hf-imagefolder", IMAGE_CONFIG, split={"train": 0.5, "val": 0.5})
    placed = {
        name: [t["id"] for t in task_list if split_of(t["id"], {"train": 0.5, "val": 0.5}) == name]
        for name in ("train", "val")
    }
    assert all(any(i > 5 for i in ids) for ids in placed.values()), placed  # both splits have objects
    loaded = load_folder("imagefolder", out, tmp_path / "hf-cache")
    empty = [row for split in loaded.values() for row in rows(split) if not row["objects"]["bbox"]]
    assert len(empty) == 5 and all(row["objects"] == {"bbox": [], "categories": [], "area": []} for row in empty)
    # The size of a background image comes from its file (its annotation records none).
    assert all((row["width"], row["height"]) in ((640, 480), (1920, 1080), (800, 800)) for row in empty)
    assert not [w for w in warnings(report) if "has objects" in w]


def test_a_split_without_any_object_is_reported_as_datasets_refuses_it(file_server, settings, tmp_path):
    split = {"train": 0.5, "val": 0.5}
    task_list = generated(file_server, 8, seed=4)
    for task in task_list:
        if split_of(task["id"], split) == "val":
            task["annotations"][0]["result"] = []
    out, report = fetch(tmp_path, settings, task_list, "hf-imagefolder", IMAGE_CONFIG, split=split)
    assert any("no image of split 'val' has objects" in warning for warning in warnings(report))
    with pytest.raises(ValueError, match="different features"):
        load_folder("imagefolder", out, tmp_path / "hf-cache")
    alone = load_folder("imagefolder", out / "val", tmp_path / "hf-cache-val")
    assert alone["train"].num_rows == report.splits["val"]


def test_choices_on_the_image_write_a_label_column_named_by_classes_txt(file_server, settings, tmp_path):
    task_list = []
    for number in range(1, 7):
        file_server.add(f"/img/{number}.png", body=png((40, 30), number))
        choice = "indoor" if number % 3 else "outdoor"
        result = [{"from_name": "kind", "to_name": "image", "type": "choices", "value": {"choices": [choice]}}]
        task_list.append(
            {
                "id": number,
                "data": {"image": file_server.url(f"/img/{number}.png")},
                "annotations": [{"result": result}],
            }
        )
    task_list.append({"id": 7, "data": {"image": file_server.url("/img/1.png")}, "annotations": [{"result": []}]})
    out, report = fetch(tmp_path, settings, task_list, "hf-imagefolder", CLASSIFY, split={"train": 0.5, "test": 0.5})
    assert dict(report.conversions["all"].skipped) == {"no choice": 1}
    names = (out / "classes.txt").read_text().splitlines()
    assert names == ["indoor", "outdoor"]
    loaded = load_folder("imagefolder", out, tmp_path / "hf-cache")
    assert sum(split.num_rows for split in loaded.values()) == 6
    for split in loaded.values():
        assert set(split.column_names) == {"image", "label"}
        typed = split.cast_column("label", datasets.ClassLabel(names=names))
        for row in rows(typed):
            number = int(Path(row["image"]["path"]).stem)
            assert typed.features["label"].int2str(row["label"]) == ("indoor" if number % 3 else "outdoor")


def test_audiofolder_splits_hold_the_transcriptions_and_the_recordings(file_server, settings, tmp_path):
    split = {"train": 0.5, "validation": 0.5}
    task_list = []
    for number in range(1, 9):
        file_server.add(f"/audio/{number}.wav", body=wav(number))
        result = [{"from_name": "said", "to_name": "audio", "type": "textarea", "value": {"text": [f"take {number}"]}}]
        if number == 8:  # transcribed in timed regions only: their texts in time order
            result = [
                {
                    "from_name": "said",
                    "to_name": "audio",
                    "type": "textarea",
                    "value": {"start": 2.0, "end": 3.0, "text": ["second"]},
                },
                {
                    "from_name": "said",
                    "to_name": "audio",
                    "type": "textarea",
                    "value": {"start": 0.5, "end": 1.0, "text": ["first"]},
                },
            ]
        task_list.append(
            {
                "id": number,
                "data": {"audio": file_server.url(f"/audio/{number}.wav")},
                "annotations": [{"result": result}],
            }
        )
    out, report = fetch(tmp_path, settings, task_list, "hf-audiofolder", AUDIO, split=split)
    loaded = load_folder("audiofolder", out, tmp_path / "hf-cache")
    expected = {name: sorted(n for n in range(1, 9) if split_of(n, split) == name) for name in split}
    assert sorted(loaded) == sorted(name for name, ids in expected.items() if ids)
    for name, ids in expected.items():
        if not ids:
            continue
        found = {int(Path(row["audio"]["path"]).stem): row for row in rows(loaded[name])}
        assert sorted(found) == ids and report.splits[name] == len(ids)
        for number, row in found.items():
            assert row["transcription"] == ("first second" if number == 8 else f"take {number}")
            assert Path(row["audio"]["path"]).read_bytes() == wav(number)
            assert Path(row["audio"]["path"]).parent == out / name / "audio"


@pytest.mark.parametrize(
    ("fmt", "config", "split", "message"),
    [
        ("hf-imagefolder", IMAGE_CONFIG, {"train": 0.8, "holdout": 0.2}, "split 'holdout' would be left out"),
        ("hf-audiofolder", AUDIO, {"train": 0.8, "Test": 0.2}, "split 'Test' would be left out"),
        ("hf-imagefolder", IMAGE_CONFIG, {"val": 0.5, "validation": 0.5}, "'val' and 'validation' are both"),
    ],
)
def test_split_names_datasets_cannot_read_are_refused_before_any_download(
    file_server, settings, tmp_path, fmt, config, split, message
):  # type: ignore[no-untyped-def]
    file_server.add("/img/1.png", body=png((40, 30)))
    task_list = [{"id": 1, "data": {"image": file_server.url("/img/1.png"), "audio": file_server.url("/img/1.png")}}]
    with pytest.raises(ConfigurationError, match=message):
        fetch(tmp_path, settings, task_list, fmt, config, split=split)
    assert not (tmp_path / "out").exists() and not file_server.requests


def test_configs_the_formats_cannot_write_are_refused_naming_what_is_missing(settings, tmp_path):
    text = "<View><Text name='t' value='$text'/><Choices name='c' toName='t'><Choice value='a'/></Choices></View>"
    for fmt, missing in (("hf-imagefolder", "<Image>"), ("hf-audiofolder", "<TextArea> control on an <Audio>")):
        with pytest.raises(FormatNotSupported, match=missing):
            fetch(tmp_path, settings, [{"id": 1, "data": {"text": "x"}}], fmt, text)
    polygons = "<View><Image name='i' value='$image'/><PolygonLabels name='p' toName='i'><Label value='a'/></PolygonLabels></View>"
    with pytest.raises(FormatNotSupported, match="RectangleLabels.*or <Choices> on the image"):
        fetch(tmp_path, settings, [{"id": 1, "data": {"image": "x"}}], "hf-imagefolder", polygons)


@pytest.mark.label_studio
def test_a_label_studio_project_fetched_with_a_split_loads_split_by_split(seeded, tmp_path):
    settings = seeded.settings(tmp_path)
    split = {"train": 0.5, "val": 0.5}
    report = fetch_project(
        seeded.project,
        out=tmp_path / "hf",
        settings=settings,
        options=DatasetOptions(format="hf-imagefolder", split=split),
    )
    loaded = load_folder("imagefolder", tmp_path / "hf", tmp_path / "hf-cache")
    annotated = [task_id for task_id in seeded.originals if task_id != seeded.unannotated]
    expected: dict[str, int] = {}
    for task_id in annotated:
        name = READ_AS[split_of(task_id, split)]
        expected[name] = expected.get(name, 0) + 1
    assert {name: split_rows.num_rows for name, split_rows in loaded.items()} == expected
    assert sum(report.splits.values()) == len(seeded.originals)
    originals = {body for task_id, body in seeded.originals.items() if task_id in annotated}
    for split_rows in loaded.values():
        for row in rows(split_rows):
            assert Path(row["image"]["path"]).read_bytes() in originals
            assert (row["width"], row["height"]) == (64, 48) and len(row["objects"]["bbox"]) == 1
    assert any("1 rotated box written" in warning for warning in warnings(report))


def test_an_image_named_like_a_metadata_file_is_renamed(file_server, settings, tmp_path):
    """datasets reads any ``metadata.csv`` in a split's folder as metadata (beside the
    metadata.jsonl: "different extensions", and the folder does not load)."""
    task_list = generated(file_server, 2)
    file_server.add("/odd/metadata.csv", body=png((640, 480), 7))
    task_list[1]["data"]["image"] = file_server.url("/odd/metadata.csv")
    first = task_list[1]["annotations"][0]["result"]
    for region in first:
        region["original_width"], region["original_height"] = 640, 480
    out, _report = fetch(tmp_path, settings, task_list, "hf-imagefolder", IMAGE_CONFIG)
    loaded = load_folder("imagefolder", out, tmp_path / "hf-cache")
    assert loaded["train"].num_rows == 2
    assert (out / "train" / "images" / "metadata__task2.csv").read_bytes() == png((640, 480), 7)


def test_the_bundled_detection_example_from_the_command_line(file_server, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ml_data.cli import main

    root = Path(__file__).resolve().parents[2] / "examples"
    file_server.add("/images/remote-cat.png", body=(root / "media" / "images" / "remote-cat.png").read_bytes())
    export = tmp_path / "detection.json"
    export.write_text((root / "detection" / "export.json").read_text().replace("__FILE_SERVER__", file_server.origin))
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(root / "media"))
    monkeypatch.setenv("ML_DATA_UPLOAD_DIR", str(root / "media" / "upload"))
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    split = {"train": 0.7, "val": 0.3}
    arguments = ["fetch", "--export", str(export), "--config", str(root / "detection" / "label_config.xml")]
    arguments += [
        "--format",
        "hf-imagefolder",
        "--split",
        "train=0.7,val=0.3",
        "--out",
        str(tmp_path / "out"),
        "--json",
    ]
    result = CliRunner().invoke(main, arguments)
    assert result.exit_code == 0, result.output
    print(result.output)
    loaded = load_folder("imagefolder", tmp_path / "out", tmp_path / "hf-cache")
    annotated = {name: [n for n in range(1, 5) if split_of(n, split) == name] for name in split}  # 5 has none
    assert {READ_AS[name]: len(ids) for name, ids in annotated.items() if ids} == {
        name: split_rows.num_rows for name, split_rows in loaded.items()
    }
    every = [row for split_rows in loaded.values() for row in rows(split_rows)]
    boxes = sorted(len(row["objects"]["bbox"]) for row in every)
    assert boxes == [0, 1, 1, 1]  # one image without objects; the polygon is left out
    assert all(Path(row["image"]["path"]).is_file() for row in every)
    assert (tmp_path / "out" / "classes.txt").read_text().splitlines() == ["blob", "square"]


def test_label_studio_s_layout_is_the_same_folders_as_label_studio_has_no_such_export(file_server, settings, tmp_path):
    """Regression: with ``--layout label-studio`` the pipeline made a folder per split and the
    format wrote its own split folders inside it (``train/train/metadata.jsonl``)."""
    task_list = generated(file_server, 6)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(task_list))
    listings = []
    for layout in ("standard", "label-studio"):
        options = DatasetOptions(format="hf-imagefolder", split={"train": 0.5, "test": 0.5}, layout=layout)
        fetch_export(export, out=tmp_path / layout, config=IMAGE_CONFIG, settings=settings, options=options)
        folder = tmp_path / layout
        listings.append(sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()))
    assert listings[0] == listings[1]
    assert {"train/metadata.jsonl", "test/metadata.jsonl", "classes.txt"} <= set(listings[0])
