"""ml-data against a real Label Studio (PyPI ``label-studio``, started on 127.0.0.1 by the suite).

Project 3 is seeded through the REST API only: an uploaded image, images on a Local Files storage,
images on a loopback file server, annotations (one box rotated), a prediction, one task without
annotations. Then ``ml-data fetch`` must produce complete datasets with byte-identical images,
download nothing the second time, redo only a task whose annotations changed, and work with both
kinds of token while a wrong token fails clearly.
"""

from __future__ import annotations

import json
import math

import pytest
import requests
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.config import Settings
from ml_data.errors import AuthenticationFailed, NothingToWrite, RemoteNotFound, UpstreamUnavailable
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline import DatasetOptions, fetch_project
from tests.support.servers.processes import free_port

pytestmark = pytest.mark.label_studio


def test_project_and_export_through_the_client(seeded, tmp_path):
    client = LabelStudioClient(seeded.settings(tmp_path))
    project = client.project(seeded.project)
    assert project.title == "detection" and "RectangleLabels" in project.label_config and project.task_count == 6
    export = client.export(seeded.project, tmp_path / "export.json")
    tasks = json.loads(export.read_text())
    assert sorted(task["id"] for task in tasks) == sorted(seeded.originals)
    assert any(task["predictions"] for task in tasks)
    snapshot = client.export(seeded.project, tmp_path / "snapshot.json", snapshot=True)
    assert sorted(task["id"] for task in json.loads(snapshot.read_text())) == sorted(seeded.originals)
    assert client.json("GET", f"/api/projects/{seeded.project}/exports/", what="listing snapshots") == []
    first, total = client.task_page(seeded.project, page=1, page_size=4)
    second, _ = client.task_page(seeded.project, page=2, page_size=4)
    assert total == len(seeded.originals)
    assert sorted(task["id"] for task in first + second) == sorted(seeded.originals)


def test_export_in_chunks_of_ids(seeded, tmp_path, monkeypatch):
    client = LabelStudioClient(seeded.settings(tmp_path))
    chunks = client.export_chunks(seeded.project, chunk_size=4)
    assert chunks is not None
    sizes = [len(chunk) for chunk in chunks]
    assert sizes == [4, 2]
    assert list(client.export_chunks(1) or ["not empty"]) == []  # project 1 has no tasks
    monkeypatch.setattr("ml_data.labelstudio.client.SPARSE_IDS_FACTOR", 0)
    assert client.export_chunks(seeded.project) is None  # too sparse: one export instead


def test_fetch_of_an_empty_project_and_without_chunks(seeded, tmp_path, monkeypatch):
    # An empty project gives no dataset: a typed error saying so, nothing written.
    with pytest.raises(NothingToWrite, match="the export holds no tasks"):
        fetch_project(1, format="json", out=tmp_path / "empty", settings=seeded.settings(tmp_path))
    assert not (tmp_path / "empty").exists()
    monkeypatch.setattr("ml_data.labelstudio.client.SPARSE_IDS_FACTOR", 0)
    report = fetch_project(seeded.project, format="coco", out=tmp_path / "coco", settings=seeded.settings(tmp_path))
    assert report.tasks == 6 and report.resources_resolved == 5


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
def test_fetch_writes_a_complete_dataset_with_identical_images(seeded, tmp_path, fmt):
    out = tmp_path / fmt
    report = fetch_project(seeded.project, format=fmt, out=out, settings=seeded.settings(tmp_path))
    assert report.tasks == 6 and report.failures == {}
    manifest = json.loads((out / "manifest.json").read_text())
    placed = {entry["task"]: relative for relative, entry in manifest["files"].items() if entry.get("source")}
    annotated = set(seeded.originals) - {seeded.unannotated}
    assert set(placed) == annotated
    for task_id in annotated:
        assert (out / placed[task_id]).read_bytes() == seeded.originals[task_id]
    if fmt == "yolo":
        labels = sorted(p.name for p in (out / "labels").iterdir())
        assert len(labels) == 5
        rotated = (out / placed[seeded.rotated]).with_suffix(".txt").name
        line = (out / "labels" / rotated).read_text().split()
        assert [float(v) for v in line[1:]] == pytest.approx(_enclosing_box(25, 25, 40, 30, 30.0), abs=1e-5)
    else:
        coco = json.loads((out / "annotations" / "instances_default.json").read_text())
        assert len(coco["images"]) == 5 and len(coco["annotations"]) == 5
        assert {c["name"] for c in coco["categories"]} == {"cat", "dog"}


def _enclosing_box(x: float, y: float, w: float, h: float, degrees: float) -> list[float]:
    """YOLO cx cy w h of the axis-aligned box around a rectangle rotated about its top-left corner."""
    width, height = 64, 48
    x0, y0, bw, bh = x / 100 * width, y / 100 * height, w / 100 * width, h / 100 * height
    angle = math.radians(degrees)
    points = [
        (x0 + dx * math.cos(angle) - dy * math.sin(angle), y0 + dx * math.sin(angle) + dy * math.cos(angle))
        for dx, dy in ((0, 0), (bw, 0), (bw, bh), (0, bh))
    ]
    xs = [min(max(px, 0), width) for px, _ in points]
    ys = [min(max(py, 0), height) for _, py in points]
    return [
        (min(xs) + max(xs)) / 2 / width,
        (min(ys) + max(ys)) / 2 / height,
        (max(xs) - min(xs)) / width,
        (max(ys) - min(ys)) / height,
    ]


