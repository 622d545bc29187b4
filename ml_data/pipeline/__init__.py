"""From a Label Studio project (or an export file) to a training-ready dataset folder.

The one orchestration in ml-data: tasks -> every referenced resource resolved in parallel (shared
cache) -> converted to the chosen format -> a dataset folder with the resources placed beside the
annotations (hard links where ml-data owns the file, copies otherwise) and a ``manifest.json``.

Re-running is incremental: the manifest records each task's fingerprint and every file's size and
sha256. An unchanged project rewrites nothing; otherwise only new or changed tasks have their
resources resolved (the others are taken from the previous dataset), and files whose content did
not change keep their inode. The new dataset is built beside the old one and swapped in only when
complete, so a failed run leaves the previous dataset intact.

Modules: :mod:`~ml_data.pipeline.tasks` (what the pipeline keeps of each task),
:mod:`~ml_data.pipeline.options` (the one options type), :mod:`~ml_data.pipeline.manifest`,
:mod:`~ml_data.pipeline.placing` (files into the dataset), :mod:`~ml_data.pipeline.prefetch`,
:mod:`~ml_data.pipeline.plan` (what a build works from, worked out once),
:mod:`~ml_data.pipeline.build`, :mod:`~ml_data.pipeline.fetch` (``fetch``, the one way through),
:mod:`~ml_data.pipeline.archive` (a dataset as a streamed zip), :mod:`~ml_data.pipeline.converting`
(``convert_export``: ``ml-data convert``, the media it needs resolved, video tasks as frames).
"""

from __future__ import annotations

from ml_data.pipeline.archive import snapshot_dataset, zip_stream
from ml_data.pipeline.build import build_dataset
from ml_data.pipeline.converting import convert_export
from ml_data.pipeline.exports import project_resources
from ml_data.pipeline.fetch import ENGINES, fetch, fetch_export, fetch_project
from ml_data.pipeline.manifest import MANIFEST_VERSION
from ml_data.pipeline.options import CHOICES, SERVICE_OPTIONS, DatasetOptions, options_schema, parse_split
from ml_data.pipeline.plan import Plan, prepare
from ml_data.pipeline.report import MANIFEST, DatasetReport
from ml_data.pipeline.tasks import TaskInfo, TaskReader

__all__ = [
    "CHOICES",
    "ENGINES",
    "MANIFEST",
    "MANIFEST_VERSION",
    "Plan",
    "SERVICE_OPTIONS",
    "DatasetOptions",
    "DatasetReport",
    "TaskInfo",
    "TaskReader",
    "build_dataset",
    "convert_export",
    "fetch",
    "fetch_export",
    "fetch_project",
    "options_schema",
    "parse_split",
    "prepare",
    "project_resources",
    "snapshot_dataset",
    "zip_stream",
]
