"""A write into the cache that the system refused (a full disk above all), as a typed error.

Shared by every part of the cache that writes: temp files, metadata, entry folders, lock files.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ml_data.errors import CacheError

#: errno values that mean the device (or the user's quota) is full.
_NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def write_error(root: Path, exc: OSError, *, url: str | None = None, failed: str | None = None) -> CacheError:
    """The typed error for a write into the cache that the system refused, naming the folder
    (``failed`` says what could not be done, when not just writing).

    ``errno`` is kept, so code that looked for ENOSPC in a plain OSError still finds it.
    """
    if exc.errno in _NO_SPACE:
        reason = "no space left on the device"
        message = f"the cache folder {root} is full ({reason}): free space, or set ML_DATA_CACHE_MAX_SIZE"
    else:
        reason = exc.strerror or str(exc)
        message = f"cannot {failed or f'write to the cache folder {root}'}: {reason}"
    error = CacheError(message, url=url)
    error.errno, error.strerror = exc.errno, reason
    return error
