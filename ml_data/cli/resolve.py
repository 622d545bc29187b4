"""``ml-data resolve`` and ``ml-data prefetch``: task URLs to local files, thin over the resolver."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click

from ml_data.cli.common import settings
from ml_data.config import DEFAULT_WORKERS
from ml_data.errors import MlDataError
from ml_data.redaction import redact_url
from ml_data.resolvers import LocalFile, Resolver, resolve_many
from ml_data.tasks.url_lists import ExportValue, export_values, is_export, url_lines


def _task_resources(path: str) -> Iterator[ExportValue]:
    """The values of an export's task data; an export that cannot be read is a usage error."""
    try:
        yield from export_values(path)
    except (OSError, MlDataError) as exc:
        raise click.ClickException(f"cannot read tasks from {path}: {exc}") from None


@click.command(short_help="Resolve task URLs to local files.")
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
    resolver = Resolver(settings(), refresh=refresh)
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
        if is_export(path):
            return [(value.value, value.task_id) for value in _task_resources(path) if value.resource]
        lines = url_lines(path)
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror or exc}") from None
    return [(line, None) for line in lines]


@click.command()
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
    current = settings()
    items = _read_url_list(file)
    result = resolve_many(items, workers=workers, progress=not as_json, refresh=refresh, settings=current)
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
        click.echo(f"{len(result.files)} resolved, {len(result.errors)} failed (cache: {current.cache_dir})")
    if result.errors:
        sys.exit(1)
