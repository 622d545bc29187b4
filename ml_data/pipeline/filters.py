"""A fetch's filters put to work: what Label Studio is asked to leave out itself (the snapshot
export's ``task_filter_options``: a Data Manager tab, finished tasks), what is judged as each task
is read (:class:`~ml_data.tasks.filtering.TaskFilter`: ids, since, reviewed, annotators, labels, and
finished for an export file), and how many tasks each filter left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ml_data.errors import ConfigurationError
from ml_data.jsonio import dumps
from ml_data.labelstudio import LabelStudioClient
from ml_data.labelstudio.lookups import check_view, count_tasks, user_ids
from ml_data.pipeline.options import FILTERS, DatasetOptions
from ml_data.tasks.filtering import FilterCounts, TaskFilter, parse_ids, parse_since

#: The filters Label Studio applies in its snapshot export (``task_filter_options``).
SERVER_FILTERS = ("view", "finished")


def server_filter(options: DatasetOptions) -> dict[str, Any]:
    """The snapshot export's ``task_filter_options`` for ``options`` (empty: nothing to ask)."""
    return {name: getattr(options, name) for name in SERVER_FILTERS if getattr(options, name) is not None}


def refuse_view(options: DatasetOptions, source: object) -> None:
    """A Data Manager tab is a live project's: an export file has none to apply."""
    if options.view is not None:
        raise ConfigurationError(
            f"view: a Data Manager tab filters a live project, and {source} is an export file: give the project "
            "(--project) instead, or export that tab from Label Studio"
        )


def reader_filter(
    options: DatasetOptions, *, server: bool = False, annotators: Iterable[str] | None = None
) -> TaskFilter:
    """The filters judged as tasks are read. ``server``: Label Studio applied
    :data:`SERVER_FILTERS` already (else a ``view`` is refused, and ``finished`` is judged here).
    ``annotators``: what the annotator filter matches (default: the emails and ids as given)."""
    if not server:
        refuse_view(options, "the source")
    names = options.annotator.split(",") if options.annotator else None
    return TaskFilter(
        ids=parse_ids(options.ids) if options.ids else None,
        since=parse_since(options.since) if options.since else None,
        finished=None if server else options.finished,
        reviewed=options.reviewed,
        annotators=frozenset(annotators if annotators is not None else names) if names else None,
        labels=frozenset(options.labels) if options.labels else None,
        predictions=options.predictions,
    )


def project_filters(
    client: LabelStudioClient, project_id: int, options: DatasetOptions, *, server: bool = True
) -> TaskFilter:
    """For a live project: the tab checked (Label Studio would export every task for a tab it
    cannot find), the annotators' emails matched to their user ids (exports name annotators by
    id); returns the filter judged as the tasks are read (``server``: Label Studio applies
    :data:`SERVER_FILTERS` in the export)."""
    if options.view is not None and server:
        check_view(client, project_id, options.view)
    annotators: set[str] | None = None
    if options.annotator:
        names = options.annotator.split(",")
        emails = [name for name in names if not name.isdigit()]
        found = user_ids(client, emails) if emails else {}
        annotators = {*names, *(str(user) for user in found.values())}
    return reader_filter(options, server=server, annotators=annotators)


def server_left_out(
    client: LabelStudioClient, project_id: int, options: DatasetOptions, total: int | None, received: int
) -> dict[str, int]:
    """How many tasks the tab, then the finished filter, left out of the project's ``total``,
    given the ``received`` tasks of the export."""
    if not server_filter(options) or total is None:
        return {}
    counts: dict[str, int] = {}
    shown = total
    if options.view is not None:
        shown = count_tasks(client, project_id, view=options.view) or 0
        counts["view"] = max(0, total - shown)
    if options.finished is not None:
        counts["finished"] = max(0, shown - received)
    return counts


class FilterPass:
    """Tasks through one :class:`TaskFilter`, counting what each filter leaves out."""

    def __init__(self, task_filter: TaskFilter, options: DatasetOptions) -> None:
        self.filter = task_filter
        self.options = options
        self.counts = FilterCounts()
        #: tasks seen (before the filter)
        self.received = 0

    def each(self, tasks: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
        for raw in tasks:
            self.received += 1
            kept = self.filter.apply(raw, self.counts) if self.filter.active else raw
            if kept is not None:
                yield kept

    def summary(self, server: Mapping[str, int] | None = None) -> dict[str, Any]:
        """``left_out``: every filter given with the tasks it left out (0 included; ``server``: the
        tasks Label Studio left out, by filter);
        ``regions_dropped``: label -> regions (or label values) taken out. Empty without filters."""
        if not self.options.filtered:
            return {}
        left_out = {name: 0 for name in FILTERS if getattr(self.options, name) is not None}
        for name, count in [*self.counts.tasks.items(), *(server or {}).items()]:
            left_out[name] += count
        return {"left_out": left_out, "regions_dropped": dict(self.counts.regions)}


def write_tasks(tasks: Iterable[Mapping[str, Any]], dest: Path) -> int:
    """``tasks`` as one JSON array at ``dest`` (the converters read it streaming); returns the count."""
    written = 0
    with open(dest, "wb") as handle:
        for raw in tasks:
            handle.write((b",\n" if written else b"[") + dumps(raw))
            written += 1
        handle.write(b"]" if written else b"[]")
    return written


__all__ = [
    "SERVER_FILTERS",
    "FilterPass",
    "project_filters",
    "reader_filter",
    "refuse_view",
    "server_filter",
    "server_left_out",
    "write_tasks",
]
