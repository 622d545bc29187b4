"""import_predictions against untrusted output folders: every bad number, name, class id and file
is reported for its item by the error policy, never posted, never a crash; and a loopback fake of
Label Studio's project, task and prediction endpoints sees exactly what is posted."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import ConfigurationError, Settings, import_predictions
from ml_data.backend.predictions.classes import read_class_names
from ml_data.backend.predictions.coco import read_coco
from ml_data.backend.predictions.matching import TaskIndex
from ml_data.backend.predictions.model import ImageItem, ItemProblem, Quad, Rect, Unreadable
from ml_data.backend.predictions.results import Targets, prediction_results, rotated_box
from ml_data.backend.predictions.voc import parse_voc
from ml_data.backend.predictions.yolo import parse_line
from ml_data.errors import ConversionError, FormatNotSupported, InvalidExport, OutputError, UnknownFormat
from ml_data.tasks.label_config import parse_label_config
from tests.support.fake_label_studio import LEGACY_TOKEN
from tests.support.servers.http_files import FileServer, Recorded

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image"><Label value="cat"/><Label value="Dog"/></RectangleLabels>
</View>"""
NAMES = ("cat", "Dog")


# -- a loopback Label Studio ---------------------------------------------------------------------


@dataclass
class FakeProject:
    """Project 3's config and tasks; the prediction endpoints record what they are sent and refuse
    predictions for tasks that do not exist (as Label Studio does)."""

    server: FileServer
    tasks: dict[int, str]
    posted: list[dict] = field(default_factory=list)
    batches: int = 0

    def __post_init__(self) -> None:
        self.server.add("/api/projects/3/", handler=self._project)
        self.server.add("/api/tasks", handler=self._tasks)
        self.server.add("/api/projects/3/import/predictions", handler=self._import)
        self.server.add("/api/predictions/", handler=self._one)

    def settings(self, tmp_path: Path) -> Settings:
        return Settings(label_studio_url=self.server.origin, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")

    def _json(self, status: int, body: object) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def _project(self, request: Recorded):  # type: ignore[no-untyped-def]
        return self._json(200, {"id": 3, "title": "p", "label_config": CONFIG})

    def _tasks(self, request: Recorded):  # type: ignore[no-untyped-def]
        tasks = [{"id": task, "data": {"image": url}} for task, url in self.tasks.items()]
        return self._json(200, {"tasks": tasks, "total": len(tasks)})

    def _import(self, request: Recorded):  # type: ignore[no-untyped-def]
        items = json.loads(request.body)
        self.batches += 1
        if any(item["task"] not in self.tasks for item in items):
            return self._json(400, {"detail": "task not found in project"})
        self.posted += items
        return self._json(201, {"created": len(items)})

    def _one(self, request: Recorded):  # type: ignore[no-untyped-def]
        if request.method == "GET":  # the project's predictions, as Label Studio lists them
            return self._json(200, [{"id": number, **item} for number, item in enumerate(self.posted, 1)])
        item = json.loads(request.body)
        if item["task"] not in self.tasks:
            return self._json(400, {"task": ["Invalid pk"]})
        self.posted.append(item)
        return self._json(201, {"id": len(self.posted)})


@pytest.fixture
def fake() -> Iterator[FakeProject]:
    with FileServer() as server:
        yield FakeProject(server, {11: "/data/upload/3/abc-cat.jpg", 12: "s3://bucket/photos/dog.png"})


def _labels(folder: Path, files: dict[str, str], classes: str | None = "cat\nDog\n") -> Path:
    for name, text in files.items():
        path = folder / "labels" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if classes is not None:
        (folder / "classes.txt").write_text(classes)
    return folder


# -- YOLO lines ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0 nan 0.5 0.1 0.1", "not a finite number"),
        ("0 inf 0.5 0.1 0.1", "not a finite number"),
        ("0 1e309 0.5 0.1 0.1", "not a finite number"),
        ("0 0.5 0.5 0.1", "5 or 6 values"),
        ("0 0.5 0.5 0.1 0.1 0.9 7", "5 or 6 values"),
        ("0 1.5 0.5 0.1 0.1", "outside the image"),
        ("0 0.5 0.5 -0.1 0.1", "negative width"),
        ("0 0.5 0.5 0.1 0.1 1.5", "score 1.5"),
        ("2 0.5 0.5 0.1 0.1", "class id 2 is out of range"),
        ("-1 0.5 0.5 0.1 0.1", "not a whole number"),
        ("1.0 0.5 0.5 0.1 0.1", "not a whole number"),
        ("\u0663 0.5 0.5 0.1 0.1", "not a whole number"),  # an Arabic-Indic three
        ("0 0x1 0.5 0.1 0.1", "not a number"),
    ],
)
def test_a_bad_yolo_line_is_that_items_problem(line, problem):
    with pytest.raises(ItemProblem, match=problem):
        parse_line(line.split(), "yolo", NAMES)