def test_second_run_downloads_nothing_and_a_new_annotation_redoes_one_task(seeded, tmp_path):
    out = tmp_path / "yolo"
    settings = seeded.settings(tmp_path)
    first = fetch_project(seeded.project, format="yolo", out=out, settings=settings)
    assert first.resources_resolved == 5
    remote_gets = len(seeded.files.requests)
    inodes = {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("*") if p.is_file()}

    second = fetch_project(seeded.project, format="yolo", out=out, settings=settings)
    assert second.unchanged and second.resources_resolved == 0 and len(seeded.files.requests) == remote_gets
    assert {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("*") if p.is_file()} == inodes

    annotation = seeded.annotate(seeded.unannotated, "dog")
    try:
        third = fetch_project(seeded.project, format="yolo", out=out, settings=settings)
        assert third.tasks_changed == 1 and third.resources_resolved == 1 and third.resources_reused == 5
        after = {p.relative_to(out).as_posix(): p.stat().st_ino for p in out.rglob("*") if p.is_file()}
        new_or_changed = {name for name in after if inodes.get(name) != after[name]}
        new_label = next(name for name in new_or_changed if name.startswith("labels/"))
        assert new_or_changed == {"manifest.json", new_label, new_label.replace("labels/", "images/")[:-4] + ".png"}
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["tasks"][str(seeded.unannotated)]["annotations"][0]["id"] == annotation["id"]
    finally:
        seeded.api("DELETE", f"/api/annotations/{annotation['id']}/")


def test_personal_access_token_works_too(seeded, tmp_path):
    token = seeded.personal_access_token()
    assert token.count(".") == 2
    report = fetch_project(
        seeded.project, format="coco", out=tmp_path / "coco", settings=seeded.settings(tmp_path, token)
    )
    instances = tmp_path / "coco" / "annotations" / "instances_default.json"
    assert report.tasks == 6 and len(json.loads(instances.read_text())["images"]) == 5


def test_cli_fetch_with_url_and_token_from_the_environment(seeded, tmp_path, monkeypatch):
    monkeypatch.setenv("LABEL_STUDIO_URL", seeded.server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", seeded.server.legacy_token)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "split"
    args = [
        "fetch",
        "--project",
        str(seeded.project),
        "--format",
        "yolo",
        "--out",
        str(out),
        "--split",
        "train=0.5,val=0.5",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "6 tasks" in result.output
    assert (out / "data.yaml").read_text().startswith('train: "images/train"\nval: "images/val"')


def test_a_wrong_token_fails_clearly_and_leaves_nothing(seeded, tmp_path):
    settings = seeded.settings(tmp_path, token="not-the-token-0123456789")
    with pytest.raises(AuthenticationFailed) as caught:
        fetch_project(seeded.project, format="yolo", out=tmp_path / "out", settings=settings)
    message = str(caught.value)
    assert "legacy token" in message and "Personal Access Token" in message and seeded.server.url in message
    assert "not-the-token" not in message
    assert not (tmp_path / "out").exists()
    fake_pat = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCIsImV4cCI6NDEwMjQ0NDgwMH0.c2lnbmF0dXJl"
    with pytest.raises(AuthenticationFailed, match="personal access token"):
        LabelStudioClient(seeded.settings(tmp_path, token=fake_pat)).project(seeded.project)


def test_a_missing_project_and_a_server_that_is_down(seeded, tmp_path):
    with pytest.raises(RemoteNotFound, match="project 999 not found"):
        LabelStudioClient(seeded.settings(tmp_path)).project(999)
    down = Settings(label_studio_url=f"http://localhost:{free_port()}", api_key="x" * 20, connect_timeout=1, retries=0)
    with pytest.raises(UpstreamUnavailable) as caught:
        LabelStudioClient(down).project(3)
    assert "/api/projects/3/" in str(caught.value) and "container" in str(caught.value)


def test_predictions_come_with_their_results(seeded, tmp_path):
    """The direct export lists predictions by id only; with --predictions the tasks come through a
    snapshot, which has them whole."""
    out = tmp_path / "json"
    options = DatasetOptions(format="json", predictions=True)
    fetch_project(seeded.project, format="json", out=out, settings=seeded.settings(tmp_path), options=options)
    tasks = json.loads((out / "result.json").read_text())
    predicted = [task for task in tasks if task.get("predictions")]
    assert len(predicted) == 1
    assert predicted[0]["predictions"][0]["model_version"] == "v1"
    assert predicted[0]["predictions"][0]["result"][0]["value"]["rectanglelabels"] == ["dog"]


def test_get_local_path_with_label_studios_own_access_and_refresh_tokens(seeded, tmp_path):
    """label-studio-ml's base class passes a short-lived access token it refreshed itself."""
    from ml_data import get_local_path

    refresh = seeded.personal_access_token()
    answer = requests.post(f"{seeded.server.url}/api/token/refresh/", json={"refresh": refresh}, timeout=30)
    access = answer.json()["access"]
    task_id = min(seeded.originals)
    url = seeded.api("GET", f"/api/tasks/{task_id}").json()["data"]["image"]
    for token in (access, refresh):
        path = get_local_path(
            url, cache_dir=str(tmp_path / token[-8:]), hostname=seeded.server.url, access_token=token, task_id=task_id
        )
        assert open(path, "rb").read() == seeded.originals[task_id]
