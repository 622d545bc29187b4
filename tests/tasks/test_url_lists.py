"""A URL list is an export (its values as the resource walk sees them) or one URL per line."""

from __future__ import annotations

import json

import pytest

from ml_data.errors import MlDataError
from ml_data.tasks.url_lists import export_values, is_export, url_lines


def test_an_export_yields_every_value_with_its_task_and_key(tmp_path):
    export = tmp_path / "export.json"
    tasks = [{"id": 7, "data": {"image": "s3://bucket/a.jpg", "text": "hello"}}, {"id": 8}, {"data": []}]
    export.write_text(json.dumps(tasks))
    assert is_export(export)
    values = list(export_values(export))
    assert ("s3://bucket/a.jpg", 7, "image", True) in values
    assert ("hello", 7, "text", False) in values
    assert ("task #2 has no data object", 8, None, False) in values
    assert ("task #3 has no data object", None, None, False) in values


def test_a_text_file_is_one_url_per_line_without_blanks_or_comments(tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text("# the images\nhttps://example.com/a.jpg\n\n  /data/upload/1/b.png  \n")
    assert not is_export(listing)
    assert url_lines(listing) == ["https://example.com/a.jpg", "/data/upload/1/b.png"]


def test_a_broken_export_raises_while_read(tmp_path):
    export = tmp_path / "export.json"
    export.write_text('[{"id": 1, "data": {"image": "s3://b/a.jpg"}}, {"id": ')
    with pytest.raises((OSError, MlDataError)):
        list(export_values(export))
