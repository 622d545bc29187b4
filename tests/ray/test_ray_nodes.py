"""ml_data.ray on two nodes that cannot see each other's cache: each node's processes run in a
mount namespace of their own with a private tmpfs at the cache path (``ray start`` inside
``unshare --mount``). The work is spread over both nodes, each downloads into its own cache, the
write tasks get the files resolved elsewhere through Ray's object store, and the dataset equals
single-machine ``fetch``, file names included where many tasks' images share a name.

Like tests/ray/test_ray.py, these run only where the machine has no network but loopback.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray")

from ml_data.cache import Cache  # noqa: E402
from ml_data.config import Settings  # noqa: E402
from ml_data.pipeline import fetch_export  # noqa: E402
from tests.support.label_studio_project import CONFIG, png  # noqa: E402
from tests.support.servers.http_files import FileServer, Route  # noqa: E402
from tests.support.servers.processes import free_port  # noqa: E402

pytestmark = [
    pytest.mark.skipif(
        [name for _index, name in socket.if_nameindex()] != ["lo"],
        reason="Ray's cluster reaches for cloud metadata addresses; run where only loopback exists (scripts/test.sh)",
    ),
    pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare --mount (root)"),
]

NODE_ARGS = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", str(150 * 1024 * 1024)]


class IsolatedCluster:
    """Two Ray nodes, each in a mount namespace of its own with a tmpfs at ``cache``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.cache = base / "cache"
        self.cache.mkdir()
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen[bytes]] = []

    def start_node(self, *args: str) -> None:
        ray_command = [str(Path(sys.executable).parent / "ray"), "start", "--block", *NODE_ARGS, *args]
        inner = f"mount -t tmpfs tmpfs {self.cache} && exec {' '.join(ray_command)}"
        log = open(self.base / f"node{len(self.processes)}.log", "wb")
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        self.processes.append(
            subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", inner],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        )

    def wait_for_nodes(self, count: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while len([node for node in ray.nodes() if node["Alive"]]) < count:
            if time.monotonic() > deadline or any(process.poll() is not None for process in self.processes):
                raise RuntimeError(f"the cluster did not start: see {self.base}/node*.log")
            time.sleep(0.5)

    def wait_for_head(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.processes[0].poll() is not None:
                    raise RuntimeError(f"the head node did not start: see {self.base}/node0.log") from None
                time.sleep(0.2)

    def stop(self) -> None:
        for process in reversed(self.processes):  # `ray start --block` stops its processes on SIGTERM
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()

    def node_ids(self) -> list[str]:
        return sorted(node["NodeID"] for node in ray.nodes() if node["Alive"])

    def cache_entries(self, settings: Settings) -> dict[str, int]:
        """Entries in each node's own cache (read on that node, the only place they are seen)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        counts = {}
        for node in self.node_ids():
            strategy = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            counts[node] = ray.get(_cache_entries.options(scheduling_strategy=strategy).remote(str(settings.cache_dir)))
        return counts


@ray.remote(num_cpus=0)
def _cache_entries(cache_dir: str) -> int:
    return len(Cache(Path(cache_dir)).scan().entries) if Path(cache_dir).exists() else 0


@pytest.fixture(scope="module")
def isolated() -> Iterator[IsolatedCluster]:
    if ray.is_initialized():
        ray.shutdown()
    # Short: Ray's socket paths live under its temporary folder.
    base = Path(tempfile.mkdtemp(prefix="mlr", dir="/tmp"))
    cluster = IsolatedCluster(base)
    try:
        cluster.start_node(
            "--head", "--port", str(cluster.port), "--include-dashboard", "false", "--temp-dir", str(base / "t")
        )
        cluster.wait_for_head()
        cluster.start_node("--address", cluster.address)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes(2)
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


def _settings(cluster: IsolatedCluster) -> Settings:
    """Every node's cache at the same path, each its own tmpfs (the driver sees an empty folder)."""
    return Settings(cache_dir=cluster.cache)


def _task(task_id: int, url: str, label: str) -> dict[str, Any]:
    box = {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0, "rectanglelabels": [label]}
    region = {"id": f"r{task_id}", "from_name": "label", "to_name": "image", "type": "rectanglelabels"}
    region.update(original_width=32, original_height=24, value=box)
    return {"id": task_id, "data": {"image": url}, "annotations": [{"id": task_id, "result": [region]}]}


def _files(out: Path) -> dict[str, str]:
    manifest = json.loads((out / "manifest.json").read_text())
    return {relative: entry["sha256"] for relative, entry in manifest["files"].items()}


def _coco_images(path: Path) -> dict[str, tuple]:
    """COCO's images by file name, with their boxes and classes (ids are renumbered by a merge)."""
    coco = json.loads(path.read_text())
    names = {category["id"]: category["name"] for category in coco["categories"]}
    boxes: dict[int, list] = {}
    for annotation in coco["annotations"]:
        boxes.setdefault(annotation["image_id"], []).append((names[annotation["category_id"]], annotation["bbox"]))
    return {image["file_name"]: tuple(sorted(boxes.get(image["id"], []))) for image in coco["images"]}


def _same_dataset(ray_out: Path, single_out: Path, fmt: str) -> None:
    one = json.loads((single_out / "manifest.json").read_text())
    many = json.loads((ray_out / "manifest.json").read_text())
    for key in ("tasks", "source", "settings", "failures"):
        assert many[key] == one[key], key
    files_one, files_many = _files(single_out), _files(ray_out)
    assert set(files_many) == set(files_one)
    for relative, sha256 in files_one.items():
        if fmt == "coco" and relative.endswith(".json"):
            assert _coco_images(ray_out / relative) == _coco_images(single_out / relative)
        elif fmt == "json" and relative == "result.json":
            # The shards' lists one after the other; each task's data points at its media files.
            # (A row adds the keys Label Studio leaves out, "predictions": [] ...: compared apart.)
            by_id = [
                {task["id"]: (task["data"], task["annotations"]) for task in json.loads((out / relative).read_text())}
                for out in (ray_out, single_out)
            ]
            assert by_id[0] == by_id[1]
        else:
            assert files_many[relative] == sha256, relative
            assert (ray_out / relative).read_bytes() == (single_out / relative).read_bytes()
    for relative, entry in one["files"].items():  # the same task's file at the same name
        assert {key: many["files"][relative].get(key) for key in ("source", "task")} == {
            key: entry.get(key) for key in ("source", "task")
        }


@pytest.mark.parametrize("fmt", ["yolo", "coco"])
def test_node_local_caches_make_the_same_dataset_as_one_machine(isolated, tmp_path, fmt):
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    settings = _settings(isolated)
    with FileServer() as files:
        tasks = []
        for n in range(40):
            files.add(f"/img/{fmt}/{n}.png", Route(body=png((n * 6, 80, 200 - n), (32, 24)), stall_before=0.3))
            tasks.append(_task(n + 1, files.url(f"/img/{fmt}/{n}.png"), "cat" if n % 3 else "dog"))
        before = isolated.cache_entries(settings)
        ds = read_tasks(tasks=tasks, config=CONFIG, settings=settings, override_num_blocks=10)
        resolved = resolve_resources(ds, concurrency=2, threads=2, batch_size=2, settings=settings)
        report = write_dataset(
            resolved.repartition(3),
            tmp_path / "ray",
            format=fmt,
            config=CONFIG,
            source={"export": "export.json"},
            settings=settings,
        )
        # Each file downloaded once, by one node: the write tasks got the others' files sent over.
        assert {files.gets(f"/img/{fmt}/{n}.png") for n in range(40)} == {1}
        per_node = {node: count - before.get(node, 0) for node, count in isolated.cache_entries(settings).items()}
        assert sum(per_node.values()) == 40
        # Both nodes did their share. Ray Data hands each batch to whichever actor is free, so a node
        # slowed by the machine's other work takes fewer: a quarter is asked (28 to 12 was seen once
        # with 0.1 s answers on a loaded machine; the answers now wait 0.3 s, as an object store's
        # first byte does, so the downloads, not the CPU, set the pace).
        assert min(per_node.values()) >= 40 / 4, per_node
        export = tmp_path / "export.json"
        export.write_text(json.dumps(tasks))
        single_settings = Settings(cache_dir=tmp_path / "single-cache")
        fetch_export(export, format=fmt, out=tmp_path / "single", config=CONFIG, settings=single_settings)
    assert report.tasks == 40 and report.failures == {}
    _same_dataset(tmp_path / "ray", tmp_path / "single", fmt)
    assert not list(isolated.cache.iterdir())  # the driver never saw a node's cache


def test_resolving_actors_are_spread_over_the_nodes(isolated):
    from ml_data.ray import read_tasks, resolve_resources

    settings = _settings(isolated)
    with FileServer() as files:
        for n in range(16):
            files.add(f"/spread/{n}.png", Route(body=png((n, n, n), (8, 8)), stall_before=0.05))
        tasks = [{"id": n, "data": {"image": files.url(f"/spread/{n}.png")}} for n in range(16)]
        ds = read_tasks(tasks=tasks, config=CONFIG, settings=settings, override_num_blocks=8)
        rows = resolve_resources(ds, concurrency=2, batch_size=2, settings=settings).take_all()
    assert {row["node"] for row in rows} == set(isolated.node_ids())


def test_file_names_shared_by_many_tasks_are_the_same_on_a_cluster_and_on_one_machine(isolated, tmp_path):
    """a.jpg in 50 folders, tasks in a random order cut into 7 shards: the lowest task id keeps
    ``a.jpg``, the others are ``a__task<id>.jpg``, as on one machine."""
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    settings = _settings(isolated)
    ids = random.Random(7).sample(range(1, 10_000), 60)
    with FileServer() as files:
        tasks = []
        for number, task_id in enumerate(ids):
            path = f"/folder{number}/a.jpg" if number < 50 else f"/other/b{number}.jpg"
            files.add(path, Route(body=png((number * 4, 10, 99), (32, 24))))
            tasks.append(_task(task_id, files.url(path), "cat" if number % 2 else "dog"))
        export = tmp_path / "export.json"
        export.write_text(json.dumps(tasks))
        single_settings = Settings(cache_dir=tmp_path / "single-cache")
        for fmt in ("yolo", "coco", "json"):
            ds = read_tasks(tasks=tasks, config=CONFIG, settings=settings, override_num_blocks=5)
            write_dataset(
                resolve_resources(ds, concurrency=2, settings=settings).repartition(7),  # seven shards to merge
                tmp_path / f"ray-{fmt}",
                format=fmt,
                config=CONFIG,
                source={"export": "export.json"},
                settings=settings,
            )
            fetch_export(export, format=fmt, out=tmp_path / f"single-{fmt}", config=CONFIG, settings=single_settings)
            _same_dataset(tmp_path / f"ray-{fmt}", tmp_path / f"single-{fmt}", fmt)
    lowest = min(ids[:50])
    images = {Path(name).name for name in _files(tmp_path / "ray-yolo") if name.startswith("images/")}
    assert "a.jpg" in images and len([name for name in images if name.startswith("a")]) == 50
    assert {f"a__task{task_id}.jpg" for task_id in ids[:50] if task_id != lowest} <= images
    manifest = json.loads((tmp_path / "ray-yolo" / "manifest.json").read_text())
    assert manifest["files"]["images/a.jpg"]["task"] == lowest


def test_a_file_whose_node_is_gone_is_resolved_again_by_the_write(isolated, tmp_path):
    """Rows that name a node no longer in the cluster: their files are resolved again by the
    write task, never left out of the dataset."""
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    settings = _settings(isolated)
    with FileServer() as files:
        bodies = {f"/gone/{n}.png": png((n, 2, 3), (32, 24)) for n in range(4)}
        for path, body in bodies.items():
            files.add(path, Route(body=body))
        tasks = [_task(n + 1, files.url(f"/gone/{n}.png"), "cat") for n in range(4)]
        resolved = resolve_resources(read_tasks(tasks=tasks, config=CONFIG, settings=settings), settings=settings)

        nowhere = str(isolated.cache / "nowhere")

        def elsewhere(row: dict[str, Any]) -> dict[str, Any]:
            return {**row, "node": "ab" * 28, "paths": [f"{nowhere}/{row['id']}.png"]}

        write_dataset(
            resolved.map(elsewhere),
            tmp_path / "out",
            format="yolo",
            config=CONFIG,
            source={"export": "export.json"},
            settings=settings,
        )
        assert {files.gets(path) for path in bodies} == {2}  # resolved, then resolved again by the write
    placed = {path.read_bytes() for path in (tmp_path / "out" / "images").iterdir()}
    assert placed == set(bodies.values())


def test_pages_sharing_names_are_named_as_on_one_machine_whatever_the_shards(isolated, tmp_path):
    """Documents whose pages share names (``page.png`` in two folders of each, in every document),
    in a random order cut into 5 shards: the lowest task id keeps a name, within it the lowest
    page; a renamed page is ``<name>__task<id>__p<page>``, as on one machine."""
    from ml_data.ray import read_tasks, resolve_resources, write_dataset
    from tests.support.multi_item import REPEATER_CONFIG, page_results
    from tests.support.multi_item import png as page_png

    settings = _settings(isolated)
    ids = random.Random(11).sample(range(1, 1000), 8)
    with FileServer() as files:
        tasks = []
        for number, task_id in enumerate(ids):
            paths = [f"/d{number}/a/page.png", f"/d{number}/b/page.png", f"/d{number}/c.png"]
            for page, path in enumerate(paths):
                files.add(path, Route(body=page_png(number * 3 + page)))
            pages = [{"url": files.url(path)} for path in paths]
            tasks.append({"id": task_id, "data": {"pages": pages}, "annotations": [{"result": page_results(task_id)}]})
        export = tmp_path / "export.json"
        export.write_text(json.dumps(tasks))
        single_settings = Settings(cache_dir=tmp_path / "single-cache")
        for fmt in ("yolo", "json"):
            ds = read_tasks(tasks=tasks, config=REPEATER_CONFIG, settings=settings, override_num_blocks=4)
            write_dataset(
                resolve_resources(ds, concurrency=2, settings=settings).repartition(5),
                tmp_path / f"ray-{fmt}",
                format=fmt,
                config=REPEATER_CONFIG,
                source={"export": "export.json"},
                settings=settings,
            )
            fetch_export(
                export, format=fmt, out=tmp_path / f"single-{fmt}", config=REPEATER_CONFIG, settings=single_settings
            )
            _same_dataset(tmp_path / f"ray-{fmt}", tmp_path / f"single-{fmt}", fmt)
    lowest = min(ids)
    manifest = json.loads((tmp_path / "ray-yolo" / "manifest.json").read_text())
    named = {name: (entry["task"], entry["item"]) for name, entry in manifest["files"].items() if "task" in entry}
    assert named["images/page.png"] == (lowest, 0) and named["images/c.png"] == (lowest, 2)
    assert named[f"images/page__task{lowest}__p1.png"] == (lowest, 1)
    for task_id in ids:
        if task_id != lowest:
            for page, stem in ((0, "page"), (1, "page"), (2, "c")):
                assert named[f"images/{stem}__task{task_id}__p{page}.png"] == (task_id, page)
