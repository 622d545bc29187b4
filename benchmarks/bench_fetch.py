"""Fetch benchmark: ``ml-data fetch --format yolo`` (images included) against Label Studio's own
YOLO export (``exportType=YOLO``, labels only), same server, same project, same run.

    bash scripts/install-label-studio.sh && bash scripts/setup.sh test
    .venv/bin/python -m benchmarks.bench_fetch              # 10,000 tasks
    .venv/bin/python -m benchmarks.bench_fetch --tasks 1000

A real Label Studio (tests/support/servers/label_studio.py) on 127.0.0.1 gets project 3 with N tasks, each
an image of about 30 KB on a loopback file server (nginx when installed) and one annotation with
three boxes. Figures: Label Studio's export; ml-data's fetch with an empty cache (every image
downloaded), with a warm cache into a new folder, a re-run on the unchanged project, and a re-run
after one annotation was added.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from benchmarks.bench_resolve import start_server
from benchmarks.children import ROOT
from tests.support.servers.label_studio import label_studio

LABELS = ["cat", "dog", "car", "person", "bicycle"]
CONFIG = (
    "<View><Image name='image' value='$image'/><RectangleLabels name='label' toName='image'>"
    + "".join(f"<Label value='{label}'/>" for label in LABELS)
    + "</RectangleLabels></View>"
)


def make_images(directory: Path, count: int, size: int) -> None:
    directory.mkdir(parents=True)
    for index in range(count):
        (directory / f"img_{index:06d}.jpg").write_bytes(os.urandom(size))


def task(index: int, origin: str, rng: random.Random) -> dict:
    result = []
    for box in range(3):
        x, y = rng.uniform(0, 70), rng.uniform(0, 70)
        result.append(
            {
                "id": f"t{index}b{box}",
                "from_name": "label",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": 640,
                "original_height": 480,
                "value": {
                    "x": x,
                    "y": y,
                    "width": rng.uniform(5, 30),
                    "height": rng.uniform(5, 30),
                    "rotation": 0,
                    "rectanglelabels": [rng.choice(LABELS)],
                },
            }
        )
    return {"data": {"image": f"{origin}/images/img_{index:06d}.jpg"}, "annotations": [{"result": result}]}


def seed(url: str, token: str, origin: str, count: int) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    project = 0
    for title in ("first", "second", "benchmark"):
        answer = session.post(f"{url}/api/projects/", json={"title": title, "label_config": CONFIG}, timeout=60)
        answer.raise_for_status()
        project = answer.json()["id"]
    rng = random.Random(7)
    for start in range(0, count, 2000):
        batch = [task(index, origin, rng) for index in range(start, min(count, start + 2000))]
        answer = session.post(f"{url}/api/projects/{project}/import", json=batch, timeout=600)
        answer.raise_for_status()
    return project


def label_studio_export(url: str, token: str, project: int, target: Path, export_type: str) -> float:
    started = time.perf_counter()
    answer = requests.get(
        f"{url}/api/projects/{project}/export",
        params={"exportType": export_type, "download_resources": "false", "download_all_tasks": "true"},
        headers={"Authorization": f"Token {token}"},
        timeout=3600,
    )
    answer.raise_for_status()
    target.write_bytes(answer.content)
    return time.perf_counter() - started


#: Phases of a fetch, from its own log (``-v``): seconds since the fetch started.
PHASES = {
    "export": re.compile(r"export of project \d+ done after ([\d.]+) s"),
    "resolved": re.compile(r"\d+ resources resolved after ([\d.]+) s"),
    "converted": re.compile(r"converted to \S+ in ([\d.]+) s"),
}


def ml_data_fetch(url: str, token: str, project: int, out: Path, cache: Path) -> tuple[float, dict]:
    env = {**os.environ, "LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token, "ML_DATA_CACHE_DIR": str(cache)}
    command = [str(ROOT / ".venv" / "bin" / "ml-data"), "-v", "fetch", "--project", str(project), "--format", "yolo"]
    started = time.perf_counter()
    finished = subprocess.run([*command, "--out", str(out), "--json"], env=env, capture_output=True, check=True)
    elapsed = time.perf_counter() - started
    report = json.loads(finished.stdout)
    log = finished.stderr.decode(errors="replace")
    report["phases"] = {name: float(m[1]) for name, pattern in PHASES.items() if (m := pattern.search(log))}
    return elapsed, report


def phases(elapsed: float, report: dict) -> str:
    """Where a fetch's time went: tasks exported (downloads running beside), the downloads still
    left after the export, then building the dataset (and the process's start and exit)."""
    found = report.get("phases", {})
    if "export" not in found or "resolved" not in found:
        return ""
    export, resolved = found["export"], found["resolved"]
    converted = f" (converting {found['converted']:.1f} s)" if "converted" in found else ""
    return (
        f"export {export:.1f} s, downloads after it {resolved - export:.1f} s, "
        f"building {elapsed - resolved:.1f} s{converted}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--image-size", type=int, default=30_000)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ml-data-bench-fetch-") as tmp:
        work = Path(tmp)
        make_images(work / "files" / "images", arguments.tasks, arguments.image_size)
        kind = "nginx" if subprocess.run(["which", "nginx"], capture_output=True).returncode == 0 else "python"
        server, origin = start_server(work / "files", kind)
        try:
            with label_studio(work / "ls") as studio:
                started = time.perf_counter()
                project = seed(studio.url, studio.legacy_token, origin, arguments.tasks)
                print(f"seeded project {project}: {arguments.tasks} tasks in {time.perf_counter() - started:.1f} s")
                reference = label_studio_export(studio.url, studio.legacy_token, project, work / "ls.zip", "YOLO")
                json_only = label_studio_export(studio.url, studio.legacy_token, project, work / "ls.json", "JSON")
                cache = work / "cache"
                cold, report = ml_data_fetch(studio.url, studio.legacy_token, project, work / "cold", cache)
                cold_phases = phases(cold, report)
                assert report["resources_resolved"] == arguments.tasks, report
                images = list((work / "cold" / "images").iterdir())
                assert len(images) == arguments.tasks
                warm, report = ml_data_fetch(studio.url, studio.legacy_token, project, work / "warm", cache)
                warm_phases = phases(warm, report)
                again, report = ml_data_fetch(studio.url, studio.legacy_token, project, work / "cold", cache)
                assert report["unchanged"], report
                first_task = requests.get(
                    f"{studio.url}/api/tasks",
                    params={"project": project, "page_size": 1},
                    headers={"Authorization": f"Token {studio.legacy_token}"},
                    timeout=60,
                ).json()["tasks"][0]["id"]
                requests.post(
                    f"{studio.url}/api/tasks/{first_task}/annotations/",
                    json={"result": task(0, origin, random.Random(1))["annotations"][0]["result"]},
                    headers={"Authorization": f"Token {studio.legacy_token}"},
                    timeout=60,
                ).raise_for_status()
                changed, report = ml_data_fetch(studio.url, studio.legacy_token, project, work / "cold", cache)
                assert report["tasks_changed"] == 1 and report["resources_resolved"] == 1, report
        finally:
            server.terminate()
            server.wait()

    n = arguments.tasks
    print(f"\n{n} tasks, images of {arguments.image_size // 1000} KB served by {kind} on loopback")
    print(f"  Label Studio exportType=JSON (tasks only)   {json_only:8.2f} s")
    print(f"  Label Studio exportType=YOLO (labels only)  {reference:8.2f} s")
    print(f"  ml-data fetch yolo, empty cache (images)    {cold:8.2f} s   {reference / cold:5.2f}x   {cold_phases}")
    print(f"  ml-data fetch yolo, warm cache, new folder  {warm:8.2f} s   {reference / warm:5.2f}x   {warm_phases}")
    print(f"  ml-data fetch yolo, unchanged project       {again:8.2f} s   {reference / again:5.2f}x")
    print(f"  ml-data fetch yolo, one annotation added    {changed:8.2f} s   {reference / changed:5.2f}x")


if __name__ == "__main__":
    main()
