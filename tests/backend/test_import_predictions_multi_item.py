"""Tasks with several images on the suite's real Label Studio (a ``<Repeater>`` document and a
``valueList`` gallery, :mod:`tests.pipeline.test_multi_item_label_studio`): a dataset fetched as
YOLO or COCO and imported back as predictions gives each task ONE prediction whose results equal
its annotation: the same labels, boxes of IoU 1, on the same page (``labels_2`` on ``page_2``) or
list item (``item_index``). Matched by the manifest, or by file names over every item without it;
an import run again posts nothing twice."""

from __future__ import annotations

import shutil

import pytest

from ml_data import import_predictions
from tests.pipeline.test_multi_item_label_studio import MultiProjects, fetched, projects  # noqa: F401
from tests.support.multi_item import HEIGHT, WIDTH

pytestmark = pytest.mark.label_studio


def _box(region: dict) -> tuple[float, float, float, float]:
    value = region["value"]
    return value["x"], value["y"], value["x"] + value["width"], value["y"] + value["height"]


def iou(first: dict, second: dict) -> float:
    """Of two axis-aligned rectangle results (percent)."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = _box(first), _box(second)
    overlap = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    return overlap / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - overlap)


def _where(region: dict) -> tuple:
    """Where a region sits and what it says: control, image, list item and label."""
    return region["from_name"], region["to_name"], region.get("item_index"), region["value"]["rectanglelabels"]


def _held(seeded, tasks: list[int], version: str) -> dict[int, list[dict]]:  # type: ignore[no-untyped-def]
    found = {}
    for task in tasks:
        listed = seeded.api("GET", "/api/predictions/", params={"task": task}).json()
        found[task] = [prediction for prediction in listed if prediction["model_version"] == version]
    return found


def _tasks(projects: MultiProjects, which: str) -> list[int]:  # noqa: F811
    key = "page_" if which == "document" else "img"
    return sorted(
        task for task, results in projects.results.items() if results and results[0]["to_name"].startswith(key)
    )


def assert_equal_to_annotations(prediction: dict, annotation: list[dict]) -> None:
    results = prediction["result"]
    assert sorted(_where(r) for r in results) == sorted(_where(r) for r in annotation)
    for region in annotation:
        same = [r for r in results if _where(r) == _where(region)]
        assert max(iou(r, region) for r in same) == pytest.approx(1.0, abs=1e-4)
    for result in results:
        assert (result["original_width"], result["original_height"]) == (WIDTH, HEIGHT)


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
@pytest.mark.parametrize("which", ["document", "gallery"])
def test_a_fetched_multi_image_dataset_imported_back_equals_its_annotations(
    seeded,
    projects,  # noqa: F811
    tmp_path,
    which,
    fmt,
):
    project = getattr(projects, which)
    tasks = _tasks(projects, which)
    out, _manifest = fetched(seeded, tmp_path, project, fmt)
    settings = seeded.settings(tmp_path)
    version = f"multi-{which}-{fmt}"
    report = import_predictions(out, project=project, format=fmt, model_version=version, settings=settings)
    images = sum(len(projects.urls[task]) for task in tasks)
    assert (report.matched_by, report.items, dict(report.skipped)) == ("manifest", images, {})
    assert report.predictions == report.posted == len(tasks)  # one per task, not one per image
    held = _held(seeded, tasks, version)
    for task in tasks:
        (prediction,) = held[task]
        assert_equal_to_annotations(prediction, projects.results[task])

    again = import_predictions(out, project=project, format=fmt, model_version=version, settings=settings)
    assert (again.predictions, again.posted, again.already_posted) == (len(tasks), 0, len(tasks))
    assert _held(seeded, tasks, version) == held


def test_without_a_manifest_every_item_is_matched_by_its_file_name(seeded, projects, tmp_path):  # noqa: F811
    """The gallery's names are all distinct; the document's second and third ``page.png`` carry
    their task and item (``page__task<id>__p<item>``), and the first, a name three pages share,
    is ambiguous."""
    settings = seeded.settings(tmp_path)
    for which in ("gallery", "document"):
        project, tasks = getattr(projects, which), _tasks(projects, which)
        out, _manifest = fetched(seeded, tmp_path, project, "yolo")
        bare = tmp_path / f"{which}-bare"
        shutil.copytree(out, bare)
        (bare / "manifest.json").unlink()
        version = f"names-{which}"
        report = import_predictions(
            bare, project=project, format="yolo", model_version=version, on_error="skip", settings=settings
        )
        assert report.matched_by == "file name"
        held = _held(seeded, tasks, version)
        if which == "gallery":
            assert dict(report.skipped) == {} and report.posted == len(tasks)
            for task in tasks:
                (prediction,) = held[task]
                assert_equal_to_annotations(prediction, projects.results[task])
            continue
        ((item, reason),) = report.examples
        assert item == "'labels/page.txt'" and reason.startswith(f"ambiguous: tasks {tasks[0]}, {tasks[1]}"), reason
        assert report.posted == len(tasks)
        for task in tasks:  # the ambiguous page.png is page 1 of the first task, which has no boxes
            (prediction,) = held[task]
            assert_equal_to_annotations(prediction, projects.results[task])
