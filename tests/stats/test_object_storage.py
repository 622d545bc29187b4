"""`ml-data stats` given a dataset in object storage (moto's S3): it reads the prefix's manifest,
says there is no complete dataset when there is none, and otherwise names the folder to copy."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from ml_data.cli import main

pytest.importorskip("pyarrow")
boto3 = pytest.importorskip("boto3")


def test_stats_on_a_prefix_says_whether_a_complete_dataset_is_there(s3_settings):
    client = boto3.client("s3", endpoint_url=s3_settings.s3_endpoint_url)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="p3/runs/20261207T170000Z-0123abcd/labels/a.txt", Body=b"0 .5 .5 .1 .1\n")
    result = CliRunner().invoke(main, ["stats", f"s3://{bucket}/p3"])
    assert result.exit_code == 1 and "no complete dataset" in result.output, result.output
    manifest = {"manifest_version": 1, "root": "runs/20261207T170000Z-0123abcd", "tasks": {}, "files": {}}
    client.put_object(Bucket=bucket, Key="p3/manifest.json", Body=json.dumps(manifest).encode())
    result = CliRunner().invoke(main, ["stats", f"s3://{bucket}/p3"])
    assert result.exit_code == 1
    assert f"s3://{bucket}/p3/runs/20261207T170000Z-0123abcd" in result.output, result.output
