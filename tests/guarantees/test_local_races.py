"""Files read in place are read from what was checked: a folder on the path swapped for a symlink
out of the root, before, during or after the check, never serves a byte from outside the root."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import NotFound, Resolver, Settings, UnsafePath, open_resource
from ml_data.resolvers.beneath import MAX_LINKS, CheckedFile, open_beneath, walk_beneath
from ml_data.service import ServiceSettings, create_app

TOKEN = "race-service-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
INSIDE = b"inside: photos/x.jpg"
SECRET = b"OUTSIDE secret, not x"  # another length: a size checked on one file, bytes of another


def swap_for_link(folder: Path, target: str) -> Path:
    """Put a symlink to ``target`` where ``folder`` was; the folder is kept beside it (returned)."""
    held = folder.with_name(f".{folder.name}.held")
    os.rename(folder, held)
    os.symlink(target, folder)
    return held


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "x.jpg").write_bytes(INSIDE)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.jpg").write_bytes(SECRET)
    return {"root": root, "outside": outside, "cache": tmp_path / "cache"}


def read(checked: CheckedFile | None) -> bytes | None:
    if checked is None:
        return None
    with os.fdopen(checked.fd, "rb") as handle:
        return handle.read()


# -- the example: a folder swapped for a symlink to ../outside after it was checked ----------------


@pytest.mark.parametrize("url", ["/data/local-files/?d=photos/x.jpg", "photos/x.jpg", "{root}/photos/x.jpg"])
def test_a_folder_swapped_for_a_link_after_resolve_is_never_read_through(tree, url):
    """Regression: ``sha256`` (and any later read) opened the path again, following the link."""
    resolver = Resolver(Settings(local_files_root=tree["root"], cache_dir=tree["cache"], retries=0))
    local = resolver.resolve(url.format(root=tree["root"]))
    assert local.size == len(INSIDE)
    swap_for_link(tree["root"] / "photos", "../outside")
    assert (tree["root"] / "photos" / "x.jpg").read_bytes() == SECRET  # the path now leads out
    with pytest.raises(UnsafePath):
        local.sha256  # noqa: B018 (the property reads the file)
    with pytest.raises(UnsafePath):
        local.open()


def test_the_service_streams_the_checked_descriptor_when_the_folder_is_swapped_right_after(tree, monkeypatch):
    """Regression: /v1/resources checked the path, then sent the file by path: a link swapped in
    between served the outside file (here: the outside bytes, or a length that is not theirs)."""
    app = create_app(
        Settings(local_files_root=tree["root"], cache_dir=tree["cache"], retries=0), ServiceSettings(token=TOKEN)
    )
    app.testing = True
    resolver = app.extensions["ml_data.resolver"]

    def swapping_after(method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            swap_for_link(tree["root"] / "photos", "../outside")  # right after the check
            return result

        return call

    for name in ("resolve", "open"):
        if hasattr(resolver, name):
            monkeypatch.setattr(resolver, name, swapping_after(getattr(resolver, name)))
    with app.test_client().get("/v1/resources?url=/data/local-files/?d=photos/x.jpg", headers=AUTH) as response:
        assert response.status_code == 200
        assert response.data == INSIDE
        assert int(response.headers["Content-Length"]) == len(INSIDE)
        held = tree["root"] / ".photos.held" / "x.jpg"
        stat = held.stat()  # the ETag is that of the file sent: the one that was checked
        assert response.headers["ETag"].strip('"') == f"{stat.st_size:x}-{stat.st_mtime_ns:x}-{stat.st_ino:x}"


def test_open_reads_what_was_checked_even_when_swapped_while_open(tree):
    resolver = Resolver(Settings(local_files_root=tree["root"], cache_dir=tree["cache"], retries=0))
    with resolver.open("/data/local-files/?d=photos/x.jpg") as opened:
        swap_for_link(tree["root"] / "photos", "../outside")
        assert opened.file.read() == INSIDE
        assert opened.stat.st_size == opened.local.size == len(INSIDE)
        assert opened.sha256() == hashlib.sha256(INSIDE).hexdigest()
    assert opened.file.closed


def test_open_resource_opens_cached_files_too(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache")
    with open_resource("data:text/plain;base64,aGVsbG8=", settings=settings) as opened:
        assert opened.file.read() == b"hello" and opened.local.cached
        assert opened.sha256() == hashlib.sha256(b"hello").hexdigest()


# -- the opener itself, in both ways (openat2 where the kernel has it, and the walk) --------------

OPENERS = [pytest.param(open_beneath, id="open_beneath"), pytest.param(walk_beneath, id="walk")]


@pytest.fixture
def links(tree) -> dict[str, Path]:
    root, outside = tree["root"], tree["outside"]
    (root / "deep" / "er").mkdir(parents=True)
    (root / "deep" / "er" / "f.txt").write_bytes(b"deep")
    (root / "rel").symlink_to("photos/x.jpg")
    (root / "abs").symlink_to(root / "photos" / "x.jpg")
    (root / "deep" / "up").symlink_to("../photos")
    (root / "deep" / "er" / "chain").symlink_to("../up/x.jpg")
    (root / "folder_abs").symlink_to(root / "deep")
    (root / "out_rel").symlink_to("../outside/x.jpg")
    (root / "out_abs").symlink_to(outside / "x.jpg")
    (root / "out_dir").symlink_to(outside)
    (root / "deep" / "out_up").symlink_to("../..")
    (root / "dangling").symlink_to("nowhere")
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "root_link").symlink_to(".")
    os.mkfifo(root / "fifo")
    # A link reaching the root by another way than its real path (an alias of the root).
    alias = tree["root"].parent / "alias"
    alias.symlink_to(root)
    (root / "via_alias").symlink_to(alias / "photos" / "x.jpg")
    for n in range(MAX_LINKS + 1):
        (root / f"chain{n}").symlink_to(f"chain{n + 1}")
    (root / f"chain{MAX_LINKS + 1}").write_bytes(b"end of a long chain")
    return tree


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("photos/x.jpg", INSIDE),
        ("rel", INSIDE),
        ("abs", INSIDE),
        ("deep/up/x.jpg", INSIDE),
        ("deep/er/chain", INSIDE),
        ("folder_abs/er/f.txt", b"deep"),
        ("deep/er/../er/f.txt", b"deep"),
        ("root_link/root_link/photos/x.jpg", INSIDE),
        ("via_alias", INSIDE),
        ("photos//x.jpg", INSIDE),
        ("./photos/./x.jpg", INSIDE),
    ],
)
def test_links_that_stay_inside_keep_working(links, opener, relative, expected):
    checked = opener(links["root"], relative)
    assert checked is not None and checked.path.is_relative_to(links["root"])
    assert read(checked) == expected


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(
    "relative", ["out_rel", "out_abs", "out_dir/x.jpg", "deep/out_up/outside/x.jpg", "deep/../../outside/x.jpg", ".."]
)
def test_links_and_dot_dots_that_leave_the_root_are_refused(links, opener, relative):
    with pytest.raises(UnsafePath, match="outside"):
        opener(links["root"], relative)


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize(
    "relative", ["missing.jpg", "photos", "photos/", "photos/x.jpg/", "photos/x.jpg/.", "dangling", "fifo", "."]
)
def test_no_regular_file_there_is_none(links, opener, relative):
    assert opener(links["root"], relative) is None


@pytest.mark.parametrize("opener", OPENERS)
@pytest.mark.parametrize("relative", ["loop1", "chain0"])
def test_link_loops_and_long_chains_are_not_found(links, opener, relative):
    with pytest.raises(NotFound):
        opener(links["root"], relative)
    assert read(opener(links["root"], f"chain{MAX_LINKS - 35}")) == b"end of a long chain"


@pytest.mark.parametrize("opener", OPENERS)
def test_names_too_long_are_not_found_with_the_reason(links, opener):
    with pytest.raises(NotFound, match="cannot open"):
        opener(links["root"], "x" * 300)


# -- the property: random trees, a thread swapping folders for links out, every byte from inside ---

NAMES = st.sampled_from(["a", "b", "img"])
LEAVES = st.one_of(
    st.just(("file",)),
    st.tuples(st.just("link"), st.booleans(), st.booleans(), st.integers(0, 30)),  # outside?, absolute?, pick
)
TREES = st.dictionaries(
    NAMES,
    st.recursive(LEAVES, lambda children: st.dictionaries(NAMES, children, min_size=1, max_size=3), max_leaves=10),
    min_size=1,
    max_size=3,
)


@dataclass
class Built:
    root: Path
    outside: Path
    files: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    #: paths to ask for: the files, the links, and files behind links to folders
    wanted: list[str] = field(default_factory=list)

    @property
    def inside(self) -> set[bytes]:
        return {content(relative) for relative in self.files}


def content(relative: str) -> bytes:
    return f"inside:{relative}".encode()


def build(base: Path, spec: dict[str, Any]) -> Built:
    """The tree under ``base/root``; ``base/outside`` mirrors it with other bytes (so that a path
    led outside always finds a file to serve)."""
    built = Built(base / "root", base / "outside")
    pending_links: list[tuple[str, tuple[Any, ...]]] = []

    def make(folder: str, entries: dict[str, Any]) -> None:
        for name, node in entries.items():
            relative = f"{folder}/{name}" if folder else name
            if isinstance(node, dict):
                (built.root / relative).mkdir(parents=True)
                (built.outside / relative).mkdir(parents=True)
                built.folders.append(relative)
                make(relative, node)
            elif node[0] == "file":
                (built.root / relative).write_bytes(content(relative))
                (built.outside / relative).write_bytes(b"OUTSIDE:" + relative.encode())
                built.files.append(relative)
            else:
                pending_links.append((relative, node))

    built.root.mkdir()
    built.outside.mkdir()
    make("", spec)
    targets = built.files + built.folders
    for relative, (_link, outside, absolute, pick) in pending_links:
        target_relative = targets[pick % len(targets)] if targets else "missing"
        target = (built.outside if outside else built.root) / target_relative
        link = built.root / relative
        os.symlink(target if absolute else os.path.relpath(target, link.parent), link)
        built.links.append(relative)
        built.wanted.append(relative)
        if target_relative in built.folders:
            built.wanted += [f"{relative}/{file[len(target_relative) + 1 :]}" for file in built.files if
                             file.startswith(target_relative + "/")]  # fmt: skip
    built.wanted += built.files
    return built


@dataclass
class Swapper:
    """A thread that keeps swapping folders of the tree for links to their twins outside (relative
    or absolute), and back; one at a time, each put back before the next."""

    built: Built
    seed: int
    stop: threading.Event = field(default_factory=threading.Event)
    failure: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(self.seed)
        try:
            while not self.stop.is_set():
                folder = self.built.root / rng.choice(self.built.folders)
                twin = self.built.outside / folder.relative_to(self.built.root)
                held = swap_for_link(folder, str(twin) if rng.random() < 0.5 else os.path.relpath(twin, folder.parent))
                time.sleep(0)  # let the readers run while the link is there
                os.unlink(folder)
                os.rename(held, folder)
                time.sleep(0)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.failure = exc


@contextlib.contextmanager
def swapping(built: Built, seed: int) -> Iterator[None]:
    swapper = Swapper(built, seed)
    thread = threading.Thread(target=swapper.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        swapper.stop.set()
        thread.join(10)
    assert not thread.is_alive() and swapper.failure is None, swapper.failure


def check_library(resolver: Resolver, built: Built, relative: str) -> None:
    for url in (f"/data/local-files/?d={quote(relative)}", str(built.root / relative)):
        try:
            with resolver.open(url) as opened:
                body = opened.file.read()
                assert body in built.inside, (url, body)
                assert len(body) == opened.stat.st_size == opened.local.size
                assert opened.local.path.is_relative_to(built.root)
        except (NotFound, UnsafePath):
            pass
    try:
        body = read(walk_beneath(built.root, relative))
    except (NotFound, UnsafePath):
        return
    assert body is None or body in built.inside, (relative, body)


def check_service(client: Any, built: Built, relative: str) -> None:
    with client.get(
        "/v1/resources", query_string={"url": f"/data/local-files/?d={relative}"}, headers=AUTH
    ) as response:
        check_answer(response, built, relative)


def check_answer(response: Any, built: Built, relative: str) -> None:
    if response.status_code == 200:
        assert response.data in built.inside, (relative, response.data)
        assert int(response.headers["Content-Length"]) == len(response.data)
    else:
        assert response.status_code in (400, 404), (relative, response.status_code, response.data)
        assert response.get_json()["error"] in ("unsafe_path", "not_found")


@pytest.fixture(scope="module")
def race_bases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh folder per example (real paths: the roots are compared with real paths)."""
    base = Path(os.path.realpath(tmp_path_factory.mktemp("races")))
    return (base / f"tree-{n}" for n in itertools.count())


@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=TREES, seed=st.integers(0, 2**16))
def test_every_byte_served_under_swapping_comes_from_a_regular_file_beneath_the_root(race_bases, spec, seed):
    base = next(race_bases)
    base.mkdir()
    built = build(base, spec)
    settings = Settings(local_files_root=built.root, cache_dir=base / "cache", retries=0)
    resolver = Resolver(settings)
    app = create_app(settings, ServiceSettings(token=TOKEN))
    app.testing = True
    client = app.test_client()
    # Still: what the real path says is what is served (links inside work, links out are refused).
    for relative in built.wanted:
        real = Path(os.path.realpath(built.root / relative))
        expected = real.read_bytes() if real.is_relative_to(built.root) and real.is_file() else None
        for opener in (open_beneath, walk_beneath):
            try:
                assert read(opener(built.root, relative)) == expected, relative
            except UnsafePath:
                assert not real.is_relative_to(built.root), relative
    if not built.folders:
        return
    with swapping(built, seed):
        for _round in range(3):
            for relative in built.wanted:
                check_library(resolver, built, relative)
                check_service(client, built, relative)
