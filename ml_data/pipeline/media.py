"""The media hooks of a plain conversion (``ml-data convert``): URLs resolved through the cache,
and image sizes read from the resolved file's header. A failure is no reason to stop the
conversion: it is handed to ``warn`` and the hook answers None (the converter then says what it
could not do)."""

from __future__ import annotations

from collections.abc import Callable

from ml_data.converters import MediaHooks
from ml_data.errors import MlDataError
from ml_data.resolvers import Resolver

#: a message for the user about a file that could not be resolved or measured
Warn = Callable[[str], None]


def resolving_hooks(resolver: Resolver, warn: Warn) -> MediaHooks:
    """Hooks that resolve media with ``resolver`` (local files for ASR, images whose results lack
    their size) and report every failure to ``warn``."""

    def local_path(url: str, task_id: int | None) -> str | None:
        try:
            return str(resolver.resolve(url, task_id=task_id).path)
        except MlDataError as exc:
            warn(str(exc))
            return None

    def image_size(url: str, task_id: int | None) -> tuple[int, int] | None:
        """Only for results without original sizes: the image is resolved and its header read."""
        path = local_path(url, task_id)
        if path is None:
            return None
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.size
        except OSError as exc:
            warn(f"cannot read the size of {path}: {exc}")
            return None

    return MediaHooks(local_path=local_path, image_size=image_size)


__all__ = ["Warn", "resolving_hooks"]
