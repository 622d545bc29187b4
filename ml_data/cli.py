"""The ``ml-data`` command: thin over the library."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import click

from ml_data._version import __version__
from ml_data.config import Settings
from ml_data.errors import MlDataError
from ml_data.redaction import redact_url
from ml_data.resolvers import Resolver
from ml_data.resolvers.refs import looks_like_resource


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


def _task_resources(path: str) -> Iterator[tuple[str, int | None, str]]:
    """(url, task id, data key) for every resource URL in a Label Studio export's task data."""
    try:
        with open(path, encoding="utf-8") as handle:
            tasks = json.load(handle)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read tasks from {path}: {exc}") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise click.ClickException(f"{path}: expected a JSON list of tasks")
    for task in tasks:
        data = task.get("data") if isinstance(task, dict) else None
        if not isinstance(data, dict):
            continue
        task_id = task.get("id") if isinstance(task.get("id"), int) else None
        for key, value in data.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if looks_like_resource(item):
                    yield item, task_id, key


@main.command()
@click.argument("urls", nargs=-1)
@click.option("--task-id", type=int, help="Task the URLs belong to (for cloud objects via Label Studio).")
@click.option(
    "--tasks",
    "tasks_file",
    type=click.Path(dir_okay=False),
    help="A Label Studio export (JSON list of tasks): resolve every resource URL in the task data.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per URL.")
def resolve(urls: tuple[str, ...], task_id: int | None, tasks_file: str | None, as_json: bool) -> None:
    """Resolve task URLs to local files and print their paths.

    Every URL is tried; the exit status is 1 if any failed.
    """
    if not urls and not tasks_file:
        raise click.UsageError("give URLs, or --tasks FILE")
    resolver = Resolver(_settings())
    items: list[tuple[str, int | None, str | None]] = [(url, task_id, None) for url in urls]
    if tasks_file:
        items.extend(_task_resources(tasks_file))
    failed = 0
    for url, item_task_id, key in items:
        context = {"task_id": item_task_id, "key": key} if key is not None else {}
        try:
            local = resolver.resolve(url, task_id=item_task_id)
        except MlDataError as exc:
            failed += 1
            if as_json:
                click.echo(json.dumps({**context, "url": redact_url(url), "error": type(exc).__name__, "message": str(exc)}))
            else:
                click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            continue
        if as_json:
            record = {
                **context,
                "url": local.source,
                "path": str(local.path),
                "size": local.size,
                "sha256": local.sha256,
                "content_type": local.content_type,
                "kind": local.kind,
                "cached": local.cached,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(str(local.path))
    if failed:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
