"""Projects with several images per task on a real Label Studio: a three-page document
(``<Repeater>``) and a ``valueList`` gallery, their images uploaded and on Local Files. ``fetch``
writes COCO, YOLO and VOC equal to the datasets built here by hand; pycocotools scores the COCO
perfectly against itself and datumaro imports every one with the right counts; and every face
that lists a task's files (the service's rewrite and prefetch, ``ml-data resolve --tasks``,
``doctor``, the Ray reader) finds the same files."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from ml_data.pipeline import DatasetOptions, fetch_project
from ml_data.tasks import resource_keys, task_resources, walk
from ml_data.tasks.label_config import parse_label_config
from tests.pipeline.test_consumers import datumaro_counts, self_evaluation
from tests.support.multi_item import (
    HEIGHT,
    REPEATER_CONFIG,
    VALUE_LIST_CONFIG,
    WIDTH,
    gallery_results,
    page_results,
    pixels,
    png,
)

pytestmark = pytest.mark.label_studio

SIMPLE = (
    "<View><Image name='image' value='$image'/><Choices name='c' toName='image'><Choice value='a'/></Choices></View>"
)


@dataclass
class MultiProjects:
    document: int
    gallery: int
    #: task id -> its image URLs in item order, as Label Studio holds them
    urls: dict[int, list[str]]
    #: task id -> its annotation's results
    results: dict[int, list[dict]]
    #: URL -> the image's bytes
    bodies: dict[str, bytes]


@pytest.fixture(scope="module")
def projects(seeded) -> MultiProjects:  # type: ignore[no-untyped-def]
    """Made after the seeded project (which must be project 3)."""
    uploads = seeded.api("POST", "/api/projects/", json={"title": "uploads", "label_config": SIMPLE}).json()["id"]
    bodies: dict[str, bytes] = {}
    uploaded = [png(n) for n in range(4)]
    for n, body in enumerate(uploaded):
        seeded.api("POST", f"/api/projects/{uploads}/import", files={f"up{n}.png": (f"up{n}.png", body)})
    tasks = seeded.api("GET", "/api/tasks", params={"project": uploads, "page_size": 100}).json()["tasks"]
    upload_urls = sorted((task["data"]["image"] for task in tasks), key=lambda url: url.rsplit("-", 1)[-1])
    assert [url.rsplit("-", 1)[-1] for url in upload_urls] == [f"up{n}.png" for n in range(4)]
    bodies.update(zip(upload_urls, uploaded, strict=True))

    root = seeded.server.document_root / "scans"
    local = {"d1/a/page.png": png(10), "d1/b/page.png": png(11), "d2/page.png": png(12), "g/x.png": png(13)}
    for relative, body in local.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(body)
        bodies[f"/data/local-files/?d=scans/{relative}"] = body

    def made(title: str, config: str) -> int:
        project = seeded.api("POST", "/api/projects/", json={"title": title, "label_config": config}).json()["id"]
        seeded.api("POST", "/api/storages/localfiles/", json={"project": project, "path": str(root), "title": "scans"})
        return project

    document = made("document", REPEATER_CONFIG)
    gallery = made("gallery", VALUE_LIST_CONFIG)
    pages = [
        [upload_urls[0], "/data/local-files/?d=scans/d1/a/page.png", "/data/local-files/?d=scans/d1/b/page.png"],
        [upload_urls[1], "/data/local-files/?d=scans/d2/page.png", upload_urls[2]],
    ]
    seeded.api(
        "POST",
        f"/api/projects/{document}/import",
        json=[{"pages": [{"url": url, "n": n} for n, url in enumerate(urls)]} for urls in pages],
    )
    seeded.api(
        "POST",
        f"/api/projects/{gallery}/import",
        json=[{"images": [upload_urls[3], "/data/local-files/?d=scans/g/x.png"]}],
    )
    urls: dict[int, list[str]] = {}
    results: dict[int, list[dict]] = {}
    for project, key in ((document, "pages"), (gallery, "images")):
        listed = seeded.api("GET", "/api/tasks", params={"project": project, "page_size": 100}).json()["tasks"]
        for task in sorted(listed, key=lambda task: task["id"]):
            items = task["data"][key]
            urls[task["id"]] = [item["url"] for item in items] if key == "pages" else list(items)
            result = page_results(task["id"]) if key == "pages" else gallery_results(task["id"])
            seeded.api("POST", f"/api/tasks/{task['id']}/annotations/", json={"result": result})
            results[task["id"]] = result
    return MultiProjects(document, gallery, urls, results, bodies)


def fetched(seeded, tmp_path: Path, project: int, fmt: str) -> tuple[Path, dict]:  # type: ignore[no-untyped-def]
    out = tmp_path / f"{project}-{fmt}"
    options = DatasetOptions(format=fmt, layout="standard")
    fetch_project(project, format=fmt, out=out, settings=seeded.settings(tmp_path), options=options)
    return out, json.loads((out / "manifest.json").read_text())


def expected_names(projects: MultiProjects, task_ids: list[int]) -> list[tuple[int, int, str]]:
    """(task, item, image file name) as the dataset names them, worked out by hand: the URL's
    file name, or ``<stem>__task<id>__p<item>`` once an earlier image took that name."""
    taken: set[str] = set()
    names = []
    for task in task_ids:
        for item, url in enumerate(projects.urls[task]):
            name = posixpath.basename(url.split("?d=")[-1])
            stem, extension = posixpath.splitext(name)
            if stem in taken:
                stem = f"{stem}__task{task}__p{item}"
            taken.add(stem)
            names.append((task, item, stem + extension))
    return names


def regions_on(projects: MultiProjects, task: int, item: int) -> list[dict]:
    """The results drawn on one item: by the page in ``to_name`` (``page_2``), or by ``item_index``."""

    def item_of(region: dict) -> int:
        return int(region["to_name"].split("_")[1]) if region["to_name"].startswith("page_") else region["item_index"]

    return [region for region in projects.results[task] if item_of(region) == item]


@pytest.mark.parametrize("which", ["document", "gallery"])
def test_fetch_writes_the_coco_yolo_and_voc_built_by_hand(seeded, projects, tmp_path, which):
    project = getattr(projects, which)
    config = parse_label_config(REPEATER_CONFIG if which == "document" else VALUE_LIST_CONFIG)
    labels = sorted({label for control in config.controls.values() for label in control.label_values})
    key = "pages" if which == "document" else "images"
    listed = seeded.api("GET", "/api/tasks", params={"project": project, "page_size": 100}).json()["tasks"]
    task_ids = sorted(task["id"] for task in listed if key in task["data"])
    names = expected_names(projects, task_ids)

    out, manifest = fetched(seeded, tmp_path, project, "coco")
    coco = json.loads((out / "annotations" / "instances_default.json").read_text())
    assert [(image["file_name"], image["width"], image["height"]) for image in coco["images"]] == [
        (name, WIDTH, HEIGHT) for _task, _item, name in names
    ]
    category = {name: index + 1 for index, name in enumerate(labels)}
    expected_boxes = [
        (image_id, category[region["value"]["rectanglelabels"][0]], pixels(region))
        for image_id, (task, item, _name) in enumerate(names)
        for region in regions_on(projects, task, item)
    ]
    assert [(a["image_id"], a["category_id"], a["bbox"]) for a in coco["annotations"]] == expected_boxes
    for task, item, name in names:
        entry = manifest["files"][f"images/{name}"]
        assert (entry["task"], entry["item"]) == (task, item)
        assert (out / "images" / name).read_bytes() == projects.bodies[projects.urls[task][item]]
    assert self_evaluation(out / "annotations" / "instances_default.json") == pytest.approx(1.0)
    assert datumaro_counts(out, "coco_instances") == {"default": (len(names), len(expected_boxes))}

    out, manifest = fetched(seeded, tmp_path, project, "yolo")
    for task, item, name in names:
        stem = posixpath.splitext(name)[0]
        lines = []
        for region in regions_on(projects, task, item):
            x, y, w, h = pixels(region)
            cx, cy = (x + w / 2) / WIDTH, (y + h / 2) / HEIGHT
            lines.append(
                f"{labels.index(region['value']['rectanglelabels'][0])} {cx:.6f} {cy:.6f} {w / WIDTH:.6f} {h / HEIGHT:.6f}\n"
            )
        assert (out / "labels" / f"{stem}.txt").read_text() == "".join(lines)
        assert manifest["files"][f"images/{name}"]["item"] == item
    counts = datumaro_counts(out, "yolo")
    assert sum(items for items, _ in counts.values()) == len(names)
    assert sum(boxes for _, boxes in counts.values()) == len(expected_boxes)

    out, manifest = fetched(seeded, tmp_path, project, "voc")
    listed = (out / "ImageSets" / "Main" / "default.txt").read_text().split()
    assert listed == [posixpath.splitext(name)[0] for _task, _item, name in names]
    for task, item, name in names:
        xml = (out / "Annotations" / f"{posixpath.splitext(name)[0]}.xml").read_text()
        assert xml.count("<object>") == len(regions_on(projects, task, item))
        assert (out / "JPEGImages" / name).read_bytes() == projects.bodies[projects.urls[task][item]]
    counts = datumaro_counts(out, "voc_detection")
    assert sum(items for items, _ in counts.values()) == len(names)
    assert sum(boxes for _, boxes in counts.values()) == len(expected_boxes)


def test_every_face_finds_the_same_files_of_a_document_and_a_gallery(seeded, projects, tmp_path):
    from ml_data.cli import main
    from ml_data.doctor import run_checks
    from ml_data.ray.read import task_row
    from ml_data.service import create_app
    from ml_data.service.config import ServiceSettings
    from tests.support.jobs import wait_for_job

    settings = seeded.settings(tmp_path)
    auth = {"Authorization": "Bearer multi-item-token"}
    app = create_app(settings, ServiceSettings(token="multi-item-token"))
    client = app.test_client()
    for project, config in ((projects.document, REPEATER_CONFIG), (projects.gallery, VALUE_LIST_CONFIG)):
        answer = client.get(f"/v1/projects/{project}/tasks?page_size=100&rewrite=true", headers=auth).get_json()
        raw = seeded.api("GET", "/api/tasks", params={"project": project, "page_size": 100}).json()["tasks"]
        keys = resource_keys(parse_label_config(config))
        for task, rewritten in zip(raw, answer["tasks"], strict=True):
            expected = projects.urls[task["id"]]
            # the service's rewrite: every file of the task points at /v1/resources?url=<it>
            links = [found.value for found in walk(rewritten["data"], None) if "/v1/resources?" in str(found.value)]
            assert [parse_qs(urlsplit(link).query)["url"][0] for link in links] == expected
            # the Ray reader, the fetch pipeline (task_resources with the config) and the walk
            # without a config (prefetch of tasks, resolve --tasks)
            assert task_row(task, keys, "project")["resources"] == expected
            assert task_resources(task["data"], keys) == task_resources(task["data"], None) == expected
        job = client.post("/v1/prefetch", json={"tasks": raw}, headers=auth).get_json()
        done = wait_for_job(client, job["id"], auth)
        assert done["state"] == "done" and done["total"] == sum(len(projects.urls[t["id"]]) for t in raw)
        export = tmp_path / f"export-{project}.json"
        export.write_text(json.dumps(raw))
        env = {
            "LABEL_STUDIO_URL": seeded.server.url,
            "LABEL_STUDIO_API_KEY": seeded.server.legacy_token,
            "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
        }
        resolved = CliRunner().invoke(main, ["resolve", "--tasks", str(export), "--json"], env=env)
        assert resolved.exit_code == 0, resolved.output
        records = [json.loads(line) for line in resolved.output.splitlines() if line.startswith("{")]
        files = [record for record in records if "path" in record]
        assert [record["task_id"] for record in files] == [t["id"] for t in raw for _url in projects.urls[t["id"]]]
        assert [Path(record["path"]).read_bytes() for record in files] == [
            projects.bodies[url] for t in raw for url in projects.urls[t["id"]]
        ]
        checks = {check.name: check for check in run_checks(settings, project=project)}
        assert checks["sample-task"].status == "ok", checks["sample-task"]
