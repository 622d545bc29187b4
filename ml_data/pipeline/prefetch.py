"""Resolving the resources of tasks as they arrive, while the server still exports the rest."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml_data.errors import MlDataError
from ml_data.pipeline.manifest import reusable_files
from ml_data.pipeline.tasks import TaskInfo, TaskReader
from ml_data.redaction import redact_url
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.resolver import Resolver
from ml_data.tasks.identity import task_id_value


class Prefetcher:
    """Resolves each arriving task's resources on a thread pool over the shared cache.

    Skips what the previous dataset already holds for an unchanged task; the build later resolves
    only what is still missing. The tasks it reads are kept (:attr:`tasks`), so the build does not
    read the export again.
    """

    def __init__(
        self,
        reader: TaskReader,
        out: Path,
        previous: Mapping[str, Any] | None,
        resolver: Resolver,
        *,
        workers: int,
        progress: bool,
    ) -> None:
        self.reader = reader
        #: every task read so far (the build uses them instead of reading the export again)
        self.tasks: dict[str, TaskInfo] = {}
        self.resolver = resolver
        self.old_tasks: Mapping[str, Any] = (previous or {}).get("tasks") or {}
        self.reusable = reusable_files(out, previous, set(self.old_tasks)) if previous else {}
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ml-data-fetch")
        self.futures: dict[str, Future[LocalFile]] = {}
        self.bar = tqdm(unit=" files", disable=not progress or not sys.stderr.isatty(), file=sys.stderr)

    def add(self, raw: Mapping[str, Any]) -> None:
        info = self.reader.add(self.tasks, raw, "the export")
        if not info.selected:
            return
        task_id = str(raw.get("id"))
        unchanged = (self.old_tasks.get(task_id) or {}).get("fingerprint") == info.fingerprint
        for url in info.resources:
            if url in self.futures or (unchanged and (redact_url(url), task_id) in self.reusable):
                continue
            future = self.pool.submit(self.resolver.resolve, url, task_id=task_id_value(task_id))
            future.add_done_callback(lambda _done: self.bar.update(1))
            self.futures[url] = future

    def results(self) -> dict[str, LocalFile | MlDataError]:
        """Every resolution's outcome, once all are done."""
        outcomes: dict[str, LocalFile | MlDataError] = {}
        for url, future in self.futures.items():
            try:
                outcomes[url] = future.result()
            except MlDataError as exc:
                outcomes[url] = exc
        return outcomes

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.bar.close()


__all__ = ["Prefetcher"]