_TOKEN = st.one_of(
    st.sampled_from(["0", "1", "2", "nan", "-inf", "1e309", "0.5", "1", "-0", "1e-320", ""]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(max_size=6),
)


@hypothesis_settings(max_examples=400, deadline=None)
@given(tokens=st.lists(_TOKEN, min_size=1, max_size=11), variant=st.sampled_from(["yolo", "yolo-obb", "yolo-seg"]))
def test_any_yolo_line_is_a_detection_inside_the_image_or_an_item_problem(tokens, variant):
    tokens = [token for token in tokens if token.split() == [token]] or ["0"]
    try:
        detection = parse_line(tokens, variant, NAMES)
    except ItemProblem:
        return
    assert detection.label in NAMES
    shape = detection.shape
    values = (
        [shape.x, shape.y, shape.width, shape.height, shape.x + shape.width, shape.y + shape.height]
        if isinstance(shape, Rect)
        else [v for point in getattr(shape, "corners", getattr(shape, "points", ())) for v in point]
    )
    assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values)
    assert detection.score is None or 0.0 <= detection.score <= 1.0


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    x=st.floats(0, 500),
    y=st.floats(0, 500),
    w=st.floats(1, 300),
    h=st.floats(1, 300),
    rotation=st.floats(0, 359.99),
    start=st.integers(0, 3),
    reverse=st.booleans(),
)
def test_four_corners_in_any_order_give_back_the_same_rotated_box(x, y, w, h, rotation, start, reverse):
    def corners(box: tuple[float, float, float, float, float]) -> list[tuple[float, float]]:
        bx, by, bw, bh, degrees = box
        cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
        return [(bx + dx * cos - dy * sin, by + dx * sin + dy * cos) for dx, dy in ((0, 0), (bw, 0), (bw, bh), (0, bh))]

    original = corners((x, y, w, h, rotation))
    given_ = original[start:] + original[:start]
    if reverse:
        given_ = given_[::-1]
    box = rotated_box(given_)
    assert 0.0 <= box[4] < 90.0 + 1e-6
    back = corners(box)
    # The same four points, whichever corner the box was named from.
    for point in original:
        assert min(math.dist(point, other) for other in back) < 1e-6 * max(1.0, w, h, x, y)


# -- class names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'train: "images"\nnames:\n  0: "cat"\n  1: "Dog"\n',
        "names:\n  - cat  # a comment\n  - 'Dog'\nnc: 2\n",
        'path: x\nnames: [cat, "Dog"]\n',
        "names: [\n  cat,\n  'Dog'\n]\n",
    ],
)
def test_data_yaml_names_in_the_forms_ultralytics_and_ml_data_write(tmp_path, text):
    (tmp_path / "data.yaml").write_text(text)
    assert read_class_names([tmp_path]) == (NAMES, tmp_path / "data.yaml")


@pytest.mark.parametrize(
    "text", ["names:\n  0: cat\n  2: dog\n", "names: [cat, 'dog\n", "nc: 3\n", 'names:\n  0: "a\\x"\n']
)
def test_a_malformed_data_yaml_is_refused_by_name(tmp_path, text):
    (tmp_path / "data.yaml").write_text(text)
    with pytest.raises(InvalidExport, match="data.yaml"):
        read_class_names([tmp_path])


# -- COCO and VOC ------------------------------------------------------------------------------------


def _coco(tmp_path: Path, annotations: list, images: list | None = None) -> list:
    data = {
        "images": images
        if images is not None
        else [{"id": 1, "file_name": "images/cat.jpg", "width": 200, "height": 100}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "Dog"}],
        "annotations": annotations,
    }
    (tmp_path / "result.json").write_text(json.dumps(data))
    return list(read_coco([tmp_path / "result.json"], tmp_path, []))


