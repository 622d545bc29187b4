"""Predictions for a whole project, against the suite's real Label Studio and a real ML backend
built on label-studio-ml's own app (tests/support/servers/ml_backend_app.py).

The backend reads every image through ``ml_data.get_local_path`` (an upload, a Local Files image,
an external link on a loopback server, a data: URI) and labels it by its dominant colour, so a right
label proves it read the task's own bytes.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ml_data import predict_project
from ml_data.backend import ml_api
from ml_data.cli import main
from ml_data.errors import InvalidPredictions
from tests.support.label_studio_project import Seeded, png
from tests.support.servers.http_files import FileServer, Route
from tests.support.servers.ml_backend import ml_backend

pytestmark = pytest.mark.label_studio

REPO = Path(__file__).resolve().parents[2]
IMAGES = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="red"/><Label value="green"/><Label value="blue"/>
  </RectangleLabels>
</View>"""
TEXT = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text"><Choice value="long"/><Choice value="short"/></Choices>
</View>"""
COLOURS = {"red": (210, 20, 20), "green": (20, 210, 20), "blue": (20, 20, 210)}


def _project(seeded: Seeded, title: str, config: str, tasks: list[dict]) -> int:
    project = seeded.api("POST", "/api/projects/", json={"title": title, "label_config": config}).json()["id"]
    if tasks:
        seeded.api("POST", f"/api/projects/{project}/import", json=tasks)
    return project


def _tasks(seeded: Seeded, project: int) -> list[dict]:
    found, page = [], 1
    while True:
        answer = seeded.api(
            "GET", "/api/tasks", params={"project": project, "fields": "all", "page": page, "page_size": 100}
        )
        found += answer.json()["tasks"]
        if len(found) >= answer.json()["total"]:
            return found
        page += 1


def _backend_env(seeded: Seeded, tmp_path: Path) -> dict[str, str]:
    return {
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": seeded.server.legacy_token,
        "LOCAL_FILES_DOCUMENT_ROOT": str(seeded.server.document_root),
        "ML_DATA_CACHE_DIR": str(tmp_path / "backend-cache"),
    }


@pytest.fixture
def image_project(seeded: Seeded, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Four image tasks, one of each kind of URL, each with the colour its image has."""
    with FileServer() as files:
        project = _project(seeded, "colours", IMAGES, [])
        bodies = {name: png(rgb, (64, 48)) for name, rgb in COLOURS.items()}
        seeded.api("POST", f"/api/projects/{project}/import", files={"red.png": ("red.png", bodies["red"])})
        folder = seeded.server.document_root / f"colours-{project}"
        folder.mkdir()
        (folder / "green.png").write_bytes(bodies["green"])
        storage = seeded.api(
            "POST",
            "/api/storages/localfiles/",
            json={"project": project, "path": str(folder), "regex_filter": r".*\.png", "use_blob_urls": True},
        ).json()
        seeded.api("POST", f"/api/storages/localfiles/{storage['id']}/sync")
        files.add("/blue.png", body=bodies["blue"])
        data_uri = "data:image/png;base64," + base64.b64encode(bodies["red"]).decode()
        seeded.api(
            "POST", f"/api/projects/{project}/import", json=[{"image": files.url("/blue.png")}, {"image": data_uri}]
        )
        expected = {}
        for task in _tasks(seeded, project):
            image = task["data"]["image"]
            expected[task["id"]] = "green" if "local-files" in image else "blue" if image.startswith("http") else "red"
        assert sorted(expected.values()) == ["blue", "green", "red", "red"]
        yield project, expected


def _labels(seeded: Seeded, project: int, version: str) -> dict[int, list[str]]:
    return {
        task["id"]: [
            p["result"][0]["value"]["rectanglelabels"][0] for p in task["predictions"] if p["model_version"] == version
        ]
        for task in _tasks(seeded, project)
    }


def test_label_studio_asks_the_backend_and_ml_data_predict_gets_the_same(seeded, image_project, tmp_path):
    project, expected = image_project
    with ml_backend(tmp_path / "backend", _backend_env(seeded, tmp_path)) as backend:
        # Label Studio itself: the backend connected as the project's ML backend, then asked for
        # predictions of every task (the Data Manager's "Retrieve Predictions").
        seeded.api("POST", "/api/ml/", json={"url": backend.url, "project": project, "title": "colours"})
        seeded.api(
            "POST",
            "/api/dm/actions",
            params={"id": "retrieve_tasks_predictions", "project": project},
            json={"selectedItems": {"all": True, "excluded": []}},
        )
        stored = _labels(seeded, project, "INITIAL")
        assert stored == {task: [colour] for task, colour in expected.items()}
        predictions = [p for task in _tasks(seeded, project) for p in task["predictions"]]
        assert {p["score"] for p in predictions} == {0.064}  # the image's width / 1000, as the model read it

        # ml-data predict, the same backend, another version: the same labels; the token never sent.
        report = predict_project(
            project, backend=backend.url, model_version="v5", batch=3, settings=seeded.settings(tmp_path)
        )
        assert (report.predicted, report.failed) == (4, {})
        assert _labels(seeded, project, "v5") == stored
        ours = [r for r in backend.requests() if r["headers"].get("User-Agent", "").startswith("ml-data/")]
        assert [r["path"] for r in ours][:1] == ["/setup"] and {r["path"] for r in ours} == {"/setup", "/predict"}
        for request in ours:
            assert "Authorization" not in request["headers"]
            assert seeded.server.legacy_token not in json.dumps(request)
        sent = json.loads(ours[1]["body"])
        assert set(sent) == {"tasks", "project", "label_config", "params"} and sent["label_config"] == IMAGES
        assert json.loads(ours[0]["body"])["schema"] == IMAGES


