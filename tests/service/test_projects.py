"""The service's project endpoints against the session's real Label Studio: tasks (rewritten to the
sidecar's resource URLs), dataset jobs and their zips, prefetching a whole project."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from urllib.parse import urlsplit

import pytest

from ml_data.service import ServiceSettings, create_app
from tests.support.jobs import wait_for_job

pytestmark = pytest.mark.label_studio

TOKEN = "service-token-for-projects"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(seeded, tmp_path):
    settings = seeded.settings(tmp_path)
    app = create_app(settings, ServiceSettings(token=TOKEN, allow=(seeded.files.origin,)))
    app.testing = True
    return app.test_client()


def finished(client, job_id):
    return wait_for_job(client, job_id, AUTH)


def test_tasks_page_by_page(client, seeded):
    first = client.get(f"/v1/projects/{seeded.project}/tasks?page_size=4", headers=AUTH).get_json()
    second = client.get(f"/v1/projects/{seeded.project}/tasks?page_size=4&page=2", headers=AUTH).get_json()
    assert first["total"] == 6 and len(first["tasks"]) == 4 and len(second["tasks"]) == 2
    ids = [task["id"] for task in first["tasks"] + second["tasks"]]
    assert sorted(ids) == sorted(seeded.originals)
    assert any(task["annotations"] for task in first["tasks"])
    past = client.get(f"/v1/projects/{seeded.project}/tasks?page_size=4&page=9", headers=AUTH).get_json()
    assert past["tasks"] == []


def test_rewritten_tasks_point_at_the_sidecar_and_serve_the_original_bytes(client, seeded):
    answer = client.get(f"/v1/projects/{seeded.project}/tasks?page_size=100&rewrite=true", headers=AUTH)
    tasks = answer.get_json()["tasks"]
    assert len(tasks) == 6
    for task in tasks:
        link = urlsplit(task["data"]["image"])
        assert link.path == "/v1/resources" and f"task_id={task['id']}" in link.query
        served = client.get(f"{link.path}?{link.query}", headers=AUTH)
        assert served.status_code == 200 and served.data == seeded.originals[task["id"]]


def test_missing_project_and_bad_paging(client):
    missing = client.get("/v1/projects/999/tasks", headers=AUTH)
    assert missing.status_code == 404 and "project 999" in missing.get_json()["message"]
    assert client.get("/v1/projects/3/tasks?page_size=5000", headers=AUTH).status_code == 400
    assert client.get("/v1/projects/3/tasks?page=x", headers=AUTH).status_code == 400


def test_a_dataset_job_and_its_zip(client, seeded):
    answer = client.post(
        f"/v1/projects/{seeded.project}/datasets", json={"format": "yolo", "split": "train=0.5,val=0.5"}, headers=AUTH
    )
    assert answer.status_code == 202
    job = finished(client, answer.get_json()["id"])
    assert job["state"] == "done", job
    assert job["result"]["tasks"] == 6 and job["result"]["failures"] == {}
    download = client.get(job["result"]["download"], headers=AUTH)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert set(archive.namelist()) == set(manifest["files"]) | {"manifest.json"}
    images = {entry["task"]: name for name, entry in manifest["files"].items() if entry.get("source")}
    for task_id, name in images.items():
        assert archive.read(name) == seeded.originals[task_id]
    assert archive.read("data.yaml").startswith(b'train: "images/train"')

    again = finished(
        client,
        client.post(
            f"/v1/projects/{seeded.project}/datasets",
            json={"format": "yolo", "split": "train=0.5,val=0.5"},
            headers=AUTH,
        ).get_json()["id"],
    )
    assert again["result"]["unchanged"] is True


def test_a_download_reads_one_version_even_if_a_rebuild_swaps_the_folder(client, seeded, tmp_path):
    answer = client.post(f"/v1/projects/{seeded.project}/datasets", json={"format": "coco"}, headers=AUTH)
    job = finished(client, answer.get_json()["id"])
    folder = tmp_path / "cache" / "datasets"
    (dataset,) = [path for path in folder.iterdir() if path.name.startswith("project-")]
    response = client.get(job["result"]["download"], headers=AUTH, buffered=False)
    # A rebuild swaps a new version in before the client reads the zip: the old files are gone.
    dataset.rename(folder / "old")
    shutil.rmtree(folder / "old")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.response)))
    response.close()
    manifest = json.loads(archive.read("manifest.json"))
    assert set(archive.namelist()) == set(manifest["files"]) | {"manifest.json"}
    assert len(json.loads(archive.read("annotations/instances_default.json"))["images"]) == 5
    assert list((folder / ".downloads").iterdir()) == []  # the snapshot is removed after the download
    gone = client.get(job["result"]["download"], headers=AUTH)
    assert gone.status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"format": "nope"}, {"format": "yolo", "colour": "red"}, {"format": "yolo", "split": "train=2"}, [1, 2]],
)
def test_bad_dataset_requests(client, seeded, body):
    answer = client.post(f"/v1/projects/{seeded.project}/datasets", json=body, headers=AUTH)
    assert answer.status_code == 400 and answer.get_json()["error"] == "bad_request"


def test_download_of_an_unknown_job(client):
    assert client.get("/v1/datasets/nope/download", headers=AUTH).status_code == 404


def test_prefetch_a_whole_project(client, seeded):
    job = finished(client, client.post("/v1/prefetch", json={"project": seeded.project}, headers=AUTH).get_json()["id"])
    assert job["state"] == "done" and job["total"] == 6 and job["done"] == 6
    info = client.get("/v1/info", headers=AUTH).get_json()
    assert info["cache"]["entries"] == 6
    assert client.post("/v1/prefetch", json={"project": "3"}, headers=AUTH).status_code == 400


def test_project_endpoints_without_label_studio_configured(settings):
    app = create_app(settings, ServiceSettings(token=TOKEN))
    client = app.test_client()
    answer = client.get("/v1/projects/3/tasks", headers=AUTH)
    assert answer.status_code == 502 and answer.get_json()["error"] == "label_studio_not_configured"
    assert client.post("/v1/projects/3/datasets", json={"format": "yolo"}, headers=AUTH).status_code == 502


def test_a_dataset_job_with_filters_reports_what_they_left_out(client, seeded):
    ids = sorted(seeded.originals)
    cats = {task_id for task_id in ids[:-1] if task_id % 2}
    body = {"format": "yolo", "labels": ["cat"], "ids": f"{ids[0]}-{ids[-1]}", "finished": "only"}
    job = finished(
        client, client.post(f"/v1/projects/{seeded.project}/datasets", json=body, headers=AUTH).get_json()["id"]
    )
    assert job["state"] == "done", job
    assert job["result"]["tasks"] == len(cats)
    assert job["result"]["left_out"] == {"ids": 0, "finished": 1, "labels": len(ids) - 1 - len(cats)}
    archive = zipfile.ZipFile(io.BytesIO(client.get(job["result"]["download"], headers=AUTH).data))
    manifest = json.loads(archive.read("manifest.json"))
    assert {int(task_id) for task_id in manifest["tasks"]} == cats
    assert manifest["settings"]["labels"] == ["cat"] and manifest["settings"]["finished"] == "only"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"format": "yolo", "finished": "maybe"}, "finished"),
        ({"format": "yolo", "ids": "9-3"}, "ids"),
        ({"format": "yolo", "since": "last week"}, "since"),
        ({"format": "yolo", "view": 0}, "view"),
        ({"format": "yolo", "labels": []}, "labels"),
    ],
)
def test_bad_filters_are_refused_naming_the_option(client, seeded, body, words):
    answer = client.post(f"/v1/projects/{seeded.project}/datasets", json=body, headers=AUTH)
    assert answer.status_code == 400 and words in answer.get_json()["message"]


def test_the_openapi_document_publishes_the_filters(client):
    document = client.get("/v1/openapi.json", headers=AUTH).get_json()
    body = document["paths"]["/v1/projects/{project_id}/datasets"]["post"]["requestBody"]
    properties = body["content"]["application/json"]["schema"]["properties"]
    assert {"view", "finished", "reviewed", "labels", "annotator", "since", "ids", "frames"} <= set(properties)
    assert properties["finished"]["enum"] == ["only", "exclude", None]


def test_a_video_dataset_job_writes_the_frames_asked_for(client, seeded, tmp_path):
    """``frames`` in the request chooses the frame images, as ``fetch --frames`` does; each frame
    holds the boxes of Label Studio's own interpolated export."""
    pytest.importorskip("av")
    from tests.support.frame_datasets import check_frames
    from tests.support.videos import CONFIG, VIDEO_1, encode_video, interpolated_boxes, tracks, video_sha8

    project = seeded.api("POST", "/api/projects/", json={"title": "video frames", "label_config": CONFIG}).json()["id"]
    body = encode_video(*VIDEO_1)
    seeded.api("POST", f"/api/projects/{project}/import", files={"clip.mp4": ("clip.mp4", body, "video/mp4")})
    (task,) = seeded.api("GET", "/api/tasks", params={"project": project}).json()["tasks"]
    seeded.api("POST", f"/api/tasks/{task['id']}/annotations/", json={"result": tracks(*VIDEO_1)})
    params = {"exportType": "JSON", "interpolate_key_frames": "true"}
    (exported,) = seeded.api("GET", f"/api/projects/{project}/export", params=params).json()
    expected = {video_sha8(body): interpolated_boxes(exported["annotations"][0]["result"])}

    request = {"format": "yolo", "frames": "every=5"}
    job = finished(client, client.post(f"/v1/projects/{project}/datasets", json=request, headers=AUTH).get_json()["id"])
    assert job["state"] == "done", job
    archive = zipfile.ZipFile(io.BytesIO(client.get(job["result"]["download"], headers=AUTH).data))
    archive.extractall(tmp_path / "every-5")
    assert json.loads(archive.read("manifest.json"))["settings"]["frames"] == "every=5"
    check_frames("yolo", tmp_path / "every-5", expected, {video_sha8(body): list(range(1, VIDEO_1[0] + 1, 5))})


@pytest.mark.parametrize("frames", ["every=0", "some", 5])
def test_bad_frames_are_refused_naming_the_option(client, seeded, frames):
    answer = client.post(
        f"/v1/projects/{seeded.project}/datasets", json={"format": "yolo", "frames": frames}, headers=AUTH
    )
    assert answer.status_code == 400 and "frames" in answer.get_json()["message"]
