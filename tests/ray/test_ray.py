"""ml_data.ray on a real engine: Ray's multi-node test cluster (two nodes of one CPU each, one
cluster for the module) reading from the suite's Label Studio and export files, resolving from a
loopback file server with latency, writing YOLO and COCO equal to single-machine ``fetch``.

Ray looks for cloud metadata (169.254.169.254) when its cluster starts; these tests therefore run
only where the machine has no network but loopback (``scripts/test.sh`` runs the suite in a
network namespace of its own), so nothing the cluster sends can leave the machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from click.testing import CliRunner  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402

from ml_data.cli import main  # noqa: E402
from ml_data.errors import ConfigurationError  # noqa: E402
from ml_data.pipeline import DatasetOptions, fetch_project  # noqa: E402
from ml_data.tasks.model import read_tasks as read_export  # noqa: E402
from ml_data.tasks.resources import task_resources  # noqa: E402
from tests.support.label_studio_project import CONFIG, png  # noqa: E402
from tests.support.servers.http_files import FileServer, Route  # noqa: E402

pytestmark = pytest.mark.skipif(
    [name for _index, name in socket.if_nameindex()] != ["lo"],
    reason="Ray's cluster reaches for cloud metadata addresses; run where only loopback exists (scripts/test.sh)",
)


def test_the_cluster_has_two_nodes_on_loopback(cluster):
    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert len(nodes) == 2
    assert {node["NodeManagerAddress"] for node in nodes} == {"127.0.0.1"}
    assert cluster.address.startswith("127.0.0.1:")


def test_read_tasks_from_label_studio_in_ranges_of_ids(cluster, seeded, tmp_path):
    from ml_data.ray import read_tasks
    from ml_data.ray.read import TaskDatasource, raw_task

    settings = seeded.settings(tmp_path)
    planned = TaskDatasource(project=seeded.project, settings=settings, tasks_per_read=2).get_read_tasks(8)
    assert [task.metadata.num_rows for task in planned] == [2, 2, 2]  # six tasks, two ids per read task
    ds = read_tasks(project=seeded.project, settings=settings, tasks_per_read=2)
    rows = sorted(ds.take_all(), key=lambda row: row["id"])
    export = seeded.api("GET", f"/api/projects/{seeded.project}/export", params={"download_all_tasks": "true"}).json()
    exported = {task["id"]: task for task in export}
    assert [row["id"] for row in rows] == sorted(exported)
    for row in rows:
        task = exported[row["id"]]
        assert json.loads(row["data"]) == task["data"]
        assert row["resources"] == task_resources(task["data"], ["image"])
        assert [a["id"] for a in json.loads(row["annotations"])] == [a["id"] for a in task["annotations"]]
        assert raw_task(row)["annotations"] == task["annotations"]


def test_read_tasks_asks_label_studio_only_for_the_ids_given(cluster, seeded, tmp_path):
    from ml_data.ray import read_tasks
    from ml_data.ray.read import TaskDatasource

    settings = seeded.settings(tmp_path)
    ids = sorted(seeded.originals)
    asked = f"{ids[1]}-{ids[2]},{ids[4]}"
    planned = TaskDatasource(project=seeded.project, settings=settings, tasks_per_read=2, ids=asked).get_read_tasks(8)
    # the id ranges cut to those asked for: nothing else is exported
    assert sum(task.metadata.num_rows for task in planned) == 3
    rows = read_tasks(project=seeded.project, settings=settings, tasks_per_read=2, ids=asked).take_all()
    assert sorted(row["id"] for row in rows) == [ids[1], ids[2], ids[4]]
    with pytest.raises(ConfigurationError, match="ids"):
        TaskDatasource(tasks=[{"id": 1, "data": {}}], ids="1")


def test_ids_on_ray_give_the_single_machine_dataset_and_count(cluster, seeded, tmp_path):
    from ml_data.pipeline import fetch

    settings = seeded.settings(tmp_path)
    ids = sorted(seeded.originals)
    options = DatasetOptions(format="yolo", ids=f"{ids[0]}-{ids[2]},{ids[5]}")
    single = fetch(seeded.project, options, out=tmp_path / "single", settings=settings)
    many = fetch(
        seeded.project, options, engine="ray", address=cluster.address, out=tmp_path / "ray", settings=settings
    )
    assert many.tasks == single.tasks == 4
    assert many.left_out == single.left_out == {"ids": 2}
    one = json.loads((tmp_path / "single" / "manifest.json").read_text())
    two = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert two["tasks"] == one["tasks"] and two["left_out"] == one["left_out"]
    assert _files(tmp_path / "ray") == _files(tmp_path / "single")


def test_read_tasks_from_an_export_file_in_byte_ranges(cluster, tmp_path):
    from ml_data.ray import read_tasks
    from ml_data.ray.read import TaskDatasource, raw_task

    tasks = [
        {
            "id": number,
            "data": {"image": f"/data/upload/3/{number}.jpg", "text": "naïve café ✓ " * (number % 4)},
            "annotations": [{"id": number * 10, "result": [{"value": {"text": ["é"]}}]}],
            "predictions": [],
            "inner_id": number,
        }
        for number in range(1, 24)
    ]
    export = tmp_path / "export.json"
    export.write_text("[\n" + ",\n   ".join(json.dumps(task, ensure_ascii=False) for task in tasks) + "\n]\n")
    planned = TaskDatasource(export=export, tasks_per_read=5).get_read_tasks(8)
    assert [task.metadata.num_rows for task in planned] == [5, 5, 5, 5, 3]  # 23 tasks, 5 per byte range
    ds = read_tasks(export=export, tasks_per_read=5)
    rows = sorted(ds.take_all(), key=lambda row: row["id"])
    assert [raw_task(row) for row in rows] == tasks
    assert [row["resources"] for row in rows] == [[task["data"]["image"]] for task in tasks]
    assert list(read_export(export).raw()) == tasks


def test_resolve_resources_records_failures_per_row_and_resolves_the_rest(cluster, tmp_path, settings):
    from ml_data.ray import read_tasks, resolve_resources

    with FileServer() as files:
        bodies = {f"/img/{n}.png": png((n * 10, 50, 90), (8 + n, 8)) for n in range(12)}
        for path, body in bodies.items():
            files.add(path, Route(body=body, stall_before=0.02))  # 20 ms per answer
        tasks = [{"id": n, "data": {"image": files.url(f"/img/{n}.png")}} for n in range(12)]
        tasks.append({"id": 99, "data": {"image": files.url("/img/missing.png")}})
        ds = read_tasks(tasks=tasks, config=CONFIG, settings=settings)
        rows = {
            row["id"]: row for row in resolve_resources(ds, fetch="bytes", concurrency=2, settings=settings).take_all()
        }
    assert len(rows) == 13
    for n in range(12):
        row = rows[n]
        assert row["errors"] == [None]
        assert Path(row["paths"][0]).read_bytes() == bodies[f"/img/{n}.png"] == row["contents"][0]
        assert row["files"][0]["size"] == len(bodies[f"/img/{n}.png"])
    assert rows[99]["paths"] == [None] and rows[99]["contents"] == [None]
    assert rows[99]["errors"][0].startswith("RemoteNotFound") and "missing.png" in rows[99]["errors"][0]


def _files(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {relative: entry["sha256"] for relative, entry in manifest["files"].items()}


def _boxes(coco: dict) -> set[tuple]:
    names = {category["id"]: category["name"] for category in coco["categories"]}
    images = {image["id"]: image["file_name"] for image in coco["images"]}
    return {
        (images[a["image_id"]], names[a["category_id"]], tuple(round(v, 6) for v in a["bbox"]))
        for a in coco["annotations"]
    }


@pytest.mark.parametrize("fmt", ["yolo", "coco", "hf-imagefolder"])
def test_write_dataset_equals_single_machine_fetch(cluster, seeded, tmp_path, fmt):
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    settings = seeded.settings(tmp_path)
    split = "train=0.5,val=0.5"
    single = fetch_project(
        seeded.project,
        format=fmt,
        out=tmp_path / "single",
        settings=settings,
        options=DatasetOptions(format=fmt, split=split),
    )
    ds = read_tasks(project=seeded.project, settings=settings, tasks_per_read=2)
    report = write_dataset(
        resolve_resources(ds, concurrency=2, settings=settings).repartition(3),  # three shards to merge
        tmp_path / "ray",
        format=fmt,
        split=split,
        project=seeded.project,
        settings=settings,
    )
    assert report.tasks == single.tasks == 6 and report.splits == single.splits
    one = json.loads((tmp_path / "single" / "manifest.json").read_text())
    many = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert many["tasks"] == one["tasks"] and many["source"] == one["source"] and many["settings"] == one["settings"]
    assert many["failures"] == one["failures"] == {}
    assert {name: c["tasks"] for name, c in many["conversions"].items()} == {
        name: c["tasks"] for name, c in one["conversions"].items()
    }
    files_one, files_many = _files(tmp_path / "single"), _files(tmp_path / "ray")
    assert set(files_many) == set(files_one)
    for relative in files_one:
        path = tmp_path / "ray" / relative
        assert path.stat().st_size == (tmp_path / "ray" / relative).stat().st_size
        if relative.endswith("metadata.jsonl"):  # the same rows, in the order the shards came
            lines = [sorted((tmp_path / out / relative).read_text().splitlines()) for out in ("single", "ray")]
            assert lines[0] == lines[1], relative
        elif fmt != "coco" or not relative.endswith(".json"):
            assert files_many[relative] == files_one[relative], relative
        else:  # COCO: the same images and boxes, ids numbered across shards
            coco_one = json.loads((tmp_path / "single" / relative).read_text())
            coco_many = json.loads(path.read_text())
            assert _boxes(coco_many) == _boxes(coco_one)
            for key in ("images", "annotations"):  # unique, numbered as one writer numbers them
                assert sorted(item["id"] for item in coco_many[key]) == sorted(item["id"] for item in coco_one[key])
            index = COCO(str(path))  # the consumer reads it: ids unique, every box on an image
            assert sorted(index.getImgIds()) == sorted(item["id"] for item in coco_one["images"])
    if fmt == "hf-imagefolder":  # the merged split folders load as datasets' splits, every row
        from tests.support.hf_datasets import load_folder

        loaded = load_folder("imagefolder", tmp_path / "ray", tmp_path / "hf-cache")
        assert sum(split.num_rows for split in loaded.values()) == single.conversions["all"].items_written == 5
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".ray")]  # no staging left


def test_fetch_with_engine_ray_from_the_command_line(cluster, seeded, tmp_path, monkeypatch):
    settings = seeded.settings(tmp_path)
    monkeypatch.setenv("LABEL_STUDIO_URL", settings.label_studio_url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", seeded.server.legacy_token)
    monkeypatch.setenv("ML_DATA_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "yolo"
    args = ["fetch", "--project", str(seeded.project), "--format", "yolo", "--out", str(out), "--engine", "ray"]
    result = CliRunner().invoke(main, [*args, "--ray-address", cluster.address])
    assert result.exit_code == 0, result.output
    assert "6 tasks" in result.output
    single = fetch_project(seeded.project, format="yolo", out=tmp_path / "single", settings=settings)
    assert single.tasks == 6
    assert _files(out) == _files(tmp_path / "single")


def _pids_connected_to(port: int) -> set[int]:
    """Processes holding a TCP connection to 127.0.0.1:``port`` (from /proc: socket inodes)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as handle:
            for line in list(handle)[1:]:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
            except OSError:
                continue
            if any(link == f"socket:[{inode}]" for inode in inodes for link in links):
                found.add(int(entry.name))
    return found


