"""A storage object through the real Label Studio's ``/tasks/<id>/resolve/``, the oracle for the
link ml-data builds for any storage URI (``b2://`` has no storage in Label Studio 1.23.2: an S3
storage on the suite's moto server stands in, and a ``b2://`` URI shows what Label Studio answers for
a storage the project does not have)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ml_data import RemoteNotFound, Resolver
from ml_data.doctor import run_checks
from ml_data.labelstudio import http_client
from ml_data.urls import HttpURL
from tests.label_studio_project import CONFIG, Seeded, png

pytestmark = pytest.mark.label_studio

BUCKET = "ls-storage"
URI = f"s3://{BUCKET}/images/cat 1.png"
BODY = png((10, 20, 30), (16, 12))


@dataclass(frozen=True)
class StorageProject:
    project: int
    task_id: int
    #: the task's image as Label Studio's API gives it to its frontend (resolve_uri on)
    link: str


@pytest.fixture(scope="module")
def s3_project(seeded: Seeded, s3_endpoint: str) -> StorageProject:
    """A project with an S3 import storage on moto (presigned links) and one task naming its object."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="images/cat 1.png", Body=BODY)
    project = seeded.api("POST", "/api/projects/", json={"title": "s3 storage", "label_config": CONFIG}).json()["id"]
    seeded.api(
        "POST",
        "/api/storages/s3/",
        json={
            "project": project,
            "title": "moto",
            "bucket": BUCKET,
            "prefix": "images",
            "s3_endpoint": s3_endpoint,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "region_name": "us-east-1",
            "presign": True,
            "presign_ttl": 1,
            "use_blob_urls": True,
        },
    )
    seeded.api("POST", f"/api/projects/{project}/import", json=[{"image": URI}])
    (task,) = seeded.api("GET", "/api/tasks", params={"project": project}).json()["tasks"]
    return StorageProject(project, task["id"], task["data"]["image"])


def recording_resolver(seeded: Seeded, tmp_path: Path) -> tuple[Resolver, list[tuple[str, bool]]]:
    """A resolver whose HTTP client notes each URL it connects to and whether the token applies there."""
    settings = seeded.settings(tmp_path)
    hops: list[tuple[str, bool]] = []

    def note(target: HttpURL, addresses: tuple[str, ...] | None) -> None:
        assert client.credentials is not None
        hops.append((str(target), client.credentials.applies_to(target)))

    client = http_client(settings, url_guard=note)
    return Resolver(settings, http=client), hops


def test_a_raw_storage_uri_goes_through_the_link_label_studio_gives_its_frontend(
    seeded, s3_project, s3_endpoint, tmp_path
):
    """No cloud credentials here: the URI and its task id make Label Studio's own resolve link,
    which redirects to a presigned URL on the storage's endpoint, asked without the token."""
    resolver, hops = recording_resolver(seeded, tmp_path)
    local = resolver.resolve(URI, task_id=s3_project.task_id)
    assert local.path.read_bytes() == BODY and local.kind == "s3"
    (to_label_studio, with_token), (to_storage, storage_token) = hops
    assert to_label_studio == s3_project.link and with_token
    assert to_storage.startswith(f"{s3_endpoint}/") and "X-Amz-Signature=" in to_storage and not storage_token
    # Label Studio's link itself is the same object: a cache hit, no request.
    assert resolver.resolve(s3_project.link).path == local.path and len(hops) == 2
    assert resolver.cache.get(URI).path == local.path


def test_label_studio_finds_no_storage_for_another_scheme(seeded, s3_project, tmp_path):
    """Label Studio resolves only the storages of the task's project, by scheme and bucket."""
    resolver, hops = recording_resolver(seeded, tmp_path)
    uri = f"b2://{BUCKET}/images/cat 1.png"
    with pytest.raises(RemoteNotFound) as info:
        resolver.resolve(uri, task_id=s3_project.task_id)
    assert f"Label Studio could not resolve {uri}" in str(info.value) and info.value.task_id == s3_project.task_id
    assert [with_token for _url, with_token in hops] == [True]  # Label Studio only
    assert resolver.cache.get(uri) is None


def test_doctor_names_the_storage_of_the_sample_task_and_reads_it(seeded, s3_project, tmp_path):
    checks = run_checks(seeded.settings(tmp_path), project=s3_project.project)
    (storage,) = [check for check in checks if check.name == "storage"]
    assert (storage.status, storage.message) == (
        "ok",
        f"s3://{BUCKET} (1 file of task {s3_project.task_id}): readable through Label Studio's resolve endpoint",
    )