def test_coco_boxes_rotated_boxes_and_bad_annotations(tmp_path):
    (item,) = _coco(tmp_path, [{"image_id": 1, "category_id": 2, "bbox": [20, 10, 100, 50], "score": 0.75}])
    assert isinstance(item, ImageItem) and item.name == "cat.jpg" and item.size == (200, 100)
    assert item.detections[0].label == "Dog" and item.detections[0].score == 0.75
    assert item.detections[0].shape == Rect(0.1, 0.1, 0.5, 0.5)
    turned = [[50, 20, 50 + 30 * 0.8, 20 + 30 * 0.6, 50 + 30 * 0.8 - 10 * 0.6, 20 + 30 * 0.6 + 10 * 0.8, 44, 28]]
    (item,) = _coco(tmp_path, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "segmentation": turned}])
    assert isinstance(item.detections[0].shape, Quad)
    for bad, problem in [
        ({"image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}, "category_id '9'"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, "1", 1]}, "not a number"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 10**400, 1]}, "out of range"),
        ({"image_id": 1, "category_id": 1, "bbox": [150, 0, 100, 10]}, "outside the image"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": True}, "bool, not a number"),
        ({"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": float("nan")}, "not a finite number"),
    ]:
        (item,) = _coco(tmp_path, [bad])
        assert isinstance(item, Unreadable) and problem in item.reason, (bad, item)
    (item,) = _coco(tmp_path, [], images=[{"id": 1, "file_name": "x.jpg", "width": 0, "height": 10}])
    assert isinstance(item, Unreadable) and "width" in item.reason


def test_voc_refuses_entities_and_bad_boxes_per_file():
    bomb = b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><annotation>&x;</annotation>'
    with pytest.raises(ItemProblem, match="forbidden XML"):
        parse_voc(bomb)
    head = b"<annotation><filename>a/b\\c.jpg</filename><size><width>100</width><height>50</height></size>"
    name, size, (detection,) = parse_voc(
        head + b"<object><name>cat</name><bndbox><xmin>11</xmin><ymin>6</ymin><xmax>60</xmax>"
        b"<ymax>30</ymax></bndbox></object></annotation>"
    )
    assert (name, size, detection.shape) == ("c.jpg", (100, 50), Rect(0.1, 0.1, 0.5, 0.5))
    with pytest.raises(ItemProblem, match="max edge before"):
        parse_voc(
            head + b"<object><name>cat</name><bndbox><xmin>50</xmin><ymin>1</ymin><xmax>10</xmax>"
            b"<ymax>5</ymax></bndbox></object></annotation>"
        )
    with pytest.raises(ItemProblem, match="no <size>"):
        parse_voc(b"<annotation/>")


# -- matching and results ----------------------------------------------------------------------------


def _item(name: str, folders: tuple[str, ...] = ()) -> ImageItem:
    return ImageItem(source=f"labels/{name}", name=name, folders=folders, detections=())


def test_names_match_one_task_or_are_reported_as_ambiguous():
    index = TaskIndex.from_tasks(
        [(1, "/data/local-files/?d=a/frame.jpg", ()), (2, "https://x/b/frame.jpg", ()), (3, "s3://b/cat.png", ())]
    )
    assert index.match(_item("cat.txt")).task == 3
    assert index.match(_item("frame__task2.txt")).task == 2
    with pytest.raises(ItemProblem, match="ambiguous: tasks 1, 2"):
        index.match(_item("frame.txt"))
    with pytest.raises(ItemProblem, match="no task has an image named 'frame__task9'"):
        index.match(_item("frame__task9.txt"))
    manifest = {
        "files": {
            "images/train/frame.png": {"task": 1, "source": "x"},
            "images/val/frame.png": {"task": 2, "source": "y"},
            "data.yaml": {"size": 1},
        }
    }
    index = TaskIndex.from_manifest(manifest)
    assert index.match(_item("frame.txt", ("val",))).task == 2
    with pytest.raises(ItemProblem, match="ambiguous"):
        index.match(_item("frame.txt"))


def test_labels_take_the_configs_spelling_and_unknown_labels_are_refused():
    targets = Targets.from_config(parse_label_config(CONFIG))
    from ml_data.backend.predictions.model import Detection

    item = ImageItem("x", "x.jpg", (), (Detection("dog", Rect(0, 0, 0.5, 0.5), 0.5),))
    (result,) = prediction_results(item, None, targets, 1)
    assert result["value"]["rectanglelabels"] == ["Dog"] and result["score"] == 0.5
    assert "original_width" not in result
    with pytest.raises(ItemProblem, match="'bird' is not a label"):
        prediction_results(ImageItem("x", "x.jpg", (), (Detection("bird", Rect(0, 0, 1, 1)),)), None, targets, 1)
    with pytest.raises(FormatNotSupported):
        Targets.from_config(
            parse_label_config('<View><Image name="i" value="$i"/><Choices name="c" toName="i"/></View>')
        )
    rotated = ImageItem("x", "x.jpg", (), (Detection("cat", Quad(((0.1, 0.1), (0.2, 0.1), (0.2, 0.2), (0.1, 0.2)))),))
    with pytest.raises(ItemProblem, match="image's size"):
        prediction_results(rotated, None, targets, 1)


# -- whole imports against the loopback Label Studio ---------------------------------------------------


def test_matched_by_name_and_posted_in_one_batch(fake, tmp_path):
    folder = _labels(tmp_path / "out", {"abc-cat.txt": "0 0.5 0.5 0.5 0.5 0.8\n", "dog.txt": "1 0.25 0.25 0.5 0.5\n"})
    report = import_predictions(folder, project=3, format="yolo", model_version="m1", settings=fake.settings(tmp_path))
    assert (report.matched_by, report.items, report.predictions, report.posted) == ("file name", 2, 2, 2)
    assert fake.batches == 1
    by_task = {item["task"]: item for item in fake.posted}
    assert by_task[11]["score"] == 0.8 and by_task[11]["model_version"] == "m1"
    value = by_task[12]["result"][0]["value"]
    assert value == {"x": 0.0, "y": 0.0, "width": 50.0, "height": 50.0, "rotation": 0.0, "rectanglelabels": ["Dog"]}
    assert "score" not in by_task[12]


def test_with_the_fail_policy_a_bad_item_stops_the_import_before_anything_is_posted(fake, tmp_path):
    folder = _labels(tmp_path / "out", {"abc-cat.txt": "0 0.5 0.5 0.5 0.5\n", "dog.txt": "7 0.5 0.5 0.1 0.1\n"})
    with pytest.raises(ConversionError, match=r"labels/dog.txt.*line 1: class id 7 is out of range") as caught:
        import_predictions(folder, project=3, format="yolo", settings=fake.settings(tmp_path))
    assert isinstance(caught.value, ValueError)
    assert fake.posted == [] and fake.batches == 0


def test_with_the_skip_policy_bad_items_are_named_and_the_rest_posted(fake, tmp_path):
    files = {
        "abc-cat.txt": "0 0.5 0.5 0.5 0.5\n",
        "dog.txt": "0 0.5 0.5 0.1 0.1\n0 nan 0.5 0.1 0.1\n",  # one bad line: the whole image is left out
        "unknown\x1b[31m.txt": "0 0.5 0.5 0.1 0.1\n",  # a terminal escape in a name is shown escaped
        "train/abc-cat.txt": "0 0.5 0.5 0.5 0.5\n",  # a second file for task 11
    }
    folder = _labels(tmp_path / "out", files)
    (folder / "labels" / ".hidden.txt").write_text("garbage")
    os.symlink("/etc/hostname", folder / "labels" / "link.txt")
    report = import_predictions(folder, project=3, format="yolo", on_error="skip", settings=fake.settings(tmp_path))
    assert report.posted == 1 and [item["task"] for item in fake.posted] == [11]
    reasons = {item: reason for item, reason in report.examples}
    assert "not a finite number" in reasons["'labels/dog.txt'"]
    assert "not a regular file" in reasons["'labels/link.txt'"]
    assert "task 11 already has a prediction" in reasons["'labels/train/abc-cat.txt'"]
    assert "\x1b" not in json.dumps(report.as_dict(), ensure_ascii=False)
    assert report.items == 5  # the hidden file is not output


def test_a_batch_label_studio_refuses_is_posted_one_by_one_to_name_the_refused(fake, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    manifest = {
        "manifest_version": 1,
        "source": {"project": 3},
        "files": {
            "images/abc-cat.jpg": {"task": 11, "source": "a"},
            "images/gone.jpg": {"task": 99, "source": "b"},  # deleted since the dataset was fetched
        },
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    _labels(folder, {"abc-cat.txt": "0 0.5 0.5 0.5 0.5\n", "gone.txt": "1 0.5 0.5 0.5 0.5\n"})
    report = import_predictions(folder, project=3, format="yolo", on_error="skip", settings=fake.settings(tmp_path))
    assert report.matched_by == "manifest" and report.posted == 1 and [p["task"] for p in fake.posted] == [11]
    assert report.examples == [("'labels/gone.txt'", "Label Studio refused the prediction for task 99")]
    other = {**manifest, "source": {"project": 4}}
    (folder / "manifest.json").write_text(json.dumps(other))
    with pytest.raises(ConfigurationError, match="fetched from project 4"):
        import_predictions(folder, project=3, format="yolo", settings=fake.settings(tmp_path))


def test_a_dry_run_writes_the_file_whole_and_posts_nothing(fake, tmp_path):
    folder = _labels(tmp_path / "out", {"abc-cat.txt": "0 0.5 0.5 0.5 0.5\n"}, classes=None)
    dry = tmp_path / "preview" / "predictions.json"
    report = import_predictions(folder, project=3, format="yolo", dry_run=dry, settings=fake.settings(tmp_path))
    assert fake.posted == [] and report.dry_run == str(dry) and report.classes_from == "labeling config"
    # Without classes.txt, ids are ml-data's: the config's labels in alphabetical order ("Dog" < "cat").
    assert json.loads(dry.read_text())[0]["result"][0]["value"]["rectanglelabels"] == ["Dog"]
    assert [path.name for path in dry.parent.iterdir()] == ["predictions.json"]
    with pytest.raises(OutputError):
        import_predictions(
            folder, project=3, format="yolo", dry_run=tmp_path / "preview", settings=fake.settings(tmp_path)
        )
    with pytest.raises(UnknownFormat, match="yolo, yolo-obb"):
        import_predictions(folder, project=3, format="kitti", settings=fake.settings(tmp_path))


def test_polygons_go_to_polygon_controls_and_boxes_to_box_controls():
    from ml_data.backend.predictions.model import Detection, Polygon

    config = parse_label_config(
        '<View><Image name="img" value="$image"/>'
        '<PolygonLabels name="outline" toName="img"><Label value="cat"/><Label value="tree"/></PolygonLabels>'
        '<RectangleLabels name="box" toName="img"><Label value="cat"/></RectangleLabels></View>'
    )
    targets = Targets.from_config(config)
    triangle = Polygon(((0.1, 0.1), (0.5, 0.1), (0.3, 0.4)))
    item = ImageItem(
        "x",
        "x.jpg",
        (),
        (
            Detection("cat", triangle),
            Detection("cat", Rect(0.1, 0.2, 0.3, 0.4)),
            Detection("tree", Rect(0, 0, 0.5, 0.5)),
        ),
    )
    outline, box, tree = prediction_results(item, (200, 100), targets, 1)
    assert (outline["from_name"], outline["to_name"], outline["type"]) == ("outline", "img", "polygonlabels")
    assert outline["value"]["points"] == [[10.0, 10.0], [50.0, 10.0], [30.0, 40.0]]
    assert (box["from_name"], box["type"]) == ("box", "rectanglelabels")
    assert box["value"]["x"] == pytest.approx(10) and box["value"]["height"] == pytest.approx(40)
    # Only a polygon control has "tree": the box goes there as its four corners.
    assert tree["type"] == "polygonlabels" and tree["value"]["points"] == [[0, 0], [50, 0], [50, 50], [0, 50]]
    assert (box["original_width"], box["original_height"]) == (200, 100)


def test_existing_predictions_are_read_page_by_page_where_the_list_is_paged(tmp_path):
    """A server that pages the prediction list (``results`` and ``next``) is read to its end; only
    the version's predictions of the tasks asked about are kept."""
    from urllib.parse import parse_qs, urlsplit

    from ml_data.backend.predictions.existing import existing_predictions, same_result
    from ml_data.labelstudio import LabelStudioClient

    pages = {
        1: [{"id": 1, "task": 11, "model_version": "v1", "result": [{"value": {"x": 1}}]}, {"id": 2, "task": 99}],
        2: [{"id": 3, "task": 12, "model_version": "v1", "result": []}, {"id": 4, "task": 12, "model_version": "v2"}],
        3: [{"id": 5, "task": 11, "model_version": "undefined", "result": []}, "not an object"],
    }

    def listed(request: Recorded):  # type: ignore[no-untyped-def]
        page = int(parse_qs(urlsplit(request.path).query).get("page", ["1"])[0])
        body = {"results": pages[page], "next": f"/api/predictions/?page={page + 1}" if page < 3 else None}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    with FileServer() as server:
        server.add("/api/predictions/", handler=listed)
        client = LabelStudioClient(
            Settings(label_studio_url=server.origin, api_key=LEGACY_TOKEN, cache_dir=tmp_path / "cache")
        )
        found = existing_predictions(client, 3, {11, 12}, "v1")
        unversioned = existing_predictions(client, 3, {11, 12}, None)
    assert {task: [p.id for p in held] for task, held in found.items()} == {11: [1], 12: [3]}
    assert {task: [p.id for p in held] for task, held in unversioned.items()} == {11: [5]}
    assert same_result(({"value": {"x": 1.0}},), found[11][0].result)
    assert not same_result([{"value": {"x": 1.5}}], found[11][0].result)
