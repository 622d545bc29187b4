"""What a conversion may ask its caller about media: one narrow, named argument.

Converters never touch the network, the cache or the pipeline. Where a format needs something
only its caller knows (the local file of an audio URL, the size of an image whose results do not
record it, the split a task belongs to, whether the media are placed beside the output), it asks
the :class:`MediaHooks` it was handed. A plain conversion hands none: nothing is resolved, no
image is measured, and there are no subsets.

>>> hooks = MediaHooks(image_size=lambda url, task_id: (640, 480))
>>> convert("export.json", "yolo", "out/", config=xml, media=hooks)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (URL, task id) -> its local file, or None when it cannot be resolved
LocalPath = Callable[[str, Any], "str | None"]
#: (URL, task id) -> (width, height) of the image, or None when it cannot be measured
ImageSize = Callable[[str, Any], "tuple[int, int] | None"]
#: task id -> the subset (split) the task belongs to
SubsetOf = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class MediaHooks:
    """The caller's answers about media, each None when the caller has none to give."""

    #: the local file of a URL (ASR reads the audio's duration from it and, unless the media are
    #: placed, names it in the manifest); None: URLs stay as they are, with a warning
    local_path: LocalPath | None = None
    #: the size of an image whose results lack ``original_width``/``original_height``
    image_size: ImageSize | None = None
    #: the subset of a task, for formats whose standard layout names it (the options' ``subsets``)
    subset_of: SubsetOf | None = None
    #: the caller places the media the output refers to (the fetch pipeline): the report lists
    #: them (``placements``), and the ASR manifest's ``audio_filepath`` is the dataset-relative
    #: path (``audio/<name>``), not the local file (the manifest itself is ``asr_manifest.json``:
    #: ``manifest.json`` is the dataset's own)
    places_media: bool = False


#: The hooks of a plain conversion: nothing resolved, nothing measured, nothing placed.
NO_MEDIA = MediaHooks()

__all__ = ["NO_MEDIA", "ImageSize", "LocalPath", "MediaHooks", "SubsetOf"]
