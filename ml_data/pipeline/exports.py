"""A project's tasks as its export arrives, without building a dataset: the resources they
reference (for the service's prefetch), or every task of one export (for Ray's reader)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_data.config import Settings
from ml_data.labelstudio import LabelStudioClient
from ml_data.pipeline.options import DatasetOptions
from ml_data.pipeline.tasks import TaskReader
from ml_data.tasks.label_config import parse_label_config
from ml_data.tasks.model import read_tasks


def project_resources(project_id: int, settings: Settings) -> Iterator[tuple[str, int | None]]:
    """(URL, task id) of every resource the project's tasks reference, as the export arrives."""
    client = LabelStudioClient(settings)
    project = client.project(project_id)
    config = parse_label_config(project.label_config) if project.label_config else None
    reader = TaskReader(config, DatasetOptions().convert_options())
    chunks = client.export_chunks(project_id)
    if chunks is None:
        for raw in whole_export(client, project_id):
            yield from reader.resources(raw)
        return
    for chunk in chunks:
        for raw in chunk:
            yield from reader.resources(raw)


def whole_export(client: LabelStudioClient, project_id: int) -> Iterator[Mapping[str, Any]]:
    """Every task of the project from one export, read streaming from a temporary file (removed
    when the iteration ends)."""
    with tempfile.TemporaryDirectory(prefix="ml-data-export-") as folder:
        export = client.export(project_id, Path(folder) / "export.json")
        yield from read_tasks(export).raw()


__all__ = ["project_resources", "whole_export"]
