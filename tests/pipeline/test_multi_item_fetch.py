"""Fetching tasks with several images: every page and list item resolved, placed and listed in the
manifest with its task and item; the data formats point every URL of a list at its ``media/``
copy; the image formats measure a page without boxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml_data.pipeline import DatasetOptions, fetch_export
from tests.support.multi_item import REPEATER_CONFIG, VALUE_LIST_CONFIG, gallery_results, page_results, png


@pytest.fixture
def served(file_server):  # type: ignore[no-untyped-def]
    """Two documents of three pages (each with a ``page.png`` in two folders) and a gallery."""
    bodies = {}
    for task in (1, 2):
        for number, path in enumerate((f"/d{task}/a/page.png", f"/d{task}/b/page.png", f"/d{task}/c.png")):
            bodies[path] = png(task * 10 + number)
    bodies.update({"/g/x.png": png(7), "/g/y.png": png(8)})
    for path, body in bodies.items():
        file_server.add(path, body=body)
    documents = [
        {
            "id": task,
            "data": {
                "title": f"document {task}",
                "pages": [
                    {"url": file_server.url(path), "number": n}
                    for n, path in enumerate((f"/d{task}/a/page.png", f"/d{task}/b/page.png", f"/d{task}/c.png"))
                ],
            },
            "annotations": [{"id": task * 10, "result": page_results(task)}],
        }
        for task in (1, 2)
    ]
    gallery = {
        "id": 3,
        "data": {"images": [file_server.url("/g/x.png"), file_server.url("/g/y.png")]},
        "annotations": [{"id": 30, "result": gallery_results(3)}],
    }
    return {"documents": documents, "gallery": gallery, "bodies": bodies, "url": file_server.url}


def fetch(tmp_path: Path, settings, tasks: list[dict], fmt: str, config: str) -> tuple[Path, dict]:  # type: ignore[no-untyped-def]
    export = tmp_path / f"export-{fmt}.json"
    export.write_text(json.dumps(tasks))
    out = tmp_path / fmt
    fetch_export(export, format=fmt, out=out, config=config, settings=settings, options=DatasetOptions(format=fmt))
    return out, json.loads((out / "manifest.json").read_text())


@pytest.mark.parametrize("fmt", ["json", "json-min", "csv"])
def test_the_data_formats_point_every_page_at_its_own_media_copy(served, settings, tmp_path, fmt):
    out, manifest = fetch(tmp_path, settings, served["documents"], fmt, REPEATER_CONFIG)
    media = {path: entry for path, entry in manifest["files"].items() if path.startswith("media/")}
    assert len(media) == 6  # three pages of two documents, the two page.png of one told apart
    for path, entry in media.items():
        source = entry["source"].split("/", 3)[3]
        assert (out / path).read_bytes() == served["bodies"]["/" + source]
    assert sorted((entry["task"], entry["item"]) for entry in media.values()) == [
        (task, item) for task in (1, 2) for item in (0, 1, 2)
    ]
    if fmt == "json":
        written = json.loads((out / "result.json").read_text())
        for task in written:
            pages = task["data"]["pages"]
            assert [page["number"] for page in pages] == [0, 1, 2]
            paths = [page["url"] for page in pages]
            assert all(path in media and media[path]["task"] == task["id"] for path in paths)
            assert [media[path]["item"] for path in paths] == [0, 1, 2]
    else:
        text = (out / ("result.json" if fmt == "json-min" else "result.csv")).read_text()
        assert "127.0.0.1" not in text and all(path in text for path in media)


def test_coco_of_a_document_has_every_page_measured_and_listed_with_its_item(served, settings, tmp_path):
    out, manifest = fetch(tmp_path, settings, served["documents"], "coco", REPEATER_CONFIG)
    coco = json.loads((out / "annotations" / "instances_default.json").read_text())
    assert len(coco["images"]) == 6 and all(image["width"] == 80 for image in coco["images"])
    assert len(coco["annotations"]) == 6
    images = {f"images/{image['file_name']}": image for image in coco["images"]}
    assert {path: (entry["task"], entry["item"]) for path, entry in manifest["files"].items() if path in images} == {
        "images/page.png": (1, 0),
        "images/page__task1__p1.png": (1, 1),
        "images/c.png": (1, 2),
        "images/page__task2__p0.png": (2, 0),
        "images/page__task2__p1.png": (2, 1),
        "images/c__task2__p2.png": (2, 2),
    }
    assert manifest["tasks"]["1"]["resources"] == [page["url"] for page in served["documents"][0]["data"]["pages"]]


def test_yolo_of_a_gallery_has_one_label_file_per_image(served, settings, tmp_path):
    out, manifest = fetch(tmp_path, settings, [served["gallery"]], "yolo", VALUE_LIST_CONFIG)
    assert sorted(path for path in manifest["files"] if path.startswith(("images/", "labels/"))) == [
        "images/x.png",
        "images/y.png",
        "labels/x.txt",
        "labels/y.txt",
    ]
    assert [manifest["files"][f"images/{name}.png"]["item"] for name in "xy"] == [0, 1]
    assert len((out / "labels" / "x.txt").read_text().splitlines()) == 2
    assert len((out / "labels" / "y.txt").read_text().splitlines()) == 1


def test_a_single_image_dataset_lists_no_item(file_server, settings, tmp_path):
    file_server.add("/one.png", body=png(1))
    task = {"id": 1, "data": {"image": file_server.url("/one.png")}, "annotations": [{"id": 1, "result": []}]}
    config = "<View><Image name='image' value='$image'/><RectangleLabels name='b' toName='image'><Label value='a'/></RectangleLabels></View>"
    _out, manifest = fetch(tmp_path, settings, [task], "yolo", config)
    assert manifest["files"]["images/one.png"]["task"] == 1 and "item" not in manifest["files"]["images/one.png"]
