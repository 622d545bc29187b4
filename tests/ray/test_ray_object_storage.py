"""write_dataset to object storage on Ray's two-node test cluster, against moto's S3 on loopback:
every object in the run's folder is the single-machine fetch's file (sha256), the manifest at the
prefix is written last and names the run, and a write that fails (or whose driver dies) before the
manifest leaves the previous dataset as it was, readable through its manifest.

Runs where the machine has no network but loopback, as tests/ray/test_ray.py explains.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
boto3 = pytest.importorskip("boto3")

from ml_data.errors import NotFound, OutputError, ResourcesFailed  # noqa: E402
from ml_data.object_store import read_dataset_manifest  # noqa: E402
from ml_data.pipeline import DatasetOptions, fetch_export  # noqa: E402
from ml_data.ray import objects  # noqa: E402
from tests.support.label_studio_project import CONFIG, png  # noqa: E402

pytestmark = pytest.mark.skipif(
    [name for _index, name in socket.if_nameindex()] != ["lo"],
    reason="Ray's cluster reaches for cloud metadata addresses; run where only loopback exists (scripts/test.sh)",
)

BROKEN = "data:image/png;base64,@@@"


@pytest.fixture
def bucket(s3_settings, s3_endpoint, request):
    name = "ds-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:12]
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return client, name


def _tasks(count: int, seed: int = 0) -> list[dict]:
    tasks = []
    for number in range(1, count + 1):
        body = png(((number * 37 + seed) % 256, 90, 40), (10 + number % 4, 8))
        tasks.append(
            {
                "id": number,
                "data": {"image": "data:image/png;base64," + base64.b64encode(body).decode()},
                "annotations": [
                    {
                        "id": number,
                        "result": [
                            {
                                "from_name": "label",
                                "to_name": "image",
                                "type": "rectanglelabels",
                                "original_width": 10 + number % 4,
                                "original_height": 8,
                                "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rectanglelabels": ["cat"]},
                            }
                        ],
                    }
                ],
            }
        )
    return tasks


def _write(tasks, url, settings, fmt="yolo", **options):
    from ml_data.ray import read_tasks, resolve_resources, write_dataset

    ds = resolve_resources(read_tasks(tasks=tasks, config=CONFIG, settings=settings), settings=settings)
    return write_dataset(
        ds.repartition(3),  # three shards: the last one holds the last tasks
        url,
        options=DatasetOptions(format=fmt, **options),
        config=CONFIG,
        source={"export": "tasks"},
        settings=settings,
    )


def _objects(client, bucket: str) -> dict[str, dict]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):  # pyarrow's folder markers
                found[item["Key"]] = item
    return found


def _sha256(client, bucket: str, key: str) -> str:
    return hashlib.sha256(client.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def _single(tmp_path: Path, tasks: list[dict], settings, fmt: str = "yolo") -> dict:
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks))
    fetch_export(export, format=fmt, out=tmp_path / "single", config=CONFIG, settings=settings)
    return json.loads((tmp_path / "single" / "manifest.json").read_text())


def test_write_dataset_to_s3_puts_the_single_machine_files_in_a_run_and_the_manifest_last(
    cluster, bucket, s3_settings, tmp_path
):
    client, name = bucket
    tasks = _tasks(12)
    single = _single(tmp_path, tasks, s3_settings)
    report = _write(tasks, f"s3://{name}/datasets/p3", s3_settings)
    assert report.tasks == 12 and report.location is not None
    found = _objects(client, name)
    top = json.loads(client.get_object(Bucket=name, Key="datasets/p3/manifest.json")["Body"].read())
    root = top["root"]
    assert root.startswith("runs/") and report.location == f"s3://{name}/datasets/p3/{root}"
    expected = {f"datasets/p3/{root}/{relative}" for relative in single["files"]}
    run_manifest = f"datasets/p3/{root}/manifest.json"
    assert set(found) == expected | {run_manifest, "datasets/p3/manifest.json"}  # no shard leftovers
    for relative, entry in single["files"].items():
        assert _sha256(client, name, f"datasets/p3/{root}/{relative}") == entry["sha256"], relative
    assert {relative: entry["sha256"] for relative, entry in top["files"].items()} == {
        relative: entry["sha256"] for relative, entry in single["files"].items()
    }
    assert top["tasks"] == single["tasks"] and top["settings"] == single["settings"]
    assert (
        client.get_object(Bucket=name, Key=run_manifest)["Body"].read()
        == client.get_object(Bucket=name, Key="datasets/p3/manifest.json")["Body"].read()
    )
    committed = found["datasets/p3/manifest.json"]["LastModified"]
    assert all(item["LastModified"] <= committed for item in found.values())
    manifest, folder = read_dataset_manifest(f"s3://{name}/datasets/p3", s3_settings)
    assert manifest == top and folder == report.location


def test_coco_shards_are_combined_in_the_bucket(cluster, bucket, s3_settings, tmp_path):
    """The annotations file differs in every shard: the driver combines the shards' versions and
    uploads the result over it."""
    from pycocotools.coco import COCO

    client, name = bucket
    report = _write(_tasks(9), f"s3://{name}/coco", s3_settings, fmt="coco")
    relative = "annotations/instances_default.json"
    key = report.location.split(f"{name}/", 1)[1] + "/" + relative
    body = client.get_object(Bucket=name, Key=key)["Body"].read()
    (tmp_path / "coco.json").write_bytes(body)
    index = COCO(str(tmp_path / "coco.json"))
    assert len(index.getImgIds()) == 9 and len(index.getAnnIds()) == 9
    manifest, _folder = read_dataset_manifest(f"s3://{name}/coco", s3_settings)
    assert manifest["files"][relative]["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_write_that_fails_or_dies_before_its_manifest_leaves_the_previous_dataset_readable(
    cluster, bucket, s3_settings, tmp_path, monkeypatch
):
    client, name = bucket
    url = f"s3://{name}/datasets/p3"
    with pytest.raises(NotFound, match="no complete dataset"):
        read_dataset_manifest(url, s3_settings)
    _write(_tasks(9), url, s3_settings)
    before = _objects(client, name)
    top_before = client.get_object(Bucket=name, Key="datasets/p3/manifest.json")["Body"].read()
    first_root = json.loads(top_before)["root"]

    broken = _tasks(9, seed=1)
    broken[-1]["data"]["image"] = BROKEN
    with pytest.raises(ResourcesFailed):
        _write(broken, url, s3_settings)
    assert _objects(client, name).keys() == before.keys()  # the failed run removed its files

    # The driver dies after every shard is uploaded, before the commit: nothing removes the run's
    # files, nothing points at them.
    def killed(self, manifest):
        self.upload(manifest, "manifest.json")
        raise RuntimeError("the driver died")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="the driver died"):
        patch.setattr(objects.RunFolder, "commit", killed)
        patch.setattr(objects.RunFolder, "remove", lambda self: None)
        _write(_tasks(9, seed=1), url, s3_settings)
    after = _objects(client, name)
    left = {key for key in after if key not in before}
    assert len(left) > 9 and all(key.startswith("datasets/p3/runs/") and first_root not in key for key in left)
    assert client.get_object(Bucket=name, Key="datasets/p3/manifest.json")["Body"].read() == top_before
    manifest, folder = read_dataset_manifest(url, s3_settings)
    assert folder == f"{url}/{first_root}"
    for relative, entry in manifest["files"].items():
        assert _sha256(client, name, f"datasets/p3/{first_root}/{relative}") == entry["sha256"], relative

    # The next write commits; runs a day old go, the one it replaces stays for its readers.
    monkeypatch.setattr(objects, "RUN_GRACE", objects.RUN_GRACE * 0)
    report = _write(_tasks(5, seed=2), url, s3_settings)
    runs = {key.split("/")[3] for key in _objects(client, name) if key.startswith("datasets/p3/runs/")}
    assert runs == {first_root.split("/")[1], report.location.rsplit("/", 1)[1]}


def test_a_prefix_holding_other_files_is_refused(cluster, bucket, s3_settings):
    client, name = bucket
    client.put_object(Bucket=name, Key="mine/notes.txt", Body=b"keep me")
    with pytest.raises(OutputError, match="notes.txt"):
        _write(_tasks(2), f"s3://{name}/mine", s3_settings)
    client.put_object(Bucket=name, Key="theirs/manifest.json", Body=b'{"a": 1}')
    with pytest.raises(OutputError, match="not the manifest of a dataset ml-data wrote"):
        _write(_tasks(2), f"s3://{name}/theirs", s3_settings)
    assert set(_objects(client, name)) == {"mine/notes.txt", "theirs/manifest.json"}


def test_the_filters_counts_reach_the_committed_manifest(cluster, bucket, s3_settings, tmp_path):
    """A filter judged by the write tasks: the tasks it left out, added up over the shards, in the
    manifest committed at the prefix (after ``conversions``) and in the report."""
    client, name = bucket
    report = _write(_tasks(12), f"s3://{name}/datasets/p3", s3_settings, ids="1-4,9")
    top = json.loads(client.get_object(Bucket=name, Key="datasets/p3/manifest.json")["Body"].read())
    assert sorted(top["tasks"], key=int) == ["1", "2", "3", "4", "9"]
    assert list(top)[-3:] == ["conversions", "left_out", "regions_dropped"]
    assert top["left_out"] == report.left_out == {"ids": 7}
    assert top["regions_dropped"] == report.regions_dropped == {}
