"""The writer's object storage side on every cloud's emulator (moto's S3, fake-gcs-server, Azurite),
without a cluster: two shards built by the single-machine build, uploaded as write tasks upload
them, merged and committed by the sink's commit; the dataset read back through its manifest, its
files those of the shards (the COCO file the shards wrote differently combined)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path

import pytest

pytest.importorskip("ray")

from ray.data.datasource import WriteResult  # noqa: E402

from ml_data.config import cloud_environment  # noqa: E402
from ml_data.errors import ConfigurationError, NotFound, OutputError  # noqa: E402
from ml_data.object_store import filesystem, parse_prefix, read_dataset_manifest  # noqa: E402
from ml_data.pipeline.build import build_dataset  # noqa: E402
from ml_data.pipeline.options import DatasetOptions  # noqa: E402
from ml_data.ray.parts import write_parts  # noqa: E402
from ml_data.ray.write import DatasetSink  # noqa: E402
from tests.support.label_studio_project import CONFIG, png  # noqa: E402


def _s3(request, monkeypatch, settings):
    import boto3

    s3_settings = request.getfixturevalue("s3_settings")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/datasets/p3", s3_settings


def _gcs(request, monkeypatch, settings):
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", request.getfixturevalue("gcs_endpoint"))
    client = storage.Client()
    assert client._connection.API_BASE_URL.startswith("http://127.0.0.1:")
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(bucket)
    return f"gs://{bucket}/datasets/p3", settings.with_changes(cloud_env=cloud_environment())


def _azure(request, monkeypatch, settings):
    from azure.storage.blob import BlobServiceClient

    connection_string = request.getfixturevalue("azurite_connection_string")
    assert "127.0.0.1" in connection_string
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string)
    container = f"c-{uuid.uuid4().hex[:12]}"
    BlobServiceClient.from_connection_string(connection_string).create_container(container)
    return f"az://{container}/datasets/p3", settings.with_changes(cloud_env=cloud_environment())


@pytest.fixture(params=["s3", "gcs", "azure"])
def destination(request, monkeypatch, settings):
    return {"s3": _s3, "gcs": _gcs, "azure": _azure}[request.param](request, monkeypatch, settings)


def _task(number: int) -> dict:
    body = png((number * 40 % 256, 10, 200), (8 + number, 6))
    region = {"from_name": "label", "to_name": "image", "type": "rectanglelabels"}
    region.update(original_width=8 + number, original_height=6)
    region["value"] = {"x": 5, "y": 5, "width": 50, "height": 50, "rectanglelabels": ["dog"]}
    return {
        "id": number,
        "data": {"image": "data:image/png;base64," + base64.b64encode(body).decode()},
        "annotations": [{"id": number, "result": [region]}],
    }


def _commit(url: str, settings, tmp_path: Path, tasks: list[list[dict]]) -> DatasetSink:
    """What write_dataset does, its write tasks run here one after the other."""
    options = DatasetOptions(format="coco")
    sink = DatasetSink(url, config=CONFIG, options=options, source={"export": "e"}, settings=settings)
    sink.on_write_start()
    assert sink.run is not None
    tmp_path.mkdir()
    names = []
    for number, chosen in enumerate(tasks):
        export = tmp_path / f"export-{number}.json"
        export.write_text(json.dumps(chosen))
        shard = tmp_path / f"shard-{number}"
        build_dataset(export, shard, config=CONFIG, settings=settings, options=options, source={"export": "e"})
        write_parts(shard, tmp_path / f"shard-{number}.parts")
        sink.run.upload_shard(f"shard-{number}", shard, tmp_path / f"shard-{number}.parts")
        names.append(f"shard-{number}")
    sink.on_write_complete(WriteResult(num_rows=0, size_bytes=0, write_returns=[{"shard": name} for name in names]))
    return sink


def test_a_dataset_committed_to_each_cloud_reads_back_through_its_manifest(destination, settings, tmp_path):
    url, cloud_settings = destination
    with pytest.raises(NotFound, match="no complete dataset"):
        read_dataset_manifest(url, cloud_settings)
    sink = _commit(url, cloud_settings, tmp_path / "one", [[_task(1), _task(2)], [_task(3)]])
    assert sink.report is not None and sink.report.tasks == 3
    manifest, folder = read_dataset_manifest(url, cloud_settings)
    assert folder == sink.report.location and set(manifest["tasks"]) == {"1", "2", "3"}
    prefix = parse_prefix(url)
    fs = filesystem(prefix, cloud_settings)
    run = folder.split("/", 3)[3]  # the run's folder, under the bucket
    bucket = prefix.bucket
    for relative, entry in manifest["files"].items():
        with fs.open_input_stream(f"{bucket}/{run}/{relative}") as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == entry["sha256"], relative
    with fs.open_input_stream(f"{bucket}/{run}/annotations/instances_default.json") as stream:
        coco = json.loads(stream.read())
    assert len(coco["images"]) == 3 and len({image["id"] for image in coco["images"]}) == 3
    with fs.open_input_stream(f"{bucket}/{run}/manifest.json") as stream:
        assert json.loads(stream.read()) == manifest

    # A second write replaces it; the first run stays for whoever read its manifest just before.
    second = _commit(url, cloud_settings, tmp_path / "two", [[_task(4)], [_task(5)]])
    manifest, folder = read_dataset_manifest(url, cloud_settings)
    assert folder == second.report.location != sink.report.location and set(manifest["tasks"]) == {"4", "5"}
    with fs.open_input_stream(f"{bucket}/{run}/manifest.json") as stream:
        assert set(json.loads(stream.read())["tasks"]) == {"1", "2", "3"}


@pytest.mark.parametrize(
    "url", ["s3://bucket", "s3://bucket/", "gs://bucket/a/../b", "az://container/a//b", "s3://bucket/a?x=1"]
)
def test_an_unusable_prefix_is_refused(url):
    with pytest.raises(ConfigurationError):
        parse_prefix(url)


def test_local_paths_are_no_prefix():
    assert parse_prefix("/data/yolo") is None and parse_prefix("data/s3://x") is None
    assert parse_prefix("file:///data/yolo") is None
    assert parse_prefix("AZ://c/d/e").url == "az://c/d/e"


def test_a_bucket_that_does_not_exist_is_an_error_naming_it(s3_settings):
    sink = DatasetSink(
        "s3://no-such-bucket-here/p3",
        config=CONFIG,
        options=DatasetOptions(format="coco"),
        source={"export": "e"},
        settings=s3_settings,
    )
    with pytest.raises(OutputError, match="s3://no-such-bucket-here/p3"):
        sink.on_write_start()
