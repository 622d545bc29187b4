"""Every string a task can hold is one URL's typed outcome: a Ref or a typed error from the parse,
a file or a typed failure from a resolve, for that URL alone.

Regression: ``file://[x``, ``foo://[`` and ``a://]`` made ``urlsplit`` raise a bare ValueError
("Invalid IPv6 URL"); ``resolve_many`` raised it for the whole batch, and ``ml-data resolve`` and
``ml-data fetch --on-error skip`` ended in a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ml_data import Resolver, Settings, resolve_many
from ml_data.cli import main
from ml_data.errors import MlDataError, NotFound, UnsafePath, UnsupportedURL, URLNotAllowed
from ml_data.redaction import redact_url
from ml_data.resolvers.parse import parse_ref
from ml_data.resolvers.refs import CloudRef, HttpRef, Ref
from tests.support.url_strategies import REPORTED, any_url, reaches_network

LABEL_STUDIO = "http://127.0.0.1:8080/label-studio"
S3_ENDPOINT = "http://127.0.0.1:9000"
FIXTURES_ACROSS_EXAMPLES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@pytest.mark.parametrize("url", REPORTED)
@pytest.mark.parametrize("label_studio_url", [None, LABEL_STUDIO])
def test_the_reported_strings_are_typed_errors_naming_the_url(url, label_studio_url):
    # UnsupportedURL, or UnsafePath for a one-letter scheme (a:// reads as a Windows drive).
    with pytest.raises((UnsupportedURL, UnsafePath)) as raised:
        parse_ref(url, label_studio_url=label_studio_url)
    assert raised.value.url == url == redact_url(url)
    assert url in str(raised.value)


@given(url=any_url, label_studio_url=st.sampled_from([None, LABEL_STUDIO]))
@hypothesis_settings(max_examples=3000, deadline=None)
def test_parse_ref_gives_a_ref_or_a_typed_error(url, label_studio_url):
    try:
        ref = parse_ref(url, label_studio_url=label_studio_url, s3_endpoint_url=S3_ENDPOINT)
    except (UnsupportedURL, UnsafePath) as exc:
        assert isinstance(exc, ValueError)
        assert isinstance(str(exc), str)
    else:
        assert isinstance(ref, Ref)
        assert isinstance(ref.identity, str) and isinstance(ref.filename, str)


def _offline(ref: Ref) -> None:
    """A guard that lets no URL reach a server: tests talk only to servers they start."""
    if isinstance(ref, HttpRef | CloudRef):
        raise URLNotAllowed("no network in this test", url=ref.raw)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(b"good")
    return folder


@pytest.fixture
def offline_resolver(root: Path, tmp_path: Path) -> Resolver:
    return Resolver(Settings(cache_dir=tmp_path / "cache", local_files_root=root), guard=_offline)


GOOD = "/data/local-files/?d=good.jpg"


@pytest.mark.parametrize("bad", REPORTED)
def test_one_bad_url_is_one_typed_failure_and_the_others_succeed(offline_resolver, bad):
    result = resolve_many([bad, GOOD], resolver=offline_resolver, progress=False, workers=2)
    assert result.files[GOOD].path.read_bytes() == b"good"
    assert list(result.errors) == [bad]
    assert isinstance(result.errors[bad], UnsupportedURL | UnsafePath) and result.errors[bad].url == bad


@given(urls=st.lists(any_url, min_size=1, max_size=4, unique=True))
@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=FIXTURES_ACROSS_EXAMPLES)
def test_resolve_many_gives_each_url_its_own_outcome(offline_resolver, urls):
    result = resolve_many([*urls, GOOD], resolver=offline_resolver, progress=False, workers=2)
    assert result.files[GOOD].path.read_bytes() == b"good"
    assert set(result.files) | set(result.errors) == {*urls, GOOD}
    assert not set(result.files) & set(result.errors)
    assert all(isinstance(error, MlDataError) for error in result.errors.values())


def test_a_file_name_longer_than_the_file_system_allows_is_not_found(offline_resolver, root):
    """Regression: Path.is_file raised ENAMETOOLONG (an OSError) for a plain path, out of resolve."""
    long_name = "n" * 300 + ".jpg"
    for url in (long_name, f"{root}/{long_name}", f"file://{root}/{long_name}", f"/data/local-files/?d={long_name}"):
        with pytest.raises(NotFound):
            offline_resolver.resolve(url)


def _cli_env(root: Path, tmp_path: Path) -> dict[str, str]:
    return {"ML_DATA_CACHE_DIR": str(tmp_path / "cache"), "LOCAL_FILES_DOCUMENT_ROOT": str(root)}


def _typed_lines(output: str) -> list[dict[str, object]]:
    """The ``--json`` lines: each a file or a typed error."""
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    for line in lines:
        assert "path" in line or "skipped" in line or line["error"] in _ERROR_NAMES, line
    return lines


def _names(cls: type) -> set[str]:
    return {cls.__name__}.union(*(_names(sub) for sub in cls.__subclasses__()))


_ERROR_NAMES = _names(MlDataError)


@pytest.mark.parametrize("bad", REPORTED)
def test_the_resolve_command_reports_a_bad_url_and_goes_on(root, tmp_path, bad):
    result = CliRunner().invoke(main, ["resolve", "--json", "--", bad, GOOD], env=_cli_env(root, tmp_path))
    assert result.exit_code == 1 and not isinstance(result.exception, ValueError), result.output
    assert "Traceback" not in result.output
    first, second = _typed_lines(result.stdout)
    assert first["error"] in ("UnsupportedURL", "UnsafePath") and first["url"] == bad
    assert second["path"] == str(root / "good.jpg")


@given(url=any_url)
@example(url="file://[x")
@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=FIXTURES_ACROSS_EXAMPLES)
def test_the_resolve_command_never_ends_in_a_traceback(root, tmp_path, url):
    assume(not reaches_network(url))
    result = CliRunner().invoke(main, ["resolve", "--json", "--", url], env=_cli_env(root, tmp_path))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1) and "Traceback" not in result.output
    assert len(_typed_lines(result.stdout)) == 1


def _export(path: Path, urls: list[str]) -> Path:
    tasks = [
        {"id": number, "data": {"image": url}, "annotations": [{"id": number, "result": []}]}
        for number, url in enumerate([*urls, GOOD], 1)
    ]
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def _fetch_skip(export: Path, out: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    arguments = ["fetch", "--export", str(export), "--format", "json", "--out", str(out), "--on-error", "skip"]
    return CliRunner().invoke(main, [*arguments, "--json"], env=env)


def test_fetch_with_skip_leaves_out_the_task_of_a_bad_url(root, tmp_path):
    export = _export(tmp_path / "export.json", list(REPORTED[:3]))
    result = _fetch_skip(export, tmp_path / "out", _cli_env(root, tmp_path))
    assert result.exit_code == 0 and result.exception is None, result.output
    report = json.loads(result.stdout)
    # foo://[ and a://] do not look like resources: their tasks are text, kept as they are.
    assert list(report["failures"]) == ["file://[x"] and "task 1" in report["failures"]["file://[x"]
    assert (tmp_path / "out" / "media" / "good.jpg").read_bytes() == b"good"


@given(urls=st.lists(any_url, min_size=1, max_size=3, unique=True))
@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=FIXTURES_ACROSS_EXAMPLES)
def test_fetch_with_skip_gives_a_dataset_or_a_typed_error(root, tmp_path_factory, urls):
    assume(not any(reaches_network(url) for url in urls))
    work = tmp_path_factory.mktemp("fetch")
    result = _fetch_skip(_export(work / "export.json", urls), work / "out", _cli_env(root, work))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        report = json.loads(result.stdout)
        assert (work / "out" / "manifest.json").is_file() and report["tasks"] == len(urls) + 1
    else:
        assert result.exit_code == 1 and result.output.startswith("Error: "), result.output
