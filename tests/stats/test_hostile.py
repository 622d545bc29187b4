"""Readers never trust the dataset's files: a malformed line, record or XML is a finding naming
the file (the rest still counts); a layout that cannot be read is an InvalidDataset naming it; a
name that climbs out of the folder, a link out of it, a FIFO or an XML bomb is never followed."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml_data import ConfigurationError, NotFound, dataset_stats
from ml_data.converters import MediaHooks, convert
from ml_data.errors import InvalidDataset
from ml_data.stats.files import FileFault
from ml_data.stats.yolo import parse_line
from tests.support.planted import WIDTH, config, write_dataset


def problems(stats) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    """reason -> where, for the malformed findings."""
    found: dict[str, list[str]] = {}
    for finding in stats.problems():
        reason = finding.message.split(": ", 1)[0]
        found.setdefault(reason, []).extend(finding.examples)
    return found


def first_label_file(out: Path, split: str = "train") -> Path:
    return next(path for path in sorted((out / "labels" / split).iterdir()) if path.read_text().strip())


# -- YOLO -------------------------------------------------------------------------------------------


def test_malformed_yolo_lines_are_named_by_file_and_line_and_the_rest_still_counts(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "yolo", split=True)
    before = dataset_stats(out).split("train")
    label = first_label_file(out)
    good = label.read_text()
    bad = [
        "7 0.5 0.5 0.1 0.1",  # class 7 of 4
        "0 0.5 0.5",  # too short
        "0 a b c d",  # not numbers
        "0 nan 0.5 0.1 0.1",  # not finite
        "0 0.5 0.5 -0.1 0.1",  # a negative width
        "1.5 0.5 0.5 0.1 0.1",  # a class id that is not whole
    ]
    label.write_text(good + "\n".join(bad) + "\n")
    stats = dataset_stats(out)
    train = stats.split("train")
    assert (train.objects, train.images) == (before.objects, before.images)
    assert sum(finding.count for finding in stats.problems()) == len(bad)
    relative = label.relative_to(out).as_posix()
    first = len(good.splitlines()) + 1
    places = sorted(int(where.split(":")[1].split()[0]) for wheres in problems(stats).values() for where in wheres)
    assert places == list(range(first, first + len(bad)))
    assert all(where.startswith(relative + ":") for wheres in problems(stats).values() for where in wheres)
    assert "a class id that is not in the class list" in problems(stats)


def test_an_edited_yolo_box_that_leaves_the_image_is_outside(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "yolo", split=True)
    label = first_label_file(out)
    label.write_text(label.read_text() + "1 0.990000 0.500000 0.100000 0.100000\n")
    stats = dataset_stats(out)
    assert stats.split("train").outside_boxes == 1 and stats.split("val").outside_boxes == 0
    (finding,) = [finding for finding in stats.findings if finding.kind == "outside-boxes"]
    assert finding.split == "train" and finding.examples[0].startswith(f"images/train/{label.stem}.")


def test_a_yolo_label_file_without_an_image_and_an_image_that_is_not_one(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "yolo", split=True)
    (out / "labels" / "val" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (out / "images" / "val" / "notes.png").write_text("not an image")
    stats = dataset_stats(out)
    found = problems(stats)
    assert found["a label file without an image"] == ["labels/val/orphan.txt"]
    assert found["not an image whose size can be read"][0].startswith("images/val/notes.png")


@given(st.text(max_size=80))
def test_any_label_line_parses_or_is_a_file_fault(text):
    for variant in (None, "yolo", "yolo-obb", "yolo-seg", "yolo-pose"):
        try:
            class_id, shape = parse_line(text, variant, 3, None)
        except FileFault:
            continue
        assert 0 <= class_id < 3
        shape.measure("x", (10, 10))


@given(
    st.integers(0, 2),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_a_box_line_as_ml_data_writes_it_reads_back(class_id, x, y, w, h):
    cx, cy = x / 2 + w / 4, y / 2 + h / 4  # a box inside the image
    line = f"{class_id} {cx:.6f} {cy:.6f} {w / 2:.6f} {h / 2:.6f}"
    parsed, shape = parse_line(line, "yolo", 3, None)
    box = shape.measure("x", (640, 480))
    assert parsed == class_id and not box.outside
    assert box.width == pytest.approx(round(w / 2, 6) * 640) and box.height == pytest.approx(round(h / 2, 6) * 480)


def within(seconds: float, work):  # type: ignore[no-untyped-def]
    """``work()``'s result, asserting it came within ``seconds`` (a bounded wait, not a timing goal)."""
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(work()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert done, "stats waited on the FIFO"
    return done[0]


def test_a_fifo_among_the_images_is_not_waited_on(tmp_path, file_server, settings):
    """Opening a FIFO for reading would wait for a writer forever: it is never opened as an image,
    whether it lies in a YOLO images folder or a COCO file_name names it."""
    plan, yolo = write_dataset(tmp_path, file_server, settings, "yolo", split=True)
    os.mkfifo(yolo / "images" / "train" / "pipe.png")
    stats = within(60, lambda: dataset_stats(yolo))
    assert stats.split("train").images == plan.images(True)["train"] and not stats.problems()  # not a file

    _, coco = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    path, document = coco_document(coco, "val")
    fifo = coco / "images" / "val" / document["images"][0]["file_name"]
    fifo.unlink()
    os.mkfifo(fifo)
    stats = within(60, lambda: dataset_stats(coco))
    missing = problems(stats)["no image file there (missing, or not a regular file)"]
    assert missing == [fifo.relative_to(coco).as_posix()]


# -- COCO -------------------------------------------------------------------------------------------


def coco_document(out: Path, split: str = "train") -> tuple[Path, dict]:
    path = out / "annotations" / f"instances_{split}.json"
    return path, json.loads(path.read_text())


@pytest.mark.parametrize("key", ["images", "annotations", "categories"])
def test_a_coco_file_without_its_lists_is_an_invalid_dataset_naming_it(tmp_path, file_server, settings, key):
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    path, document = coco_document(out)
    del document[key]
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidDataset, match=f"annotations/instances_train.json has no '{key}' list"):
        dataset_stats(out)