def test_a_worker_killed_mid_download_leaves_no_partial_file(cluster, tmp_path, settings):
    """The resolving actor is killed while a body is half sent; Ray restarts it and retries the
    batch. Nothing partial is in the cache or in the dataset, which matches a run without a kill."""
    from ml_data.cache import Cache
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    with FileServer() as files:
        bodies = {f"/img/{n}.png": png((n * 20, 90, 40), (16, 12)) for n in range(6)}
        for path, body in bodies.items():
            files.add(path, Route(body=body))
        slow = png((1, 2, 3), (400, 300))
        stalling = files.add("/img/slow.png", Route(body=slow, stall_after=(len(slow) // 2, 1.5)))
        tasks = [{"id": n, "data": {"image": files.url(f"/img/{n}.png")}} for n in range(6)]
        tasks.append({"id": 6, "data": {"image": files.url("/img/slow.png")}})
        for task in tasks:
            task["annotations"] = [{"id": task["id"], "result": []}]

        killed: list[int] = []

        def kill_when_half_sent() -> None:
            for _ in range(300):  # at most 30 s
                if files.gets("/img/slow.png"):
                    time.sleep(0.3)  # the first half is on its way to the cache's temp file
                    for pid in _pids_connected_to(files.port):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                    stalling.stall_after = None  # the retry gets the whole body at once
                    return
                time.sleep(0.1)

        killer = threading.Thread(target=kill_when_half_sent)
        killer.start()
        ds = read_tasks(tasks=tasks, config=CONFIG, settings=settings)
        report = write_dataset(
            resolve_resources(ds, concurrency=1, settings=settings),
            tmp_path / "out",
            format="json",
            config=CONFIG,
            source={"export": "tasks"},
            settings=settings,
        )
        killer.join()
    assert killed, "no worker was running the download"
    assert report.tasks == 7 and report.failures == {}
    files_written = _files(tmp_path / "out")
    placed = [relative for relative in files_written if relative.startswith("media/")]
    assert len(placed) == 7
    contents = {(tmp_path / "out" / relative).read_bytes() for relative in placed}
    assert contents == {*bodies.values(), slow}
    cache = Cache(settings.cache_dir)
    entries = cache.scan().entries
    assert len(entries) == 7 and cache.verify().corrupt == ()
    assert {entry.path.read_bytes() for entry in entries} == {*bodies.values(), slow}


def test_a_failed_resource_fails_the_dataset_or_leaves_its_task_out(cluster, tmp_path, settings):
    """on_error as in fetch: "fail" raises the typed error and writes nothing; "skip" writes the
    rest, the task marked excluded in the manifest."""
    from ml_data.errors import ResourcesFailed
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    with FileServer() as files:
        files.add("/img/ok.png", Route(body=png((9, 9, 9), (8, 8))))
        tasks = [
            {"id": 1, "data": {"image": files.url("/img/ok.png")}, "annotations": [{"id": 1, "result": []}]},
            {"id": 2, "data": {"image": files.url("/img/gone.png")}, "annotations": [{"id": 2, "result": []}]},
        ]
        resolved = resolve_resources(read_tasks(tasks=tasks, config=CONFIG, settings=settings), settings=settings)
        common = {"format": "json", "config": CONFIG, "source": {"export": "tasks"}, "settings": settings}
        with pytest.raises(ResourcesFailed, match="gone.png"):
            write_dataset(resolved, tmp_path / "failed", **common)
        assert not (tmp_path / "failed").exists()
        assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".failed")] == []
        options = DatasetOptions(format="json", on_error="skip")
        report = write_dataset(resolved, tmp_path / "skipped", options=options, **common)
    manifest = json.loads((tmp_path / "skipped" / "manifest.json").read_text())
    assert "excluded" in manifest["tasks"]["2"] and "excluded" not in manifest["tasks"]["1"]
    assert list(report.failures) == [files.url("/img/gone.png")]
    assert [task["id"] for task in json.loads((tmp_path / "skipped" / "result.json").read_text())] == [1]


def test_filters_on_ray_give_the_single_machine_dataset(cluster, seeded, tmp_path):
    """Label Studio's own filter (finished) through a snapshot read by the cluster, the rest
    (labels) judged by each write task: the same tasks, regions, counts and manifest."""
    from ml_data.pipeline import fetch
    from ml_data.ray import read_tasks, write_dataset

    settings = seeded.settings(tmp_path)
    options = DatasetOptions(format="yolo", finished="only", labels="cat", split="train=0.5,val=0.5")
    single = fetch(seeded.project, options, out=tmp_path / "single", settings=settings)
    many = fetch(
        seeded.project, options, engine="ray", address=cluster.address, out=tmp_path / "ray", settings=settings
    )
    cats = {task_id for task_id in sorted(seeded.originals)[:-1] if task_id % 2}
    assert many.tasks == single.tasks == len(cats)
    assert many.left_out == single.left_out == {"finished": 1, "labels": 5 - len(cats)}
    one = json.loads((tmp_path / "single" / "manifest.json").read_text())
    two = json.loads((tmp_path / "ray" / "manifest.json").read_text())
    assert two["tasks"] == one["tasks"] and two["settings"] == one["settings"] and two["source"] == one["source"]
    assert two["left_out"] == one["left_out"]
    assert _files(tmp_path / "ray") == _files(tmp_path / "single")
    assert not [p.name for p in tmp_path.iterdir() if ".export-" in p.name]  # the snapshot is removed

    # Object storage: no folder is known to be shared by this cluster's two nodes for the snapshot.
    with pytest.raises(ConfigurationError, match="shared folder"):
        fetch(seeded.project, options, engine="ray", address=cluster.address, out="s3://b/p", settings=settings)

    with pytest.raises(ConfigurationError, match="view"):
        write_dataset(
            read_tasks(project=seeded.project, settings=settings),
            tmp_path / "view",
            options=DatasetOptions(format="yolo", view=1),
            project=seeded.project,
            settings=settings,
        )
