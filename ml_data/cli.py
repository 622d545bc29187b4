"""The ``ml-data`` command: thin over the library."""

from __future__ import annotations

import dataclasses
import errno
import functools
import itertools
import json
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import click

from ml_data._version import __version__
from ml_data.cache import Cache
from ml_data.cli_predictions import import_predictions_command, presign_command
from ml_data.config import DEFAULT_WORKERS, Settings, parse_duration, parse_size
from ml_data.converters.base import ConversionReport, ConvertOptions
from ml_data.errors import MlDataError
from ml_data.pipeline.options import CHOICES
from ml_data.redaction import redact_url
from ml_data.resolvers import LocalFile, Resolver, resolve_many
from ml_data.tasks.resources import walk


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except MlDataError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ml-data")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Data for Label Studio ML backends: resolve task URLs into a safe local cache.

    Configuration comes from the environment: LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY,
    LOCAL_FILES_DOCUMENT_ROOT, ML_DATA_UPLOAD_DIR, ML_DATA_CACHE_DIR, ML_DATA_TIMEOUT, ...
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


def _task_resources(path: str) -> Iterator[tuple[Any, int | None, str | None, bool]]:
    """(value, task id, data key, is a resource URL) for every value in a Label Studio export's
    task data, read as a stream, as the resource walk sees them (without a config: any value that
    looks like a URL); values that are not resource URLs are reported by the caller."""
    from ml_data.tasks.model import read_tasks

    try:
        for number, task in enumerate(read_tasks(path).raw(), 1):
            data = task.get("data") if isinstance(task, Mapping) else None
            task_id = task.get("id") if isinstance(task, Mapping) and isinstance(task.get("id"), int) else None
            if not isinstance(data, Mapping):
                yield f"task #{number} has no data object", task_id, None, False
                continue
            for found in walk(data, None):
                yield found.value, task_id, str(found.path[0]), found.resource
    except (OSError, MlDataError) as exc:
        raise click.ClickException(f"cannot read tasks from {path}: {exc}") from None


@main.command(short_help="Resolve task URLs to local files.")
@click.argument("urls", nargs=-1)
@click.option("--task-id", type=int, help="Task the URLs belong to (to read storage objects through Label Studio).")
@click.option(
    "--tasks",
    "tasks_file",
    type=click.Path(dir_okay=False),
    help="A Label Studio export (JSON list of tasks): resolve every resource URL in the task data.",
)
@click.option("--refresh", is_flag=True, help="Revalidate cached files upstream now, whatever their age.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per URL.")
def resolve(urls: tuple[str, ...], task_id: int | None, tasks_file: str | None, refresh: bool, as_json: bool) -> None:
    """Resolve task URLs to local files and print their paths.

    Every URL is tried; the exit status is 1 if any failed.
    """
    if not urls and not tasks_file:
        raise click.UsageError("give URLs, or --tasks FILE")
    resolver = Resolver(_settings(), refresh=refresh)
    items: Iterable[tuple[Any, int | None, str | None, bool]] = [(url, task_id, None, True) for url in urls]
    if tasks_file:
        items = itertools.chain(items, _task_resources(tasks_file))
    failed = 0
    for url, item_task_id, key, is_resource in items:
        context = {"task_id": item_task_id, "key": key} if key is not None else {}
        if not is_resource:
            # Text to label, numbers, or anything else that names no file: said, never dropped silently.
            shown = url if isinstance(url, str) else type(url).__name__
            note = f"not a resource URL ({shown[:60]!r}), left out"
            if as_json:
                click.echo(json.dumps({**context, "skipped": note}, ensure_ascii=False))
            else:
                where = f"task {item_task_id}, " if item_task_id is not None else ""
                click.echo(f"skipped: {where}data {key!r}: {note}" if key else f"skipped: {url}", err=True)
            continue
        try:
            local = resolver.resolve(url, task_id=item_task_id)
        except MlDataError as exc:
            failed += 1
            if as_json:
                click.echo(
                    json.dumps({**context, "url": redact_url(url), "error": type(exc).__name__, "message": str(exc)})
                )
            else:
                click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            continue
        if as_json:
            click.echo(json.dumps({**context, **_file_record(local)}, ensure_ascii=False))
        else:
            click.echo(str(local.path))
    if failed:
        sys.exit(1)


def _file_record(local: LocalFile) -> dict[str, object]:
    return {
        "url": local.source,
        "path": str(local.path),
        "size": local.size,
        "sha256": local.sha256,
        "content_type": local.content_type,
        "kind": local.kind,
        "cached": local.cached,
    }


