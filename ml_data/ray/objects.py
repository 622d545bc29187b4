"""The distributed writer's object storage side (``s3://``, ``gs://``, ``az://`` destinations; the
layout is :mod:`ml_data.object_store`'s).

Each write task builds its shard in a local temporary folder and uploads every file straight to its
place in the run's folder (``<prefix>/runs/<run>/<relative>``), its manifest parts and a zip of its
non-media files (only read back when shards wrote a file differently, to combine them) under
``<run>/.shards/<shard>/``. The driver then downloads the parts, merges them streaming
(:mod:`ml_data.ray.merge`), uploads the run's ``manifest.json``, removes ``.shards/`` and commits:
the manifest copied to ``<prefix>/manifest.json``. Runs other than the new one and the one it
replaces are removed once a day old (a write running beside this one is younger).
"""

from __future__ import annotations

import datetime
import logging
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ml_data.config import Settings
from ml_data.converters import get_format
from ml_data.errors import OutputError
from ml_data.hashing import file_sha256
from ml_data.object_store import RUNS, ObjectPrefix, filesystem, read_top_manifest, run_started
from ml_data.pipeline.report import MANIFEST
from ml_data.ray.parts import ordered, part_names, read_lines

logger = logging.getLogger(__name__)

SHARDS = ".shards"
BUNDLE = "files.zip"
#: runs left from failed or replaced writes are removed once this old
RUN_GRACE = datetime.timedelta(days=1)
#: a failed run's folder is looked at up to this many times, until it stays empty for
#: REMOVE_QUIET_LOOKS looks in a row (write tasks still running upload after the failure)
REMOVE_LOOKS = 60
REMOVE_QUIET_LOOKS = 3
REMOVE_PAUSE = 0.5
_BLOCK = 1024 * 1024
_THREADS = 8


class RunFolder:
    """One write's folder under the dataset's prefix, ``runs/<run>``."""

    def __init__(self, prefix: ObjectPrefix, run: str, settings: Settings) -> None:
        self.prefix = prefix
        self.run = run
        self.settings = settings
        self._fs: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fs": None}  # each process opens its own

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = filesystem(self.prefix, self.settings)
        return self._fs

    @property
    def root(self) -> str:
        return f"{RUNS}/{self.run}"

    @property
    def url(self) -> str:
        return self.prefix.url_of(RUNS, self.run)

    def path(self, *names: str) -> str:
        return self.prefix.join(RUNS, self.run, *names)

    def upload(self, local: Path, *names: str) -> None:
        try:
            with open(local, "rb") as source, self.fs.open_output_stream(self.path(*names)) as target:
                shutil.copyfileobj(source, target, _BLOCK)
        except OSError as exc:
            raise OutputError(f"cannot write {self.prefix.url_of(RUNS, self.run, *names)}: {exc}") from None

    def download(self, local: Path, *names: str) -> None:
        try:
            with self.fs.open_input_stream(self.path(*names)) as source, open(local, "wb") as target:
                shutil.copyfileobj(source, target, _BLOCK)
        except OSError as exc:
            raise OutputError(f"cannot read {self.prefix.url_of(RUNS, self.run, *names)}: {exc}") from None

    # -- on a write task

    def upload_shard(self, name: str, shard: Path, parts: Path) -> None:
        """Upload the shard's files to their places in the run, and its parts and non-media files
        under ``.shards/<name>/``."""
        bundle = parts.parent / f"{parts.name}.zip"
        relatives = []
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_STORED) as archive:
            for relative, entry in read_lines(parts / ordered("files")):
                if relative == MANIFEST:
                    continue
                relatives.append(relative)
                if not (isinstance(entry, dict) and entry.get("source")):
                    archive.write(shard / relative, relative)
        self._each(lambda relative: self.upload(shard / relative, relative), relatives)
        self.upload(bundle, SHARDS, name, BUNDLE)
        self._each(lambda part: self.upload(parts / part, SHARDS, name, part), part_names())

    def _each(self, upload: Any, items: Iterable[str]) -> None:
        with ThreadPoolExecutor(_THREADS) as pool:
            for _ in pool.map(upload, items):
                pass

    # -- on the driver

    def download_parts(self, names: Sequence[str], local: Path) -> list[Path]:
        folders = []
        for name in names:
            folder = local / name
            folder.mkdir(parents=True)
            for part in part_names():
                self.download(folder / part, SHARDS, name, part)
            folders.append(folder)
        return folders

    def commit(self, manifest: Path) -> None:
        """The run's manifest uploaded, its scratch removed, then the commit: the manifest copied to
        the prefix's ``manifest.json``; older runs are then cleaned."""
        previous = read_top_manifest(self.fs, self.prefix)
        self.upload(manifest, MANIFEST)
        _delete_dir(self.fs, self.path(SHARDS))
        self.fs.copy_file(self.path(MANIFEST), self.prefix.join(MANIFEST))
        try:
            self._clean(previous)
        except OSError as exc:  # the dataset is committed; old runs wait for the next write
            logger.warning("could not remove old runs under %s: %s", self.prefix.url, exc)

    def _clean(self, previous: dict[str, Any] | None) -> None:
        import pyarrow.fs as pafs

        keep = {self.run, str((previous or {}).get("root", "")).rpartition("/")[2]}
        now = datetime.datetime.now(datetime.timezone.utc)
        runs = self.fs.get_file_info(pafs.FileSelector(self.prefix.join(RUNS), allow_not_found=True))
        for info in runs:
            started = run_started(info.base_name)
            if info.type == pafs.FileType.Directory and started and info.base_name not in keep:
                if now - started > RUN_GRACE:
                    _delete_dir(self.fs, info.path)

    def remove(self) -> None:
        """Remove this run's folder (a failed write's); the committed dataset is not in it.

        When one write task fails, Ray raises at once while the others may still be uploading:
        the folder is removed again until it has stayed empty for a few looks in a row (bounded:
        :data:`REMOVE_LOOKS` looks, :data:`REMOVE_PAUSE` seconds apart)."""
        import pyarrow.fs as pafs

        empty_looks = 0
        for _look in range(REMOVE_LOOKS):
            try:
                found = self.fs.get_file_info(pafs.FileSelector(self.path(), recursive=True, allow_not_found=True))
                if any(info.type == pafs.FileType.File for info in found):
                    empty_looks = 0
                    _delete_dir(self.fs, self.path())
                else:
                    empty_looks += 1
                    if empty_looks >= REMOVE_QUIET_LOOKS:
                        return
            except OSError as exc:
                logger.warning("could not remove %s: %s", self.url, exc)
                return
            time.sleep(REMOVE_PAUSE)
        logger.warning("files were still being written to %s after its write failed", self.url)


