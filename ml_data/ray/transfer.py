"""The resolved files of a write task's rows, on the node that writes them: so each node may keep
its cache on its own disk, and a write task never needs to see another node's files.

A row says which node resolved it (its ``node`` column, from
:func:`~ml_data.ray.resolve.resolve_resources`). A file resolved on the writing node is used where
it is, and so is one whose path holds the same bytes here (a cache volume every node mounts). One
resolved on another node is read there by a small task pinned to that node, its bytes
sent through Ray's object store (or taken from the row's ``contents``, when it was resolved with
``fetch="bytes"``), checked against the sha256 the row recorded and written beside the shard. A
file that cannot be brought over (its node is gone, the file changed since) is left out, and the
shard's build resolves it again on this node: never a dataset with a missing file.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ml_data.errors import MlDataError
from ml_data.hashing import file_sha256
from ml_data.ray.resolve import local_file
from ml_data.resolvers.base import LocalFile

logger = logging.getLogger(__name__)

#: bytes one read on another node sends at most (a few files; one file larger than this alone)
BATCH_BYTES = 64 * 1024 * 1024
#: reads in flight per node (their bytes wait in the object store until written here)
IN_FLIGHT = 2


class ShardFailure(MlDataError):
    """A resource a row recorded as failed (its message is the row's error)."""


#: a file resolved on another node: its path there and the row's file entry
_Remote = tuple[str, Mapping[str, Any]]


def gather_files(rows: Iterable[Mapping[str, Any]], folder: Path) -> dict[str, LocalFile | MlDataError]:
    """The rows' resolved files (and recorded failures) by URL, each a file on this node: in
    place, or brought from the node that resolved it into ``folder`` (made when needed; its
    files are hard-linked into the shard, so the caller removes it once the shard is built)."""
    here = ray.get_runtime_context().get_node_id()
    found: dict[str, LocalFile | MlDataError] = {}
    remote: dict[str, dict[str, _Remote]] = {}
    bodies: dict[str, tuple[bytes, Mapping[str, Any]]] = {}
    for row in rows:
        paths = row.get("paths")
        if paths is None:
            continue
        node = row.get("node")
        files, errors, contents = row.get("files") or [], row.get("errors") or [], row.get("contents") or []
        for index, (url, path) in enumerate(zip(row["resources"], paths, strict=False)):
            entry = files[index] if index < len(files) else None
            if path is not None and entry is not None:
                if node is None or node == here or _seen_here(path, entry):
                    found[url] = local_file(path, entry)
                elif index < len(contents) and contents[index] is not None:
                    bodies[url] = (contents[index], entry)
                else:
                    remote.setdefault(node, {})[url] = (path, entry)
            elif index < len(errors) and errors[index] is not None:
                found.setdefault(url, ShardFailure(errors[index]))
    writer = _Writer(folder)
    for url, (content, entry) in bodies.items():
        if not isinstance(found.get(url), LocalFile):
            writer.add(found, url, content, entry)
    for node, files in remote.items():
        wanted = {url: file for url, file in files.items() if not isinstance(found.get(url), LocalFile)}
        for url, body, entry in _from_node(node, wanted):
            writer.add(found, url, body, entry)
    return found


def _seen_here(path: str, entry: Mapping[str, Any]) -> bool:
    """The file another node resolved is here too, the same bytes (a cache on a volume every node
    mounts): nothing to send."""
    try:
        return os.stat(path).st_size == int(entry["size"]) and file_sha256(Path(path)) == entry["sha256"]
    except OSError:
        return False


class _Writer:
    """Bytes from another node into files of ``folder``, each checked against its sha256."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def add(
        self, found: dict[str, LocalFile | MlDataError], url: str, body: bytes | None, entry: Mapping[str, Any]
    ) -> None:
        if body is None or hashlib.sha256(body).hexdigest() != entry["sha256"]:
            # Gone or changed on its node since it was resolved: the shard resolves it again here.
            found.pop(url, None)
            return
        self.folder.mkdir(exist_ok=True)
        self.count += 1
        path = self.folder / str(self.count)
        with open(path, "xb") as handle:
            handle.write(body)
        # Written by ml-data for this shard: placed by a hard link, like a cache file.
        found[url] = local_file(str(path), {**entry, "cached": True})


def _from_node(node: str, files: Mapping[str, _Remote]) -> Iterator[tuple[str, bytes | None, Mapping[str, Any]]]:
    """(URL, bytes or None, file entry) of ``files``, read on ``node`` a batch at a time."""
    batches: list[list[str]] = [[]]
    size = 0
    for url, (_path, entry) in files.items():
        if batches[-1] and size + int(entry["size"]) > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(url)
        size += int(entry["size"])
    try:
        read = _read_files.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False))
    except ValueError:  # not a node id this Ray knows how to read
        logger.warning("%d files resolved on an unknown node %r; resolved again here", len(files), node)
        yield from ((url, None, entry) for url, (_path, entry) in files.items())
        return
    pending = [(batch, read.remote([files[url][0] for url in batch])) for batch in batches[:IN_FLIGHT] if batch]
    following = iter(batches[IN_FLIGHT:])
    while pending:
        batch, ref = pending.pop(0)
        try:
            bodies: list[bytes | None] = ray.get(ref)
        except ray.exceptions.RayError as exc:
            logger.warning(
                "%d files resolved on node %s cannot be read there (%s); resolved again here",
                len(batch),
                node,
                type(exc).__name__,
            )
            bodies = [None] * len(batch)
        upcoming = next(following, None)
        if upcoming:
            pending.append((upcoming, read.remote([files[url][0] for url in upcoming])))
        for url, body in zip(batch, bodies, strict=True):
            yield url, body, files[url][1]


@ray.remote(num_cpus=0, max_retries=1)
def _read_files(paths: list[str]) -> list[bytes | None]:
    """The bytes of ``paths`` on this node (None for one that is gone). Reserves no CPU: it
    must run even while the node's CPUs are busy writing shards that wait for it."""
    bodies: list[bytes | None] = []
    for path in paths:
        try:
            bodies.append(Path(path).read_bytes())
        except OSError:
            bodies.append(None)
    return bodies


__all__ = ["BATCH_BYTES", "ShardFailure", "gather_files"]