def _read_url_list(path: str) -> list[tuple[str, int | None]]:
    """URLs from an export (JSON list of tasks) or a text file with one URL per line."""
    try:
        with open(path, encoding="utf-8") as handle:
            head = handle.read(1).lstrip()
            handle.seek(0)
            if head in ("[", "{"):
                return [(url, task_id) for url, task_id, _key, resource in _task_resources(path) if resource]
            lines = [line.strip() for line in handle]
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    return [(line, None) for line in lines if line and not line.startswith("#")]


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--workers", default=DEFAULT_WORKERS, show_default=True, type=click.IntRange(1, 256), help="Parallel downloads."
)
@click.option("--refresh", is_flag=True, help="Revalidate cached files upstream now, whatever their age.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
def prefetch(file: str, workers: int, refresh: bool, as_json: bool) -> None:
    """Download every resource of FILE into the cache.

    FILE is a Label Studio export (JSON) or a list of URLs, one per line. Failures are reported
    without stopping the rest; the exit status is 1 if any failed.
    """
    settings = _settings()
    items = _read_url_list(file)
    result = resolve_many(items, workers=workers, progress=not as_json, refresh=refresh, settings=settings)
    if as_json:
        report = {
            "resolved": len(result.files),
            "failed": len(result.errors),
            "bytes": sum(local.size for local in {id(f): f for f in result.files.values()}.values()),
            "errors": [
                {"url": redact_url(url), "error": type(exc).__name__, "message": str(exc)}
                for url, exc in result.errors.items()
            ],
        }
        click.echo(json.dumps(report, indent=2))
    else:
        for exc in result.errors.values():
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        click.echo(f"{len(result.files)} resolved, {len(result.errors)} failed (cache: {settings.cache_dir})")
    if result.errors:
        sys.exit(1)


FORMAT_HELP = ", ".join(CHOICES["format"]) + " (case-insensitive; JSON_MIN works too)."


@dataclass(frozen=True)
class ConversionChoices:
    """What ``convert`` and ``fetch`` both let the user choose."""

    annotations: str
    predictions: bool
    model_version: str | None
    on_error: str
    split_sentences: bool
    category_order: str
    category_start: int | None
    #: None: the command's default (convert: Label Studio's layout; fetch: the standard one)
    layout: str | None

    def options(self, **extra: Any) -> dict[str, Any]:
        return {**{key: value for key, value in self.__dict__.items() if value is not None or key != "layout"}, **extra}


def _conversion_options(command: Callable[..., None]) -> Callable[..., None]:
    """The options ``convert`` and ``fetch`` share, handed to the command as one ``choices``."""

    @functools.wraps(command)
    def with_choices(**kwargs: Any) -> None:
        fields = {name: kwargs.pop(name) for name in ConversionChoices.__dataclass_fields__}
        command(choices=ConversionChoices(**fields), **kwargs)

    decorators = [
        click.option(
            "--annotations",
            type=click.Choice(CHOICES["annotations"]),
            default="all",
            show_default=True,
            help="Which annotations of each task.",
        ),
        click.option("--predictions", is_flag=True, help="Export predictions too."),
        click.option("--model-version", help="With --predictions: only this model version's."),
        click.option(
            "--on-error",
            type=click.Choice(CHOICES["on_error"]),
            default="fail",
            show_default=True,
            help="A task that cannot be converted: fail stops the run, skip leaves it out and reports it.",
        ),
        click.option("--split-sentences", is_flag=True, help="CoNLL: a blank line between sentences."),
        click.option(
            "--category-order",
            type=click.Choice(CHOICES["category_order"]),
            default="alphabetical",
            show_default=True,
            help="COCO/YOLO/VOC class ids: alphabetical (as Label Studio documents) or config order.",
        ),
        click.option(
            "--category-start",
            type=click.Choice([str(value) for value in CHOICES["category_start"]]),
            default=None,
            callback=lambda _context, _param, value: None if value is None else int(value),
            help="COCO: the first category id (default 1; 0 numbers them as Label Studio does).",
        ),
        click.option(
            "--layout",
            type=click.Choice(CHOICES["layout"]),
            default=None,
            help="COCO/VOC/YOLO files: 'standard' (what pycocotools, torchvision, detectron2, datumaro and "
            "Ultralytics read as it is; fetch's default) or 'label-studio' (Label Studio's export; convert's default).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
    ]
    wrapped: Callable[..., None] = with_choices
    for decorator in reversed(decorators):
        wrapped = decorator(wrapped)
    return wrapped


def _files(*paths: str | None) -> list[str]:
    """The input files given, for the output folder never to contain them."""
    return [path for path in paths if path]


def _read_config(config_file: str | None) -> str | None:
    if not config_file:
        return None
    with open(config_file, encoding="utf-8") as handle:
        return handle.read()


@main.command()
@click.argument("export", type=click.Path(exists=True))
@click.option("--format", "format_name", required=True, help=FORMAT_HELP)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder: new, empty or an earlier ml-data output (replaced when complete).",
)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="Labeling config XML.")
@_conversion_options
def convert(
    export: str, format_name: str, out: str, config_file: str | None, choices: ConversionChoices, as_json: bool
) -> None:
    """Convert a Label Studio export to a dataset format.

    EXPORT is a JSON list, JSON lines, or a folder of task files; --format names the format.
    Audio for asr-manifest, and images whose results lack their size, are resolved to local files
    (through the cache) with the usual settings. To get the images into the output too, use
    ml-data fetch --export.
    """
    from ml_data.converters import MediaHooks
    from ml_data.converters import convert as run_convert

    config = _read_config(config_file)
    resolver = Resolver(_settings())

    def media(url: str, task_id: int | None) -> str | None:
        try:
            return str(resolver.resolve(url, task_id=task_id).path)
        except MlDataError as exc:
            click.echo(f"warning: {exc}", err=True)
            return None

    def image_sizes(url: str, task_id: int | None) -> tuple[int, int] | None:
        """Only for results without original sizes: the image is resolved and its header read."""
        path = media(url, task_id)
        if path is None:
            return None
        from PIL import Image

        try:
            with Image.open(path) as image:
                return image.size
        except OSError as exc:
            click.echo(f"warning: cannot read the size of {path}: {exc}", err=True)
            return None

    options = ConvertOptions(**choices.options())
    hooks = MediaHooks(local_path=media, image_size=image_sizes)
    try:
        report = run_convert(
            export,
            format_name,
            out,
            config=config,
            options=options,
            media=hooks,
            progress=not as_json,
            protect=_files(config_file),
        )
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    _print_conversion(report)


