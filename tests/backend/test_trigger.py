"""Training when enough changed, against the suite's real Label Studio: a burst of annotations
(heard through Label Studio's webhooks by the service, or handed to handle() by two processes
sharing the folder) builds the dataset once and trains once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from ml_data import TrainingTrigger
from ml_data.cli import main
from ml_data.service import ServiceSettings, create_app
from tests.support.label_studio_project import Seeded

pytestmark = pytest.mark.label_studio

REPO = Path(__file__).resolve().parents[2]
TEXT = """<View>
  <Text name="text" value="$text"/>
  <Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


def _project(seeded: Seeded, title: str, count: int) -> tuple[int, list[int]]:
    project = seeded.api("POST", "/api/projects/", json={"title": title, "label_config": TEXT}).json()["id"]
    seeded.api("POST", f"/api/projects/{project}/import", json=[{"text": f"text {n}"} for n in range(count)])
    tasks = seeded.api("GET", "/api/tasks", params={"project": project, "page_size": 100}).json()["tasks"]
    return project, sorted(task["id"] for task in tasks)


def _annotate(seeded: Seeded, task_id: int) -> dict:
    return seeded.api("POST", f"/api/tasks/{task_id}/annotations/", json={"result": RESULT}).json()


def _wait(condition, seconds: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def test_a_burst_of_annotations_through_the_webhook_builds_and_trains_once(seeded, tmp_path):
    project, tasks = _project(seeded, "burst", 25)
    trained: list[tuple[Path, dict]] = []
    trigger = TrainingTrigger(
        project=project,
        out=tmp_path / "datasets" / "p",
        train=lambda path, manifest: trained.append((path, manifest)),
        min_changed=20,
        quiet_for=1.0,
        settings=seeded.settings(tmp_path),
    )
    app = create_app(seeded.settings(tmp_path), ServiceSettings(no_auth=True), trigger=trigger)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = f"http://127.0.0.1:{server.server_port}/v1/webhooks/label-studio?train=true"
        seeded.api(
            "POST",
            "/api/webhooks/",
            json={"project": project, "url": hook, "send_payload": True, "actions": ["ANNOTATION_CREATED"]},
        )
        for task_id in tasks[:19]:
            _annotate(seeded, task_id)
        _wait(lambda: trigger.state().changed == 19)
        assert trigger.state().due_in is None and trigger.runs == []  # 19 < 20: nothing due
        _annotate(seeded, tasks[19])
        _wait(lambda: len(trigger.runs) == 1 and trigger.runs[0].finished is not None)
        assert trigger.wait(30)
        time.sleep(2.5)  # quiet_for and more: no second training comes
        assert len(trained) == 1 and len(trigger.runs) == 1 and trigger.runs[0].error is None
        path, manifest = trained[0]
        assert path == tmp_path / "datasets" / "p" and (path / "manifest.json").is_file()
        annotated = [info for info in manifest["tasks"].values() if info["annotations"]]
        assert len(manifest["tasks"]) == 25 and len(annotated) == 20
        assert trigger.state().changed == 0
    finally:
        server.shutdown()
        thread.join(10)
        trigger.close()


def test_without_a_trigger_train_true_is_refused(seeded, tmp_path):
    app = create_app(seeded.settings(tmp_path), ServiceSettings(no_auth=True))
    answer = app.test_client().post(
        "/v1/webhooks/label-studio?train=true", json={"action": "ANNOTATION_CREATED"}, headers={"Host": "127.0.0.1"}
    )
    assert answer.status_code == 409 and answer.get_json()["error"] == "no_trigger"


WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    from ml_data import Settings, TrainingTrigger

    out, events, log = sys.argv[1], json.loads(open(sys.argv[2]).read()), sys.argv[3]

    def train(path, manifest):
        with open(log, "a") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "tasks": len(manifest["tasks"])}) + "\\n")
        time.sleep(1.0)  # long enough for the other process to find the lease taken

    trigger = TrainingTrigger(project=int(sys.argv[4]), out=out, train=train, min_changed=20, quiet_for=0.5,
                              settings=Settings.from_env())
    for event in events:
        trigger.handle("ANNOTATION_CREATED", event)
    deadline = time.monotonic() + 60
    while trigger.state().due_in is not None or not trigger.wait(0.5):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    print(len(trigger.runs))
    """
)


def test_two_processes_sharing_the_folder_train_once(seeded, tmp_path):
    """Each process hears half of the events (as two workers of one backend do): the count is of
    both, and only one of them builds and trains."""
    project, tasks = _project(seeded, "two workers", 20)
    events = [
        {"action": "ANNOTATION_CREATED", "annotation": _annotate(seeded, t), "project": {"id": project}} for t in tasks
    ]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("LABEL_STUDIO_", "ML_DATA_"))},
        "LABEL_STUDIO_URL": seeded.server.url,
        "LABEL_STUDIO_API_KEY": seeded.server.legacy_token,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
        "PYTHONPATH": str(REPO),
    }
    log = tmp_path / "trained.jsonl"
    processes = []
    for half in (events[0::2], events[1::2]):
        path = tmp_path / f"events-{len(processes)}.json"
        path.write_text(json.dumps(half))
        command = [sys.executable, "-c", WORKER, str(tmp_path / "shared" / "p"), str(path), str(log), str(project)]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err[-1500:] for _, err in outputs]
    assert sorted(int(out.strip()) for out, _ in outputs) == [0, 1]
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(runs) == 1 and runs[0]["tasks"] == 20


def test_watch_once_runs_the_command_when_enough_changed(seeded, tmp_path, monkeypatch):
    project, tasks = _project(seeded, "watched", 6)
    monkeypatch.setenv("LABEL_STUDIO_URL", seeded.server.url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", seeded.server.legacy_token)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    out, marker = tmp_path / "watched", tmp_path / "trained.txt"
    command = [
        sys.executable,
        "-c",
        "import sys; open(sys.argv[2], 'a').write(sys.argv[1] + '\\n')",
        "{dataset}",
        str(marker),
    ]
    args = ["watch", "--project", str(project), "--min-changed", "3", "--out", str(out), "--once", "--", *command]
    for task_id in tasks[:2]:
        _annotate(seeded, task_id)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2 of 3 tasks changed" in result.output and not marker.exists()
    _annotate(seeded, tasks[2])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert marker.read_text().splitlines() == [str(out)]
    assert json.loads((out / "manifest.json").read_text())["tasks"][str(tasks[2])]["annotations"]
    result = CliRunner().invoke(main, args)
    assert "0 of 3 tasks changed" in result.output and len(marker.read_text().splitlines()) == 1
