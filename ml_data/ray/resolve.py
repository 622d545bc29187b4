"""Resolving every task's resources on the cluster: ``map_batches`` over a pool of actors, each
with one :class:`~ml_data.resolvers.Resolver` (its node's cache, or a shared one, as the
settings say) and a bounded thread pool for the downloads.

A URL that fails is recorded against its row (``errors``); it never fails the job. What to do
with such rows is the dataset's policy (``write_dataset(on_error=...)``), or ``on_error="skip"``
here to drop them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, Dataset

from ml_data.config import Settings
from ml_data.errors import ConfigurationError, MlDataError
from ml_data.http import DEFAULT_POOL_SIZE, new_session
from ml_data.labelstudio import http_client
from ml_data.resolvers.base import LocalFile
from ml_data.resolvers.bulk import resolve_many
from ml_data.resolvers.resolver import Resolver

FILE_TYPE = pa.struct(
    [
        ("size", pa.int64()),
        ("sha256", pa.string()),
        ("source", pa.string()),
        ("cached", pa.bool_()),
        ("content_type", pa.string()),
        ("kind", pa.string()),
    ]
)
FETCH_MODES = ("path", "bytes")
#: seconds the resolving actors have to start before any batch is handed out (a cluster without
#: room for them all fails then, rather than leaving all the work to the first one)
ACTORS_START_TIMEOUT = 300
ERROR_POLICIES = ("record", "skip")


def error_text(error: MlDataError) -> str:
    """How a row records a failure: the error's type and its (redacted) message."""
    return f"{type(error).__name__}: {error}"


def local_file(path: str, entry: Mapping[str, Any]) -> LocalFile:
    """A row's resolved file back into a :class:`LocalFile` (on the node that resolved it, or any
    node that sees the same cache)."""
    return LocalFile(
        path=Path(path),
        size=int(entry["size"]),
        content_type=entry.get("content_type"),
        source=entry["source"],
        kind=entry["kind"],
        cached=bool(entry["cached"]),
        _sha256=entry["sha256"],
    )


class ResolveBatch:
    """The callable each actor of the pool holds: one resolver, reused for every batch."""

    def __init__(self, settings: Settings, fetch: str, threads: int) -> None:
        session = new_session(settings, pool_maxsize=max(threads, DEFAULT_POOL_SIZE))
        self.resolver = Resolver(settings, http=http_client(settings, session=session))
        self.fetch = fetch
        self.threads = threads
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: pa.Table) -> pa.Table:
        ids = batch.column("id").to_pylist()
        resources = [urls or [] for urls in batch.column("resources").to_pylist()]
        wanted = {(url, task_id): None for task_id, urls in zip(ids, resources, strict=True) for url in urls}
        result = resolve_many(list(wanted), workers=self.threads, progress=False, resolver=self.resolver)
        # Once per URL: (local path, file entry, error); rows then only look them up.
        outcomes: dict[str, tuple[str | None, dict[str, Any] | None, str | None]] = {}
        for url, _task_id in wanted:
            found = result.files.get(url)
            if found is None:
                error = result.errors.get(url)
                outcomes[url] = (None, None, error_text(error) if error is not None else "not resolved")
            else:
                entry = {
                    key: getattr(found, key) for key in ("size", "sha256", "source", "cached", "content_type", "kind")
                }
                outcomes[url] = (str(found.path), entry, None)

        def column(index: int, kind: pa.DataType) -> pa.Array:
            return pa.array([[outcomes[url][index] for url in urls] for urls in resources], pa.list_(kind))

        # Where the files are: a write task elsewhere has them sent (node-local caches).
        batch = batch.append_column("node", pa.array([self.node] * batch.num_rows, pa.string()))
        batch = batch.append_column("paths", column(0, pa.string()))
        batch = batch.append_column("files", column(1, FILE_TYPE))
        batch = batch.append_column("errors", column(2, pa.string()))
        if self.fetch == "bytes":
            contents = {url: Path(path).read_bytes() for url, (path, _entry, _error) in outcomes.items() if path}
            batch = batch.append_column(
                "contents", pa.array([[contents.get(url) for url in urls] for urls in resources], pa.list_(pa.binary()))
            )
        return batch


def resolve_resources(
    ds: Dataset,
    *,
    fetch: str = "path",
    concurrency: int = 2,
    threads: int = 16,
    batch_size: int = 256,
    num_cpus: float = 0.25,
    on_error: str = "record",
    settings: Settings | None = None,
    ray_remote_args: Mapping[str, Any] | None = None,
) -> Dataset:
    """Add each task's resolved resources to ``ds`` (rows of :func:`ml_data.ray.read_tasks`).

    New columns, aligned with ``resources``: ``paths`` (local paths, null where it failed),
    ``files`` (size, sha256, source, cached, content type, kind), ``errors`` (null where it
    worked) and, with ``fetch="bytes"``, ``contents``. ``concurrency`` actors resolve with
    ``threads`` downloads in flight each; ``num_cpus`` is what each actor reserves (downloads
    mostly wait). ``on_error="skip"`` drops rows with a failed resource. The actors are spread
    over the nodes (``scheduling_strategy="SPREAD"``), so every node downloads its share;
    ``ray_remote_args`` overrides that or adds to it (a ``NodeAffinitySchedulingStrategy`` pins
    them, ``resources=`` or ``label_selector=`` picks nodes), and no batch is handed out before
    they have all started. A ``node`` column says which node resolved each row.

    >>> ds = resolve_resources(read_tasks(project=3), concurrency=4)  # doctest: +SKIP
    """
    if fetch not in FETCH_MODES:
        raise ConfigurationError(f"fetch must be one of {', '.join(FETCH_MODES)}, got {fetch!r}")
    if on_error not in ERROR_POLICIES:
        raise ConfigurationError(f"on_error must be one of {', '.join(ERROR_POLICIES)}, got {on_error!r}")
    if concurrency < 1 or threads < 1:
        raise ConfigurationError("concurrency and threads must be at least 1")
    settings = settings or Settings.from_env()
    with warnings.catch_warnings():
        # Ray Data >= 2.60 calls extra remote arguments deprecated, but has no other way yet to
        # set where an actor pool's actors run.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        resolved = ds.map_batches(
            ResolveBatch,
            fn_constructor_kwargs={"settings": settings, "fetch": fetch, "threads": threads},
            batch_format="pyarrow",
            batch_size=batch_size,
            compute=ActorPoolStrategy(size=concurrency),
            num_cpus=num_cpus,
            **{"scheduling_strategy": "SPREAD", **(ray_remote_args or {})},
        )
    if resolved.context.wait_for_min_actors_s <= 0:
        # Ray Data hands batches to the first actor ready: on a cluster, the one on the driver's
        # node would take the first batches (all of a small project) while the others start.
        resolved.context.wait_for_min_actors_s = ACTORS_START_TIMEOUT
    if on_error == "skip":
        resolved = resolved.filter(lambda row: not any(row["errors"]))
    return resolved


__all__ = ["FILE_TYPE", "ResolveBatch", "error_text", "local_file", "resolve_resources"]
