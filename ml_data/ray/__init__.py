"""Ray Data for projects too big for one machine: read tasks, resolve their files, and write a
dataset on a cluster, with the same files and manifest as single-machine ``fetch``.

>>> import ray, ml_data.ray as mlray  # doctest: +SKIP
>>> ray.init(address="auto")  # doctest: +SKIP
>>> tasks = mlray.read_tasks(project=3)  # doctest: +SKIP
>>> mlray.write_dataset(mlray.resolve_resources(tasks), "/shared/yolo", format="yolo", project=3)  # doctest: +SKIP

Needs ``pip install 'ml-data[ray]'``; the rest of ml-data never imports Ray.
"""

from __future__ import annotations

from ml_data.errors import MissingDependency

try:
    import ray.data  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the install
    raise MissingDependency("ml_data.ray needs Ray Data: pip install 'ml-data[ray]'") from exc

from ml_data.ray.read import read_tasks
from ml_data.ray.resolve import resolve_resources
from ml_data.ray.write import write_dataset

__all__ = ["read_tasks", "resolve_resources", "write_dataset"]