def _count(number: int, noun: str) -> str:
    """``1 item``, ``2 items``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _print_conversion(report: ConversionReport, indent: str = "") -> None:
    click.echo(
        f"{indent}{report.format}: {_count(report.items_written, 'item')} from {_count(report.tasks, 'task')} "
        f"written to {report.output}"
    )
    for reason, count in report.skipped.most_common():
        click.echo(f"{indent}  skipped {count}: {reason}{_which_tasks(report, reason, count)}")
    for warning in report.warnings[:20]:
        click.echo(f"{indent}  warning: {warning}")


def _which_tasks(report: ConversionReport, reason: str, count: int) -> str:
    """`` (tasks 7, 8)``: the ids of the tasks skipped for ``reason``, as far as the report's
    examples go."""
    ids = [str(task_id) for task_id, example in report.examples if example == reason and task_id is not None]
    if not ids:
        return ""
    more = ", ..." if len(ids) < count else ""
    return f" (task{'s' if count > 1 else ''} {', '.join(ids)}{more})"


@main.command(short_help="Pull a project's tasks and files into a dataset.")
@click.option("--project", "project_id", type=int, help="Label Studio project id (the number in /projects/<id>/).")
@click.option(
    "--export",
    "export_file",
    type=click.Path(exists=True),
    help="Instead of a project: an export file already on disk (with --config for image formats).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="With --export: the labeling config XML.",
)
@click.option("--url", help="Label Studio URL (default: LABEL_STUDIO_URL).")
@click.option("--token", help="Legacy token or personal access token (default: LABEL_STUDIO_API_KEY).")
@click.option("--format", "format_name", default="json", show_default=True, help=FORMAT_HELP)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Dataset folder (default: datasets/project-<id>-<format>); replaced only when complete.",
)
@click.option("--split", help="Deterministic split by task id hash, e.g. train=0.8,val=0.2.")
@click.option(
    "--stratify",
    type=click.Choice(CHOICES["stratify"]),
    help="With --split: each class keeps its share in every split; a task keeps its previous split.",
)
@click.option("--group-by", help="With --split: tasks with one value of data.<key> (e.g. data.patient) share a split.")
@click.option(
    "--workers", type=click.IntRange(1, 256), default=DEFAULT_WORKERS, show_default=True, help="Parallel downloads."
)
@click.option("--copy", "copy_files", is_flag=True, help="Copy resources instead of hard-linking them from the cache.")
@click.option("--snapshot", is_flag=True, help="Pull tasks through an export snapshot (for very large projects).")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: read, resolve and write on a Ray cluster (pip install 'ml-data[ray]'); --out must be a folder "
    "every node sees.",
)
@click.option("--ray-address", help="The Ray cluster to join with --engine ray (auto: this machine's cluster).")
@click.option(
    "--frames",
    default="keyframes",
    show_default=True,
    help="Video tasks (COCO/YOLO/VOC): the frames written as images: keyframes, all or every=N "
    "(pip install 'ml-data[video]').",
)
@_conversion_options
def fetch(
    project_id: int | None,
    export_file: str | None,
    config_file: str | None,
    url: str | None,
    token: str | None,
    format_name: str,
    out: str | None,
    split: str | None,
    stratify: str | None,
    group_by: str | None,
    workers: int,
    copy_files: bool,
    snapshot: bool,
    engine: str,
    ray_address: str | None,
    frames: str,
    choices: ConversionChoices,
    as_json: bool,
) -> None:
    """Pull a project's tasks and files into a training-ready dataset.

    Every resource is cached, then linked or copied into the dataset.

    \b
    ml-data fetch --project 3 --format yolo --split train=0.8,val=0.2
    ml-data fetch --export export.json --config config.xml --format coco --out data/coco
    ml-data fetch --project 3 --format yolo --engine ray --ray-address auto --out /shared/yolo

    Re-running updates the dataset incrementally; a failed run leaves the previous one intact.
    """
    from ml_data.config import normalize_label_studio_url
    from ml_data.pipeline import DatasetOptions
    from ml_data.pipeline import fetch as fetch_dataset

    if (project_id is None) == (export_file is None):
        raise click.UsageError("give either --project ID or --export FILE")
    settings = _settings()
    try:
        changes: dict[str, object] = {}
        if url:
            changes["label_studio_url"] = normalize_label_studio_url(url)
        if token:
            changes["api_key"] = token
        if changes:
            settings = settings.with_changes(**changes)
        options = DatasetOptions(
            **choices.options(
                format=format_name,
                split=split,
                stratify=stratify,
                group_by=group_by,
                link=not copy_files,
                workers=workers,
                frames=frames,
            )
        )
        if export_file is not None and out is None:
            raise click.UsageError("--export needs --out")
        source: int | str = project_id if project_id is not None else str(export_file)
        report = fetch_dataset(
            source,
            options,
            engine=engine,
            settings=settings,
            out=out,
            config=_read_config(config_file) if export_file is not None else None,
            snapshot=snapshot,
            progress=not as_json and engine == "local",
            protect=_files(config_file),
            address=ray_address,
        )
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    if report.unchanged:
        click.echo(f"{report.out}: up to date ({_count(report.tasks, 'task')}, nothing rewritten)")
        return
    click.echo(
        f"{report.out}: {_count(report.tasks, 'task')} ({report.tasks_changed} new or changed, "
        f"{report.tasks_removed} removed); {_count(report.resources, 'resource')} "
        f"({report.resources_resolved} resolved, {report.resources_reused} reused); "
        f"files: {report.files_linked} linked, {report.files_copied} copied, {report.files_kept} kept; "
        f"{_human(report.bytes_total)}"
    )
    for name, conversion in report.conversions.items():
        _print_conversion(conversion, indent="  " if name != "all" else "")
    for failed, reason in list(report.failures.items())[:10]:
        click.echo(f"  left out (resource failed): {failed}: {reason}")


@main.command(short_help="Check what a backend needs to read its files.")
@click.option("--project", "project_id", type=int, help="Also check that a task of this project can be read.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(project_id: int | None, as_json: bool) -> None:
    """Check what an ML backend needs to read its tasks' files.

    One line per check: Label Studio and its token, the Local Files and upload folders (and a
    sample task and the storages its files are in, with --project), the cache, the cloud SDKs.
    The exit status is 1 when a check fails.
    """
    from ml_data.doctor import failed, run_checks

    checks = run_checks(_settings(), project=project_id)
    if as_json:
        click.echo(json.dumps([check.as_dict() for check in checks], indent=2))
    else:
        for check in checks:
            click.echo(f"{check.status:<5} {check.name:<17} {check.message}")
    if failed(checks):
        sys.exit(1)


#: The top-level modules of the ``service`` extra.
_SERVICE_MODULES = frozenset({"flask", "werkzeug", "waitress", "jsonschema"})


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=int, help="Requests served at once.")
@click.option("--no-auth", is_flag=True, help="Serve without a bearer token (loopback addresses only).")
def serve(host: str, port: int, threads: int, no_auth: bool) -> None:
    """Run the sidecar HTTP service.

    It is served by waitress; ML_DATA_SERVICE_TOKEN is required unless --no-auth.
    """
    import ipaddress

    try:
        import waitress

        from ml_data.service import ServiceSettings, create_app
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in _SERVICE_MODULES:
            raise
        raise click.ClickException(
            f"the service needs its extra ({exc.name} is not installed): pip install 'ml-data[service]'"
        ) from None
    if no_auth:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise click.ClickException("--no-auth is only allowed on a loopback address (e.g. 127.0.0.1)")
    try:
        service = ServiceSettings.from_env()
        if no_auth:
            service = dataclasses.replace(service, no_auth=True)
        app = create_app(_settings(), service)
    except MlDataError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        # Binds the port now, so that a port in use is said before anything claims to be serving.
        server = waitress.create_server(app, host=host, port=port, threads=threads, ident="ml-data")
    except OSError as exc:
        reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    click.echo(f"ml-data service on http://{host}:{getattr(server, 'effective_port', port)}")
    server.run()


def _human(size: int | float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _cache() -> Cache:
    return Cache.from_settings(_settings())


@main.group()
def cache() -> None:
    """Inspect and maintain the cache (ML_DATA_CACHE_DIR)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def cache_info(as_json: bool) -> None:
    """Folder, number of entries, bytes, limit, and crash leftovers."""
    store = _cache()
    info = store.scan()
    report = {
        "dir": str(info.root),
        "entries": len(info.entries),
        "bytes": info.size,
        "max_size": info.max_size,
        "leftovers": len(info.leftovers),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    limit = _human(info.max_size) if info.max_size else "none"
    click.echo(f"dir:       {info.root}\nentries:   {len(info.entries)}\nsize:      {_human(info.size)}")
    click.echo(f"limit:     {limit}\nleftovers: {len(info.leftovers)}")


@cache.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def cache_ls(as_json: bool) -> None:
    """Every entry, least recently used first."""
    for entry in sorted(_cache().scan().entries, key=lambda e: e.last_accessed):
        if as_json:
            record = {
                "key": entry.key,
                "path": str(entry.path),
                "size": entry.size,
                "sha256": entry.sha256,
                "source": entry.source,
                "kind": entry.kind,
                "etag": entry.etag,
                "created_at": entry.created_at,
                "validated_at": entry.validated_at,
                "last_accessed": entry.last_accessed,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(f"{_human(entry.size):>9}  {entry.path.name}  {entry.source}")


@cache.command("verify")
@click.option("--fix", is_flag=True, help="Remove the corrupt entries (they are downloaded again when next used).")
def cache_verify(fix: bool) -> None:
    """Re-hash every entry against its metadata.

    The exit status is 1 if any entry is corrupt.
    """
    report = _cache().verify(fix=fix)
    for item in report.corrupt:
        click.echo(f"corrupt: {item.path} ({item.reason})")
    click.echo(f"{report.checked} checked, {len(report.corrupt)} corrupt, {report.removed} removed")
    if report.corrupt and not fix:
        sys.exit(1)


@cache.command("prune")
@click.option("--max-size", help="Remove least recently used entries until the cache is this small (e.g. 10GB).")
@click.option("--older-than", help="Remove entries not used for this long (e.g. 30d, 12h).")
def cache_prune(max_size: str | None, older_than: str | None) -> None:
    """Remove entries by size and age, and crash leftovers.

    Without options, least recently used entries go until the cache fits ML_DATA_CACHE_MAX_SIZE.
    """
    store = _cache()
    try:
        limit = parse_size(max_size) if max_size else store.max_size
        age = parse_duration(older_than) if older_than else None
    except MlDataError as exc:
        raise click.BadParameter(str(exc)) from None
    report = store.prune(max_size=limit, older_than=age)
    click.echo(
        f"removed {len(report.removed)} entries ({_human(report.freed)}), {report.leftovers_removed} leftovers; "
        f"kept {report.kept_busy} in use"
    )


@cache.command("clear")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def cache_clear(yes: bool) -> None:
    """Remove every entry.

    Entries being written by other processes are kept.
    """
    store = _cache()
    if not yes:
        click.confirm(f"Remove everything in {store.root}?", abort=True)
    report = store.clear()
    click.echo(f"removed {len(report.removed)} entries ({_human(report.freed)}); kept {report.kept_busy} in use")


from ml_data.cli_backend import predict, watch  # noqa: E402 (its commands live in a module of their own)
from ml_data.cli_stats import stats  # noqa: E402

main.add_command(predict)
main.add_command(watch)
main.add_command(import_predictions_command)
main.add_command(presign_command)
main.add_command(stats)

if __name__ == "__main__":  # pragma: no cover
    main()
