"""A dataset fetched from the suite's real Label Studio, imported back as predictions, equals the
annotations it came from: the same labels, boxes of IoU 1 (within the formats' own rounding).

The project is this module's own: boxes on whole pixels (VOC keeps whole pixels), two images of
the same name in different folders (the manifest tells them apart), an annotation without
regions (a prediction without regions), an unannotated task (no prediction), and a rotated box
(kept by COCO and yolo-obb; YOLO and VOC hold the box around it, so that is what comes back).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from ml_data import import_predictions
from ml_data.cli import main
from ml_data.pipeline import DatasetOptions, fetch_project
from tests.support.label_studio_project import CONFIG, Seeded, png

pytestmark = pytest.mark.label_studio

WIDTH, HEIGHT = 100, 80
#: task key -> (image path on the file server, [(label, x, y, width, height, rotation) in percent]);
#: None: no annotation at all.
ANNOTATIONS: dict[str, tuple[str, list[tuple[str, float, float, float, float, float]] | None]] = {
    "two boxes": ("/a/frame.png", [("cat", 10, 10, 25, 50, 0), ("dog", 50, 25, 30, 50, 0)]),
    "same name": ("/b/frame.png", [("dog", 0, 0, 100, 100, 0)]),
    "empty": ("/c/empty.png", []),
    "rotated": ("/d/turned.png", [("cat", 20, 20, 40, 25, 30)]),
    "unlabelled": ("/e/none.png", None),
}


@dataclass
class Project:
    seeded: Seeded
    id: int
    tasks: dict[str, int]


@pytest.fixture(scope="module")
def project(seeded: Seeded) -> Project:
    created = seeded.api("POST", "/api/projects/", json={"title": "round trip", "label_config": CONFIG}).json()
    for path, _ in ANNOTATIONS.values():
        seeded.files.add(path, body=png((120, 80, 40), (WIDTH, HEIGHT)))
    seeded.api(
        "POST",
        f"/api/projects/{created['id']}/import",
        json=[{"image": seeded.files.url(path)} for path, _ in ANNOTATIONS.values()],
    )
    listed = seeded.api("GET", "/api/tasks", params={"project": created["id"], "page_size": 100}).json()["tasks"]
    by_url = {task["data"]["image"]: task["id"] for task in listed}
    tasks = {key: by_url[seeded.files.url(path)] for key, (path, _) in ANNOTATIONS.items()}
    for key, (_, boxes) in ANNOTATIONS.items():
        if boxes is not None:
            result = [_region(index, *box) for index, box in enumerate(boxes)]
            seeded.api("POST", f"/api/tasks/{tasks[key]}/annotations/", json={"result": result})
    return Project(seeded, created["id"], tasks)


def _region(index: int, label: str, x: float, y: float, w: float, h: float, rotation: float) -> dict:
    return {
        "id": f"r{index}",
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": WIDTH,
        "original_height": HEIGHT,
        "image_rotation": 0,
        "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation, "rectanglelabels": [label]},
    }


def _corners(value: dict) -> list[tuple[float, float]]:
    """A rectangle result's corners in pixels (rotated clockwise around its top-left corner)."""
    x, y = value["x"] / 100 * WIDTH, value["y"] / 100 * HEIGHT
    w, h = value["width"] / 100 * WIDTH, value["height"] / 100 * HEIGHT
    theta = math.radians(value.get("rotation") or 0)
    cos, sin = math.cos(theta), math.sin(theta)
    return [(x + dx * cos - dy * sin, y + dx * sin + dy * cos) for dx, dy in ((0, 0), (w, 0), (w, h), (0, h))]


