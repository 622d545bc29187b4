"""What identifies a task across runs: its fingerprint (what of it decides its part of a dataset)
and its split (a hash of its id), both read from the raw task without any I/O."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from ml_data.jsonio import dumps


def task_fingerprint(raw: Mapping[str, Any]) -> str:
    """What of a task decides its part of a dataset: its data and meta, its annotations (results,
    state, author), and which predictions it has. The rest (counters, drafts, the export's own
    choices, such as users by id or whole) is left out, so a snapshot and a direct export of the
    same task agree. Predictions count by id, or whole where the export has them whole (it has
    them so only when they are exported).

    >>> task_fingerprint({"id": 1, "data": {}}) == task_fingerprint({"id": 1, "data": {}, "inner_id": 9})
    True
    """

    def ident(value: Any) -> Any:
        return value.get("id") if isinstance(value, Mapping) else value

    annotations = [
        {
            key: ident(item.get(key)) if key == "completed_by" else item.get(key)
            for key in ("id", "result", "updated_at", "was_cancelled", "ground_truth", "completed_by")
        }
        for item in raw.get("annotations") or ()
        if isinstance(item, Mapping)
    ]
    view = {
        "id": raw.get("id"),
        "data": raw.get("data"),
        "meta": raw.get("meta") or None,
        "annotations": annotations,
        "predictions": sorted(
            (
                dumps([item.get("id"), item.get("updated_at"), item.get("result")]).decode()
                if isinstance(item, Mapping)
                else str(item)
            )
            for item in raw.get("predictions") or ()
        ),
    }
    return hashlib.sha256(dumps(view, sort_keys=True)).hexdigest()[:32]


def split_of(task_id: Any, split: Mapping[str, float]) -> str:
    """The split a task belongs to: a hash of its id, so the same task always lands in the same
    split whatever else the project holds.

    >>> split_of(7, {"train": 0.8, "val": 0.2}) == split_of(7, {"train": 0.8, "val": 0.2})
    True
    """
    digest = hashlib.sha256(f"ml-data-split:{task_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = 0.0
    names = list(split)
    for name in names:
        total += split[name]
        if point < total:
            return name
    return names[-1]


def task_id_value(task_id: str) -> int | None:
    """A task id key (manifest keys are strings) as Label Studio's integer, when it is one."""
    return int(task_id) if task_id.isdigit() else None


__all__ = ["split_of", "task_fingerprint", "task_id_value"]