def test_a_predict_function_gets_local_paths(seeded, image_project, tmp_path, monkeypatch):
    project, expected = image_project
    monkeypatch.setenv("LABEL_STUDIO_URL", seeded.server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", seeded.server.legacy_token)
    monkeypatch.setenv("LOCAL_FILES_DOCUMENT_ROOT", str(seeded.server.document_root))
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    args = [
        "predict",
        "--project",
        str(project),
        "--model",
        "tests.support.predict_models:by_size",
        "--model-version",
        "f1",
    ]
    dry = tmp_path / "dry.json"
    result = CliRunner().invoke(main, [*args, "--dry-run", str(dry), "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(p["task"] for p in json.loads(dry.read_text())) == sorted(expected)
    assert all(labels == [] for labels in _labels(seeded, project, "f1").values())  # a dry run stores nothing
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "4 predicted" in result.output
    assert all(labels == ["red"] for labels in _labels(seeded, project, "f1").values())
    again = CliRunner().invoke(main, [*args, "--json"])
    assert json.loads(again.output)["skipped"] == {"already predicted by f1": 4}


def _settled_count(seeded, project: int) -> int:
    """The project's stored predictions once two looks half a second apart agree (at most 20 s)."""
    last = _count(seeded, project)
    for _look in range(40):
        time.sleep(0.5)
        now = _count(seeded, project)
        if now == last:
            return now
        last = now
    return last


def test_predict_over_1000_tasks_killed_half_way_and_run_again(seeded, tmp_path):
    """Every task ends with exactly one prediction of the version, however the first run ended."""
    project = _project(seeded, "thousand", TEXT, [{"text": "x" * (1 + n % 20)} for n in range(1000)])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "ML_DATA_"))},
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": seeded.server.legacy_token,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(REPO),
    }
    with ml_backend(tmp_path / "backend", _backend_env(seeded, tmp_path), delay=0.25) as backend:
        command = [sys.executable, "-m", "ml_data.cli", "predict", "--project", str(project), "--backend", backend.url]
        command += ["--model-version", "v5", "--batch", "20", "--workers", "2", "--json"]
        first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while (stored := _count(seeded, project)) < 300:
                assert first.poll() is None, "the first run ended before it was killed"
                assert time.monotonic() < deadline, "the first run stored too little in 120 s"
                time.sleep(0.05)
            first.send_signal(signal.SIGKILL)
        finally:
            first.kill()
            first.wait()
        # A batch the killed run had sent may still be stored by Label Studio after the kill: count
        # once the number has stopped changing (bounded).
        at_kill = _settled_count(seeded, project)
        assert 300 <= stored <= at_kill < 1000
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 0, second.stderr[-2000:]
        report = json.loads(second.stdout)
        assert report["skipped"] == {"already predicted by v5": at_kill}
        assert report["predicted"] == 1000 - at_kill and report["failed"] == {}
    tasks = _tasks(seeded, project)
    assert len(tasks) == 1000
    assert all([p["model_version"] for p in task["predictions"]] == ["v5"] for task in tasks)
    assert all(
        task["predictions"][0]["result"][0]["value"]["choices"]
        == ["long" if len(task["data"]["text"]) > 8 else "short"]
        for task in tasks
    )


def _count(seeded: Seeded, project: int) -> int:
    return seeded.api("GET", f"/api/projects/{project}/").json()["total_predictions_number"]


def test_a_bad_answer_fails_its_batch_and_busy_answers_are_retried(seeded, tmp_path, monkeypatch):
    project = _project(seeded, "hostile", TEXT, [{"text": t} for t in ("a", "b", "bad", "c", "huge", "d")])
    region = {"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["short"]}}

    def predict(request):  # type: ignore[no-untyped-def]
        tasks = json.loads(request.body)["tasks"]
        texts = [task["data"]["text"] for task in tasks]
        if "bad" in texts:
            results = [{"result": [region]}] * (len(tasks) + 1)
        elif "huge" in texts:
            results = [{"result": [region] * 5000, "score": 0.5}] * len(tasks)
        else:
            results = [{"result": [region], "score": 0.5}] * len(tasks)
        return 200, {"Content-Type": "application/json"}, json.dumps({"results": results}).encode()

    monkeypatch.setattr(ml_api, "MAX_ANSWER_BYTES", 100_000)
    with FileServer() as backend:
        backend.add("/setup", body=b'{"model_version": "fake-1"}', headers={"Content-Type": "application/json"})
        backend.add("/predict", Route(handler=predict, fail_times=2, fail_status=503))
        settings = seeded.settings(tmp_path).with_changes(backoff_factor=0.01)
        report = predict_project(project, backend=backend.origin, batch=2, workers=1, settings=settings)
        ids = sorted(task["id"] for task in _tasks(seeded, project))
        assert report.model_version == "fake-1" and report.predicted == 2
        assert set(report.failed) == set(ids[2:6])
        assert "3 results for 2 tasks" in report.failed[ids[2]] and "larger than" in report.failed[ids[4]]
        posts = [r for r in backend.requests if r.method == "POST" and r.path == "/predict"]
        assert len(posts) == 2 + 3  # two 503s, then each batch once
        assert backend.seen_authorization() == []
        with pytest.raises(InvalidPredictions, match="results for 2 tasks"):
            predict_project(project, backend=backend.origin, batch=2, workers=1, on_error="fail", settings=settings)