def _enclosing(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    xs = [min(max(px, 0), WIDTH) for px, _ in points]
    ys = [min(max(py, 0), HEIGHT) for _, py in points]
    return [(min(xs), min(ys)), (max(xs), min(ys)), (max(xs), max(ys)), (min(xs), max(ys))]


def _edges(points: list[tuple[float, float]]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    return list(zip(points, points[1:] + points[:1], strict=True))


def _signed(points: list[tuple[float, float]]) -> float:
    return sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in _edges(points))


def _area(points: list[tuple[float, float]]) -> float:
    return abs(_signed(points)) / 2


def _inside(point: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> bool:
    return (b[0] - a[0]) * (point[1] - a[1]) - (b[1] - a[1]) * (point[0] - a[0]) >= -1e-12


def _clip(subject: list[tuple[float, float]], clip: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sutherland-Hodgman: the part of convex ``subject`` inside convex ``clip``."""
    if _signed(clip) < 0:
        clip = clip[::-1]
    output = subject
    for a, b in _edges(clip):
        points, output = output, []
        for index, current in enumerate(points):
            previous = points[index - 1]
            if _inside(current, a, b):
                if not _inside(previous, a, b):
                    output.append(_cross(previous, current, a, b))
                output.append(current)
            elif _inside(previous, a, b):
                output.append(_cross(previous, current, a, b))
        if not output:
            return []
    return output


def _cross(p, q, a, b):  # type: ignore[no-untyped-def]
    """Where segment p-q meets the line through a and b."""
    (x1, y1), (x2, y2), (x3, y3), (x4, y4) = p, q, a, b
    denominator = (x1 - x2) * (y3 - y4) - (y1 - y2) * (x3 - x4)
    t = ((x1 - x3) * (y3 - y4) - (y1 - y3) * (x3 - x4)) / denominator
    return (x1 + t * (x2 - x1), y1 + t * (y2 - y1))


def iou(first: list[tuple[float, float]], second: list[tuple[float, float]]) -> float:
    overlap = _clip(first, second)
    inter = _area(overlap) if len(overlap) >= 3 else 0.0
    return inter / (_area(first) + _area(second) - inter)


def _expected(fmt: str) -> dict[str, list[tuple[str, list[tuple[float, float]]]]]:
    """What each annotated task's prediction must hold: YOLO and VOC hold the box around a rotated
    one, VOC in whole pixels."""
    expected = {}
    for key, (_, boxes) in ANNOTATIONS.items():
        if boxes is None:
            continue
        shapes = []
        for label, *geometry in boxes:
            corners = _corners(dict(zip(("x", "y", "width", "height", "rotation"), geometry, strict=True)))
            if fmt in ("yolo", "voc"):
                corners = _enclosing(corners)
            if fmt == "voc":  # whole pixels
                corners = [(float(round(x)), float(round(y))) for x, y in corners]
            shapes.append((label, corners))
        expected[key] = shapes
    return expected


def _predictions(project: Project, model_version: str) -> dict[int, list[dict]]:
    found: dict[int, list[dict]] = {}
    for task in project.tasks.values():
        listed = project.seeded.api("GET", "/api/predictions/", params={"task": task}).json()
        found[task] = [p for p in listed if p["model_version"] == model_version]
    return found


@pytest.mark.parametrize("fmt", ["yolo", "coco", "voc", "yolo-obb"])
def test_a_fetched_dataset_imported_back_equals_its_annotations(project, tmp_path, fmt):
    settings = project.seeded.settings(tmp_path)
    out = tmp_path / fmt
    fetched = fetch_project(project.id, format=fmt, out=out, settings=settings, options=DatasetOptions(format=fmt))
    assert fetched.failures == {}
    report = import_predictions(out, project=project.id, format=fmt, model_version=f"round-{fmt}", settings=settings)
    annotated = [key for key, (_, boxes) in ANNOTATIONS.items() if boxes is not None]
    assert report.matched_by == "manifest" and report.posted == report.predictions == len(annotated)
    assert dict(report.skipped) == {}
    predictions = _predictions(project, f"round-{fmt}")
    assert predictions[project.tasks["unlabelled"]] == []
    for key, shapes in _expected(fmt).items():
        (prediction,) = predictions[project.tasks[key]]
        results = prediction["result"]
        assert len(results) == len(shapes), key
        for label, corners in shapes:
            same_label = [r for r in results if r["value"]["rectanglelabels"] == [label]]
            assert max(iou(_corners(r["value"]), corners) for r in same_label) == pytest.approx(1.0, abs=1e-4)
            for result in same_label:
                assert (result["from_name"], result["to_name"], result["type"]) == ("label", "image", "rectanglelabels")
                assert (result["original_width"], result["original_height"]) == (WIDTH, HEIGHT)


def test_the_command_line_dry_run_writes_what_would_be_posted(project, tmp_path, monkeypatch):
    settings = project.seeded.settings(tmp_path)
    out = tmp_path / "yolo"
    fetch_project(project.id, format="yolo", out=out, settings=settings)
    monkeypatch.setenv("LABEL_STUDIO_URL", settings.label_studio_url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", settings.api_key)
    before = _predictions(project, "dry")
    dry = tmp_path / "predictions.json"
    args = ["import-predictions", str(out), "--format", "yolo", "--project", str(project.id)]
    result = CliRunner().invoke(main, [*args, "--model-version", "dry", "--dry-run", str(dry)])
    assert result.exit_code == 0, result.output
    assert "4 predictions (4 regions) written to" in result.output and "matched by manifest" in result.output
    written = json.loads(dry.read_text())
    assert sorted(item["task"] for item in written) == sorted(
        task for key, task in project.tasks.items() if key != "unlabelled"
    )
    assert all(item["model_version"] == "dry" for item in written)
    assert _predictions(project, "dry") == before  # nothing posted


def _held(project: Project, model_version: str) -> dict[int, list[dict]]:
    """The version's predictions on every annotated task, as Label Studio lists them."""
    return {
        task: found
        for task, found in _predictions(project, model_version).items()
        if task != project.tasks["unlabelled"]
    }


def test_an_import_run_again_posts_nothing_twice(project, tmp_path):
    """Regression: a second run of the same import posted every prediction again, and Label Studio
    kept both."""
    settings = project.seeded.settings(tmp_path)
    out = tmp_path / "yolo"
    fetch_project(project.id, format="yolo", out=out, settings=settings)
    first = import_predictions(out, project=project.id, format="yolo", model_version="again", settings=settings)
    assert first.posted == first.predictions == 4 and first.already_posted == 0
    held = _held(project, "again")
    assert all(len(found) == 1 for found in held.values()), held
    second = import_predictions(out, project=project.id, format="yolo", model_version="again", settings=settings)
    assert second.predictions == 4 and second.posted == 0 and second.already_posted == 4
    assert _held(project, "again") == held  # the same predictions, none added
    # Another version is other predictions; a changed result is a new prediction beside the old.
    other = import_predictions(out, project=project.id, format="yolo", model_version="again-2", settings=settings)
    assert other.posted == 4 and other.already_posted == 0
    label = next(path for path in sorted((out / "labels").rglob("*.txt")) if path.read_text().strip())
    label.write_text(label.read_text() + "0 0.5 0.5 0.2 0.2\n")  # one more box on one image
    changed = import_predictions(out, project=project.id, format="yolo", model_version="again", settings=settings)
    assert changed.posted == 1 and changed.already_posted == 3
    assert sorted(len(found) for found in _held(project, "again").values()) == [1, 1, 1, 2]
    # Without a version: Label Studio's own empty one, matched the same way.
    unversioned = [import_predictions(out, project=project.id, format="yolo", settings=settings) for _ in range(2)]
    assert [(run.posted, run.already_posted) for run in unversioned] == [(4, 0), (0, 4)]


def test_replace_deletes_the_versions_old_predictions_first(project, tmp_path, monkeypatch):
    settings = project.seeded.settings(tmp_path)
    out = tmp_path / "coco"
    fetch_project(project.id, format="coco", out=out, settings=settings)
    import_predictions(out, project=project.id, format="coco", model_version="swap", settings=settings)
    for task, (old,) in _held(project, "swap").items():  # an older run's other answer beside it
        body = {"task": task, "model_version": "swap", "result": old["result"][:1] or old["result"]}
        project.seeded.api("POST", "/api/predictions/", json={**body, "score": 0.5})
    kept = import_predictions(out, project=project.id, format="coco", model_version="keep", settings=settings)
    assert kept.posted == 4
    before_keep = _held(project, "keep")
    monkeypatch.setenv("LABEL_STUDIO_URL", settings.label_studio_url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", settings.api_key)
    args = ["import-predictions", str(out), "--format", "coco", "--project", str(project.id), "--model-version", "swap"]
    dry = CliRunner().invoke(main, [*args, "--replace", "--dry-run", str(tmp_path / "dry.json")])
    assert dry.exit_code == 0, dry.output
    assert len(json.loads((tmp_path / "dry.json").read_text())) == 4  # everything would be posted
    assert all(len(found) == 2 for found in _held(project, "swap").values())  # and nothing deleted
    result = CliRunner().invoke(main, [*args, "--replace"])
    assert result.exit_code == 0, result.output
    assert "4 posted" in result.output and "replaced 8 earlier predictions" in result.output
    swapped = _held(project, "swap")
    assert all(len(found) == 1 for found in swapped.values()), swapped
    assert _held(project, "keep") == before_keep  # other versions untouched
    again = CliRunner().invoke(main, [*args, "--json"])
    report = json.loads(again.output)
    assert report["posted"] == 0 and report["already_posted"] == 4 and report["replaced"] == 0
