"""What a fetch did: :class:`DatasetReport`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_data.converters.base import ConversionReport, why_nothing

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
    #: video task id -> frames and fps as decoded beside the config's frameRate and framesCount
    videos: dict[str, Any] = field(default_factory=dict)
    #: the dataset's folder as a URL when it was written to object storage (``out`` is local then)
    location: str | None = None
    #: each filter given -> the tasks it left out (the first filter a task failed counts it)
    left_out: dict[str, int] = field(default_factory=dict)
    #: label -> the regions (or label values) of other labels than ``labels`` taken out
    regions_dropped: dict[str, int] = field(default_factory=dict)

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST

    def filters(self) -> dict[str, Any]:
        """What the filters left out, as the manifest and ``as_dict`` show it (empty without filters)."""
        if not self.left_out:
            return {}
        return {"left_out": dict(self.left_out), "regions_dropped": dict(self.regions_dropped)}

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
            **({"videos": self.videos} if self.videos else {}),
            **({"location": self.location} if self.location else {}),
            **self.filters(),
            "manifest": str(self.manifest),
        }


#: The reason a task is left out of a dataset when one of its resources could not be resolved.
RESOURCE_FAILED = "a resource could not be resolved"


def why_empty_dataset(
    tasks: int,
    conversions: Iterable[Mapping[str, Any]],
    *,
    excluded: int = 0,
    failures: Mapping[str, str] | None = None,
    left_out: Mapping[str, int] | None = None,
) -> str | None:
    """Why a dataset with no item at all is a failure (None: it has items, or its tasks simply
    have nothing to export yet): :func:`~ml_data.converters.base.why_nothing` over every split's
    conversion (``as_dict()`` of each), with the ``excluded`` tasks whose resources failed.
    No task at all after filters that ``left_out`` some: the filters say so."""
    if tasks == 0 and left_out and any(left_out.values()):
        counts = ", ".join(f"{name} {count}" for name, count in left_out.items() if count)
        return f"the filters left out every task ({counts})"
    items = 0
    skipped: Counter[str] = Counter()
    for conversion in conversions:
        items += int(conversion.get("items_written") or 0)
        skipped.update(conversion.get("skipped") or {})
    if excluded:
        skipped[RESOURCE_FAILED] += excluded
    reason = why_nothing(tasks, items, skipped)
    if reason is not None and failures:
        url, message = next(iter(failures.items()))
        reason += f" (first failure: {url}: {message[:200]})"
    return reason


__all__ = ["MANIFEST", "RESOURCE_FAILED", "DatasetReport", "why_empty_dataset"]
