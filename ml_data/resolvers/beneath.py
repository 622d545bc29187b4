"""Opening a file beneath a root folder, never through a link that leads out of it.

Checking a path and opening it later is a race: between the two, a folder on the path can be
swapped for a symlink to somewhere else, and the open follows it. So here the check *is* the open:
the file is opened relative to a descriptor of the root, every link resolved beneath it, and what
was opened is checked on its descriptor (a regular file, still beneath the root). Callers read
from that descriptor; they never open the path again.

Linux (5.6 and later) does this in one call, ``openat2`` with ``RESOLVE_BENEATH``. Elsewhere, and
for what that call refuses outright (an absolute link, even one that stays inside the root), the
path is walked one component at a time with ``O_NOFOLLOW``: each link is read and resolved here,
against the root, and a ``..`` never climbs above it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ml_data.errors import NotFound, UnsafePath

#: The limit on links followed for one path, as Linux's own (ELOOP beyond it).
MAX_LINKS = 40

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
# O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a regular file).
_FILE_FLAGS = os.O_RDONLY | _CLOEXEC | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
# O_PATH opens a folder without needing read permission on it, and opens a symlink itself (with
# O_NOFOLLOW) instead of failing; without it, folders are opened for reading.
_FOLDER_FLAGS = (getattr(os, "O_PATH", 0) or _FILE_FLAGS) | _CLOEXEC
_ROOT_FLAGS = _FOLDER_FLAGS | getattr(os, "O_DIRECTORY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

# Nothing regular there: a missing name, or a file used as a folder.
_MISSING = {errno.ENOENT, errno.ENOTDIR}
# How O_NOFOLLOW says "that is a symlink": ELOOP (Linux, macOS), EMLINK (FreeBSD).
_LINK_ERRNOS = {errno.ELOOP, errno.EMLINK}

# openat2: the system call number shared by every architecture on the generic table (others,
# e.g. MIPS and Alpha, number it differently and use the walk).
_SYS_OPENAT2 = 437
_GENERIC_TABLE = {
    "x86_64", "amd64", "i386", "i486", "i586", "i686", "aarch64", "arm64", "armv6l", "armv7l", "armv8l",
    "riscv64", "ppc64le", "ppc64", "s390x", "loongarch64",
}  # fmt: skip
_RESOLVE_NO_MAGICLINKS = 0x02  # no /proc/<pid>/fd/... style links
_RESOLVE_BENEATH = 0x08
# openat2 answers these when it will not decide; the walk then does (and is exact about them).
_WALK_INSTEAD = {errno.EXDEV, errno.ELOOP, errno.EAGAIN}
# ... and these when the kernel (or a seccomp filter) does not offer it at all.
_UNAVAILABLE = {errno.ENOSYS, errno.EPERM, errno.EINVAL, errno.E2BIG}


@dataclass(frozen=True)
class CheckedFile:
    """A regular file opened beneath a root: its descriptor (the caller closes it), its real path
    when it was opened, and the ``fstat`` of that descriptor."""

    fd: int
    path: Path
    stat: os.stat_result


def open_beneath(root: Path, relative: str, *, url: str | None = None) -> CheckedFile | None:
    """Open ``root/relative`` for reading without leaving ``root`` (a real path, see
    :func:`~ml_data.resolvers.containment.usable_root`): links inside the root are followed as
    long as they stay inside it.

    None when there is no regular file there (missing, a folder, a FIFO, ...); UnsafePath when the
    path leads out of the root; NotFound for what cannot be opened (permissions, names too long).

    >>> checked = open_beneath(Path("/data"), "photos/cat.jpg")  # doctest: +SKIP
    >>> os.read(checked.fd, 4), checked.stat.st_size  # doctest: +SKIP
    """
    with _root_descriptor(root, relative, url) as root_fd:
        fd = _kernel_open(root_fd, relative, root, url) if _OPENAT2.usable() else None
        if fd is None:
            return walk_beneath(root, relative, url=url, root_fd=root_fd)
        return _checked(fd, root, None, relative, url) if fd >= 0 else None


def walk_beneath(
    root: Path, relative: str, *, url: str | None = None, root_fd: int | None = None
) -> CheckedFile | None:
    """:func:`open_beneath` without ``openat2``: one component at a time, each opened with
    ``O_NOFOLLOW`` relative to the folder before it, each link read and resolved here."""
    if root_fd is None:
        with _root_descriptor(root, relative, url) as own_fd:
            return walk_beneath(root, relative, url=url, root_fd=own_fd)
    todo = _components(relative)
    held: list[int] = []  # descriptors of the folders walked through below the root
    names: list[str] = []  # and their names
    links = 0
    try:
        while todo:
            name = todo.pop()
            if name == ".":
                continue
            if name == "..":
                if not held:
                    raise _outside(root, url)
                os.close(held.pop())
                names.pop()
                continue
            here = held[-1] if held else root_fd
            last = not todo
            try:
                fd = os.open(name, (_FILE_FLAGS if last else _FOLDER_FLAGS) | _NOFOLLOW, dir_fd=here)
            except OSError as exc:
                if exc.errno in _MISSING:
                    return None
                if exc.errno not in _LINK_ERRNOS:
                    raise _cannot_open(exc, root, relative, url) from None
                fd = -1
            if fd >= 0:
                mode = os.fstat(fd).st_mode
                if not stat.S_ISLNK(mode):  # O_PATH | O_NOFOLLOW opens a link itself
                    if last:
                        return _checked(fd, root, root.joinpath(*names, name), relative, url)
                    if not stat.S_ISDIR(mode):
                        os.close(fd)
                        return None
                    held.append(fd)
                    names.append(name)
                    continue
                os.close(fd)
            links += 1
            if links > MAX_LINKS:
                raise NotFound(f"too many symbolic links in {relative[:80]!r} under {root}", url=url)
            try:
                target = os.readlink(name, dir_fd=here)
            except OSError as exc:
                if exc.errno == errno.EINVAL:  # no longer a link: swapped meanwhile, look again
                    todo.append(name)
                    continue
                if exc.errno in _MISSING:
                    return None
                raise _cannot_open(exc, root, relative, url) from None
            if target.startswith("/"):
                inside = _inside(target, root)
                if inside is None:
                    raise _outside(root, url)
                while held:  # an absolute link starts again from the root
                    os.close(held.pop())
                names.clear()
                target = inside
            todo.extend(_components(target))
        return None  # the path names a folder (it ended on ".", ".." or "/")
    finally:
        for fd in held:
            os.close(fd)


@contextlib.contextmanager
def _root_descriptor(root: Path, relative: str, url: str | None) -> Iterator[int]:
    """A descriptor of the root folder (trusted: it comes from the settings), closed on exit."""
    try:
        fd = os.open(root, _ROOT_FLAGS)
    except OSError as exc:
        raise _cannot_open(exc, root, relative, url) from None
    try:
        yield fd
    finally:
        os.close(fd)


def _kernel_open(root_fd: int, relative: str, root: Path, url: str | None) -> int | None:
    """The descriptor openat2 gives; -1 when there is nothing there; None when the walk must
    decide (an absolute link, a link out of the root, a rename meanwhile, or no openat2)."""
    try:
        return _OPENAT2(root_fd, relative)
    except OSError as exc:
        if exc.errno in _MISSING:
            return -1
        if exc.errno in _UNAVAILABLE:
            _OPENAT2.missing = True
            return None
        if exc.errno in _WALK_INSTEAD:
            return None
        raise _cannot_open(exc, root, relative, url) from None


def _checked(fd: int, root: Path, walked: Path | None, relative: str, url: str | None) -> CheckedFile | None:
    """Check what ``fd`` is, on the descriptor itself: a regular file that still has a name, and,
    where the kernel says where it is, beneath the root (a folder on the way could have been
    renamed out of it meanwhile). Closes ``fd`` unless it is handed back."""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink == 0:
            os.close(fd)
            return None
        where = _descriptor_path(fd)
        if where is not None and _under(where, root) is not None:
            path = Path(where)
        elif where is None and walked is not None:
            path = walked
        else:
            raise _outside(root, url)
        os.set_blocking(fd, True)  # opened without blocking only so that a FIFO could not hang
    except BaseException:
        os.close(fd)
        raise
    return CheckedFile(fd=fd, path=path, stat=info)


def _descriptor_path(fd: int) -> str | None:
    """Where the kernel says an open file is (Linux's /proc), or None where it does not say."""
    if sys.platform != "linux":
        return None
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _components(path: str) -> list[str]:
    """The names of a relative path, last first (a stack); a trailing "/" means "a folder"."""
    parts = [part for part in path.split("/") if part]
    if path.endswith("/"):
        parts.append(".")
    return parts[::-1]


def _inside(target: str, root: Path) -> str | None:
    """An absolute link target as a path relative to the root, or None when it is outside. A
    target that reaches the root another way (through another link to it) is taken by its real
    path; the walk then opens that relative path beneath the root, never following the target."""
    relative = _under(target, root)
    if relative is not None:
        return relative
    try:
        return _under(os.path.realpath(target), root)
    except OSError:  # a link on the way changed meanwhile, or loops: not known to be inside
        return None


def _under(path: str, root: Path) -> str | None:
    base = os.fspath(root)
    if path == base:
        return "."
    return path[len(base) + 1 :] if path.startswith(base + "/") else None


def _outside(root: Path, url: str | None) -> UnsafePath:
    return UnsafePath(f"file path resolves outside {root} (through a symlink)", url=url)


def _cannot_open(exc: OSError, root: Path, relative: str, url: str | None) -> NotFound:
    return NotFound(f"cannot open {relative[:80]!r} under {root}: {exc.strerror or exc}", url=url)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


class _Openat2:
    """openat2, called through libc's ``syscall``, while it works here: found on first use; set
    aside for good once the kernel (or a seccomp filter) turns out not to offer it."""

    def __init__(self) -> None:
        self.missing = False
        self._syscall: Callable[..., int] | None = None
        self._looked = False

    def usable(self) -> bool:
        if not self._looked:
            self._syscall = self._find()
            self._looked = True
        return self._syscall is not None and not self.missing

    @staticmethod
    def _find() -> Callable[..., int] | None:
        # The check on the descriptor needs the kernel to say where an open file is (/proc).
        if sys.platform != "linux" or platform.machine().lower() not in _GENERIC_TABLE:
            return None
        if not os.path.isdir("/proc/self/fd"):
            return None
        try:
            syscall = ctypes.CDLL(None, use_errno=True).syscall
        except (OSError, AttributeError):
            return None
        syscall.restype = ctypes.c_long
        return syscall  # type: ignore[no-any-return]

    def __call__(self, dir_fd: int, relative: str) -> int:
        """The descriptor of ``relative`` opened beneath ``dir_fd``; OSError with the errno."""
        assert self._syscall is not None
        how = _OpenHow(_FILE_FLAGS, 0, _RESOLVE_BENEATH | _RESOLVE_NO_MAGICLINKS)
        fd = self._syscall(
            ctypes.c_long(_SYS_OPENAT2),
            ctypes.c_int(dir_fd),
            ctypes.c_char_p(os.fsencode(relative)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return int(fd)


_OPENAT2 = _Openat2()


__all__ = ["MAX_LINKS", "CheckedFile", "open_beneath", "walk_beneath"]