@pytest.mark.parametrize("text", ["{", "[]", '"x"', "\x00"])
def test_a_coco_file_that_is_not_a_coco_object_is_an_invalid_dataset(tmp_path, file_server, settings, text):
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    (out / "annotations" / "instances_val.json").write_text(text)
    with pytest.raises(InvalidDataset, match="instances_val.json"):
        dataset_stats(out)


def test_wrong_coco_records_are_findings_and_the_rest_counts(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    before = dataset_stats(out).split("train")
    path, document = coco_document(out)
    image = document["images"][0]
    document["annotations"] += [
        {"id": 900, "image_id": 12345, "category_id": 1, "bbox": [1, 1, 5, 5]},  # no such image
        {"id": 901, "image_id": image["id"], "category_id": 99, "bbox": [1, 1, 5, 5]},  # no such category
        {"id": 902, "image_id": image["id"], "category_id": 2, "bbox": [1, 1]},  # no usable bbox: counted, unmeasured
        {"id": 903, "image_id": image["id"], "category_id": 2, "bbox": [70, 1, 20, 5]},  # reaches past x=80
        "not a record",
    ]
    document["images"].append({"file_name": "x.png"})  # no id
    path.write_text(json.dumps(document))
    stats = dataset_stats(out)
    train = stats.split("train")
    assert train.objects == before.objects + 2 and train.unmeasured_boxes == 1 and train.outside_boxes == 1
    assert train.images == before.images
    assert sum(finding.count for finding in stats.problems()) == 5
    assert all(where.startswith("annotations/instances_train.json") for w in problems(stats).values() for where in w)


@pytest.mark.parametrize("name", ["../../../etc/passwd", "/etc/passwd", "../train/x.png", "", None, 7])
def test_a_coco_file_name_out_of_its_folder_is_never_read(tmp_path, file_server, settings, name):
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    path, document = coco_document(out, "val")
    document["images"][0]["file_name"] = name
    path.write_text(json.dumps(document))
    stats = dataset_stats(out)
    (finding,) = stats.problems()
    assert finding.split == "val" and finding.count == 1
    assert finding.message.startswith(("a file name that leaves its folder", "no usable file name"))
    assert stats.split("val").images == len(document["images"])  # still an image of the split


def test_an_image_linked_to_a_file_outside_the_dataset_is_not_read(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the dataset")
    _, document = coco_document(out, "val")
    image = out / "images" / "val" / document["images"][0]["file_name"]
    image.unlink()
    image.symlink_to(secret)
    stats = dataset_stats(out)
    (finding,) = stats.problems()
    assert finding.message.startswith("the file cannot be read") and "images/val/" in finding.message


def test_file_names_are_printed_escaped(tmp_path, file_server, settings):
    from click.testing import CliRunner

    from ml_data.cli import main

    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    path, document = coco_document(out, "val")
    document["images"][0]["file_name"] = "\x1b]0;owned\x07\x1b[31m.png"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(main, ["stats", str(out)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\\x1b]0;owned\\x07" in result.output


# -- VOC --------------------------------------------------------------------------------------------

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<annotation><filename>&lol2;</filename></annotation>"""


def test_voc_files_that_are_wrong_are_findings_naming_them(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "voc", split=True)
    listed = (out / "ImageSets" / "Main" / "val.txt").read_text().split()
    before = dataset_stats(out).split("val")
    (out / "Annotations" / f"{listed[0]}.xml").write_text(BOMB)
    (out / "Annotations" / f"{listed[1]}.xml").write_text("<annotation><object>")
    xml = out / "Annotations" / f"{listed[2]}.xml"
    text = xml.read_text()
    renamed = "new_" + text.split("<name>", 1)[1].split("<", 1)[0]
    # Every box of this image now ends past x=900 (the image is 80 wide), one of its objects in a new class.
    xml.write_text(text.replace("<xmax>", "<xmax>9").replace("<name>", "<name>new_", 1))
    with open(out / "ImageSets" / "Main" / "val.txt", "a") as handle:
        handle.write("../../escape\nnot-there\n")
    stats = dataset_stats(out)
    found = problems(stats)
    assert found["XML with entities or a DTD (refused)"] == [f"Annotations/{listed[0]}.xml (EntitiesForbidden)"]
    assert found["an annotation file that is not well-formed XML"][0].startswith(f"Annotations/{listed[1]}.xml")
    assert found["a file name that leaves its folder"][0].startswith("ImageSets/Main/val.txt:")
    assert found["an annotation file that is missing"] == ["Annotations/not-there.xml"]
    val = stats.split("val")
    assert val.images == before.images - 2 and val.outside_boxes == text.count("<object>")
    assert renamed in stats.classes and val.instances[renamed] == 1  # a class the labelmap lacks still counts


# -- layouts ----------------------------------------------------------------------------------------


def test_what_is_not_a_dataset_is_said(tmp_path):
    with pytest.raises(NotFound):
        dataset_stats(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidDataset, match="not a COCO"):
        dataset_stats(tmp_path / "empty")
    with pytest.raises(ConfigurationError):
        dataset_stats(tmp_path / "empty", min_box_pixels=-1)


def test_label_studio_layout_is_refused_with_the_way_out(tmp_path):
    tasks = [{"id": 1, "data": {"image": "/data/upload/1/a.png"}, "annotations": [{"id": 1, "result": []}]}]
    convert(
        tasks,
        "coco",
        tmp_path / "ls",
        config=config("coco"),
        media=MediaHooks(image_size=lambda *_: (WIDTH, 60)),
    )
    with pytest.raises(InvalidDataset, match="standard"):
        dataset_stats(tmp_path / "ls")


def test_a_manifest_of_another_format_is_refused(tmp_path, file_server, settings):
    _, out = write_dataset(tmp_path, file_server, settings, "coco", split=True)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["settings"]["format"] = "csv"
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidDataset, match="is csv"):
        dataset_stats(out)


def test_an_unreadable_manifest_is_a_finding_and_the_layout_is_read(tmp_path, file_server, settings):
    plan, out = write_dataset(tmp_path, file_server, settings, "voc", split=True)
    (out / "manifest.json").write_text("{not json")
    stats = dataset_stats(out)
    assert not stats.manifest and stats.overall.images == len(plan.tasks)
    assert [finding.message.split(":")[0] for finding in stats.problems()] == ["the manifest is not JSON"]


# -- hf-imagefolder ---------------------------------------------------------------------------------


def test_malformed_hf_imagefolder_rows_are_named_by_line_and_the_rest_still_counts(tmp_path):
    from PIL import Image

    out = tmp_path / "hf"
    (out / "train" / "images").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        Image.new("RGB", (40, 30), "red" if name == "a.png" else "blue").save(out / "train" / "images" / name)
    (out / "classes.txt").write_text("cat\ndog\nunused_2\n")  # a gap among explicit ids is no class
    good = {"file_name": "images/a.png", "width": 40, "height": 30}
    lines = [
        json.dumps({**good, "objects": {"bbox": [[1, 1, 10, 10], [35, 1, 10, 10]], "categories": [0, 1]}}),
        "{not json",
        "[1, 2]",
        json.dumps({**good, "objects": {"bbox": [[1, 1, 2, 2]], "categories": [2]}}),  # the gap's id
        json.dumps({**good, "objects": {"bbox": [[1, 1, 2]], "categories": [0]}}),  # a bbox of three numbers
        json.dumps({**good, "file_name": "../../outside.png", "objects": {"bbox": [], "categories": []}}),
        json.dumps({"file_name": "images/b.png", "label": 1}),  # a classification row
    ]
    (out / "train" / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    stats = dataset_stats(out)
    assert stats.format == "hf-imagefolder" and stats.classes == ("cat", "dog")
    (train,) = stats.splits
    # rows 1, 4, 5, 6 and 7 are images; row 1's second box reaches past the right edge
    assert train.images == 5 and train.objects == 4 and train.outside_boxes == 1
    assert dict(train.instances) == {"cat": 2, "dog": 2} and train.unmeasured_boxes == 2
    found = problems(stats)
    assert [where.split(" ")[0] for where in found["a metadata line that is not JSON"]] == ["train/metadata.jsonl:2"]
    assert [where.split(" ")[0] for where in found["a metadata line that is not an object"]] == [
        "train/metadata.jsonl:3"
    ]
    rows = sorted(found["a row whose objects or labels cannot be read"])
    assert [where.split(" ")[0] for where in rows] == ["train/metadata.jsonl:4", "train/metadata.jsonl:5"]
    assert "class id 2 is not in classes.txt" in rows[0]
    assert any(reason == "a file name that leaves its folder" for reason in found)
