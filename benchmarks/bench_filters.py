"""Filters benchmark: ``ml-data fetch --format json`` of part of a project (a Data Manager tab,
finished tasks, task ids, labels) against the whole project and against Label Studio's own export
of the same tab, same server, same run.

    bash scripts/install-label-studio.sh && bash scripts/setup.sh test
    .venv/bin/python -m benchmarks.bench_filters              # 5,000 tasks
    .venv/bin/python -m benchmarks.bench_filters --tasks 1000

A real Label Studio (tests/support/servers/label_studio.py) on 127.0.0.1 gets a text project with N
tasks; half of them have one annotation with two spans (two of five labels). The tab shows the
annotated tasks whose id is even; ``--ids`` takes the first tenth of the ids. Each figure is the
best of ``--repeat`` runs, each into a new folder (a first fetch, no dataset to update).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from ml_data.config import Settings
from ml_data.pipeline import DatasetOptions, fetch
from tests.support.servers.label_studio import label_studio

LABELS = ["cat", "dog", "car", "person", "bicycle"]
CONFIG = (
    "<View><Text name='text' value='$text'/><Labels name='label' toName='text'>"
    + "".join(f"<Label value='{label}'/>" for label in LABELS)
    + "</Labels></View>"
)


def _task(index: int, rng: random.Random) -> dict[str, Any]:
    text = f"task {index} " + " ".join(rng.choice(LABELS) for _ in range(20))
    task: dict[str, Any] = {"data": {"text": text}}
    if index % 2 == 0:
        result = [
            {
                "id": f"t{index}r{region}",
                "from_name": "label",
                "to_name": "text",
                "type": "labels",
                "value": {"start": region * 4, "end": region * 4 + 3, "text": "abc", "labels": [rng.choice(LABELS)]},
            }
            for region in range(2)
        ]
        task["annotations"] = [{"result": result}]
    return task


def seed(session: requests.Session, url: str, count: int) -> tuple[int, list[int]]:
    project = session.post(f"{url}/api/projects/", json={"title": "filters", "label_config": CONFIG}).json()["id"]
    rng = random.Random(7)
    for start in range(0, count, 1000):
        batch = [_task(index, rng) for index in range(start, min(start + 1000, count))]
        session.post(f"{url}/api/projects/{project}/import", json=batch, timeout=600).raise_for_status()
    ids = []
    page = 1
    while True:
        answer = session.get(
            f"{url}/api/tasks",
            params={"project": project, "fields": "task_only", "page": page, "page_size": 1000},
            timeout=600,
        )
        if answer.status_code == 404:
            break
        tasks = answer.json()["tasks"]
        if not tasks:
            break
        ids += [task["id"] for task in tasks]
        page += 1
    return project, sorted(ids)


def label_studio_view_export(session: requests.Session, url: str, project: int, view: int) -> tuple[float, int]:
    """Label Studio's own snapshot export of the tab: create, wait, download."""
    started = time.perf_counter()
    created = session.post(
        f"{url}/api/projects/{project}/exports/", json={"title": "bench", "task_filter_options": {"view": view}}
    ).json()
    while session.get(f"{url}/api/projects/{project}/exports/{created['id']}").json()["status"] != "completed":
        time.sleep(0.1)
    body = session.get(
        f"{url}/api/projects/{project}/exports/{created['id']}/download", params={"exportType": "JSON"}, timeout=600
    ).json()
    return time.perf_counter() - started, len(body)


def timed(settings: Settings, project: int, out: Path, **filters: Any) -> tuple[float, int, dict[str, int]]:
    started = time.perf_counter()
    report = fetch(project, DatasetOptions(format="json", **filters), settings=settings, out=out)
    return time.perf_counter() - started, report.tasks, report.left_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-filters-") as folder:
        work = Path(folder)
        with label_studio(work / "ls") as studio:
            session = requests.Session()
            session.headers["Authorization"] = f"Token {studio.legacy_token}"
            project, ids = seed(session, studio.url, arguments.tasks)
            view = session.post(
                f"{studio.url}/api/dm/views/",
                json={
                    "project": project,
                    "data": {
                        "title": "annotated",
                        "filters": {
                            "conjunction": "and",
                            "items": [
                                {
                                    "filter": "filter:tasks:total_annotations",
                                    "operator": "greater",
                                    "type": "Number",
                                    "value": 0,
                                }
                            ],
                        },
                    },
                },
            ).json()["id"]
            settings = Settings(
                label_studio_url=studio.url, api_key=studio.legacy_token, cache_dir=work / "cache", read_timeout=600
            )
            tenth = f"{ids[0]}-{ids[len(ids) // 10 - 1]}"
            cases: list[tuple[str, dict[str, Any]]] = [
                ("whole project", {}),
                ("--view (annotated tab)", {"view": view}),
                ("--finished only", {"finished": "only"}),
                (f"--ids {tenth}", {"ids": tenth}),
                ("--labels cat", {"labels": "cat"}),
                ("--view + --labels cat", {"view": view, "labels": "cat"}),
            ]
            print(f"{len(ids)} tasks, half annotated, Label Studio on loopback (best of {arguments.repeat})")
            reference = min(
                label_studio_view_export(session, studio.url, project, view) for _ in range(arguments.repeat)
            )
            print(f"  {'Label Studio snapshot export of the tab':42} {reference[0]:7.2f} s  {reference[1]:6d} tasks")
            for run, (name, filters) in enumerate(cases):
                best = min(
                    timed(settings, project, work / f"out-{run}-{attempt}", **filters)
                    for attempt in range(arguments.repeat)
                )
                left = ", ".join(f"{key} {value}" for key, value in best[2].items())
                print(f"  {'ml-data fetch ' + name:42} {best[0]:7.2f} s  {best[1]:6d} tasks  {left}")


if __name__ == "__main__":
    main()
