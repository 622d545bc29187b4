"""What an import of predictions did: :class:`ImportReport`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ml_data.backend.predictions.model import shown
from ml_data.errors import ConversionError

ERROR_POLICIES = ("fail", "skip")


@dataclass
class ImportReport:
    """Images read, predictions made and posted (or written by a dry run), and every item left out
    with its reason (``examples``: the first ones, by file)."""

    source: str
    format: str
    project: int
    model_version: str | None
    on_error: str = "fail"
    #: how images were matched to tasks: "manifest" or "file name"
    matched_by: str = ""
    #: where class ids were mapped to names from (a file, or the labeling config)
    classes_from: str | None = None
    items: int = 0
    predictions: int = 0
    regions: int = 0
    posted: int = 0
    #: predictions left out: their task already held one of the same version and result
    already_posted: int = 0
    #: the version's old predictions deleted first (``replace``)
    replaced: int = 0
    #: the file a dry run wrote (nothing is posted then)
    dry_run: str | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, source: str, reason: str) -> None:
        """An item that cannot be imported: the run stops (policy ``fail``, nothing posted yet
        unless posting itself was refused) or the item is left out and recorded (``skip``)."""
        if self.on_error == "fail":
            raise ConversionError(f"{shown(source, 200)}: {reason}") from None
        self.skipped[_kind(reason)] += 1
        if len(self.examples) < 50:
            self.examples.append((shown(source, 200), reason))

    def warn(self, message: str) -> None:
        if message not in self.warnings and len(self.warnings) < 100:
            self.warnings.append(message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "project": self.project,
            "model_version": self.model_version,
            "matched_by": self.matched_by,
            "classes_from": self.classes_from,
            "items": self.items,
            "predictions": self.predictions,
            "regions": self.regions,
            "posted": self.posted,
            "already_posted": self.already_posted,
            "replaced": self.replaced,
            "dry_run": self.dry_run,
            "skipped": dict(self.skipped),
            "examples": [{"item": item, "reason": reason} for item, reason in self.examples],
            "warnings": self.warnings,
        }


def _kind(reason: str) -> str:
    """A reason without the line number or the name in it, so like reasons count together."""
    text = reason.split(": ", 1)[1] if reason.startswith("line ") and ": " in reason else reason
    return text.split(" (", 1)[0][:120]