class RemoteShards:
    """The :class:`~ml_data.ray.merge.ShardFiles` of a run: every file is in place already; a file
    shards wrote differently is combined from their bundles and uploaded over it."""

    def __init__(self, run: RunFolder, names: Sequence[str], scratch: Path, *, format: str) -> None:
        self.run = run
        self.names = list(names)
        self.scratch = scratch
        self.format = get_format(format)
        self._bundles: dict[int, Path] = {}

    def take(self, shard: int, relative: str) -> None:
        """Uploaded by its write task."""

    def combine(self, relative: str, first: int, others: Sequence[int]) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(dir=self.scratch) as folder:
            versions = [self._version(index, relative, Path(folder) / str(index)) for index in (first, *others)]
            target = versions[0]
            self.format.merge(relative, target, versions[1:])
            self.run.upload(target, relative)
            info = target.stat()
            return {"size": info.st_size, "sha256": file_sha256(target), "mtime_ns": info.st_mtime_ns}

    def _version(self, index: int, relative: str, local: Path) -> Path:
        """Shard ``index``'s ``relative``, from its bundle (downloaded once: object stores differ in
        how well they answer the seeks a zip's reader makes)."""
        bundle = self._bundles.get(index)
        if bundle is None:
            bundle = self.scratch / f"{self.names[index]}.{BUNDLE}"
            self.run.download(bundle, SHARDS, self.names[index], BUNDLE)
            self._bundles[index] = bundle
        with zipfile.ZipFile(bundle) as archive, archive.open(relative) as member, open(local, "wb") as target:
            shutil.copyfileobj(member, target, _BLOCK)
        return local


def _delete_dir(fs: Any, path: str) -> None:
    """Delete everything under ``path``. Some stores keep no folder object (pyarrow's GCS file
    system deletes the files, then fails on the folder's own object): that is not an error."""
    try:
        fs.delete_dir(path)
    except FileNotFoundError:
        pass


def check_prefix(prefix: ObjectPrefix, settings: Settings) -> None:
    """Refuse a prefix that holds something other than a dataset ml-data wrote (whose manifest may
    be missing after a failed first write: then it holds only ``runs/``)."""
    import pyarrow.fs as pafs

    fs = filesystem(prefix, settings)
    try:
        if fs.get_file_info(prefix.bucket).type == pafs.FileType.NotFound:
            raise OutputError(f"cannot write {prefix.url}: the bucket {prefix.bucket} does not exist")
        if read_top_manifest(fs, prefix) is not None:
            return
        found = fs.get_file_info(pafs.FileSelector(prefix.path, allow_not_found=True))
    except OutputError:
        raise
    except OSError as exc:  # no such bucket, refused credentials, unreachable endpoint
        raise OutputError(f"cannot read {prefix.url}: {exc}") from None
    others = sorted(info.base_name for info in found if info.base_name != RUNS)
    if others:
        raise OutputError(
            f"{prefix.url} holds files ml-data did not write ({', '.join(others[:5])}); "
            "write the dataset to an empty prefix or to one ml-data wrote"
        )


__all__ = ["BUNDLE", "RUN_GRACE", "SHARDS", "RemoteShards", "RunFolder", "check_prefix"]
