"""The Label Studio task, beneath the converters and the pipeline: what both read of an export.

:mod:`~ml_data.tasks.model` (``Task`` / ``Annotation`` / ``Region``, read by :func:`read_tasks`),
:mod:`~ml_data.tasks.reader` (export files streamed into raw task dicts),
:mod:`~ml_data.tasks.label_config` (the labeling config), :mod:`~ml_data.tasks.resources` (which
files a task references, and its data with them replaced: one walk), :mod:`~ml_data.tasks.identity`
(a task's fingerprint and split). Pure reading: nothing here resolves, downloads or converts.
"""

from __future__ import annotations

from ml_data.tasks.identity import split_of, task_fingerprint, task_id_value
from ml_data.tasks.label_config import LabelConfig, parse_label_config
from ml_data.tasks.model import Annotation, Region, Task, read_tasks, task_from_dict
from ml_data.tasks.resources import (
    find_resources,
    looks_like_resource,
    object_items,
    resource_keys,
    rewrite_resources,
    task_resources,
    walk,
)

__all__ = [
    "Annotation",
    "LabelConfig",
    "Region",
    "Task",
    "find_resources",
    "looks_like_resource",
    "object_items",
    "parse_label_config",
    "read_tasks",
    "resource_keys",
    "rewrite_resources",
    "split_of",
    "task_fingerprint",
    "task_from_dict",
    "task_id_value",
    "task_resources",
    "walk",
]
