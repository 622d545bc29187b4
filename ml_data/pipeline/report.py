"""What a fetch did: :class:`DatasetReport`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_data.converters.base import ConversionReport

#: The dataset's own description, beside the files it lists.
MANIFEST = "manifest.json"


@dataclass
class DatasetReport:
    """What a fetch did."""

    out: Path
    format: str
    source: dict[str, Any]
    tasks: int = 0
    #: tasks new or changed since the previous dataset (all of them on a first run)
    tasks_changed: int = 0
    tasks_removed: int = 0
    #: nothing was rewritten: the dataset was already up to date
    unchanged: bool = False
    resources: int = 0
    resources_resolved: int = 0
    resources_reused: int = 0
    files_linked: int = 0
    files_copied: int = 0
    #: files whose content did not change and that were kept as they were
    files_kept: int = 0
    bytes_total: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    conversions: dict[str, ConversionReport] = field(default_factory=dict)

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST

    def as_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "format": self.format,
            "source": self.source,
            "tasks": self.tasks,
            "tasks_changed": self.tasks_changed,
            "tasks_removed": self.tasks_removed,
            "unchanged": self.unchanged,
            "resources": self.resources,
            "resources_resolved": self.resources_resolved,
            "resources_reused": self.resources_reused,
            "files_linked": self.files_linked,
            "files_copied": self.files_copied,
            "files_kept": self.files_kept,
            "bytes_total": self.bytes_total,
            "failures": self.failures,
            "splits": self.splits,
            "conversions": {name: report.as_dict() for name, report in self.conversions.items()},
            "manifest": str(self.manifest),
        }


__all__ = ["MANIFEST", "DatasetReport"]
