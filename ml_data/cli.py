"""The ``ml-data`` command: thin over the library."""

from __future__ import annotations

import json
import logging
import sys

import click

from ml_data._version import __version__
from ml_data.config import Settings
from ml_data.errors import MlDataError
from ml_data.resolvers import Resolver


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


@main.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--task-id", type=int, help="Task the URLs belong to (for cloud objects via Label Studio).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per URL.")
def resolve(urls: tuple[str, ...], task_id: int | None, as_json: bool) -> None:
    """Resolve task URLs to local files and print their paths.

    Every URL is tried; the exit status is 1 if any failed.
    """
    resolver = Resolver(_settings())
    failed = 0
    for url in urls:
        try:
            local = resolver.resolve(url, task_id=task_id)
        except MlDataError as exc:
            failed += 1
            if as_json:
                click.echo(json.dumps({"url": exc.url, "error": type(exc).__name__, "message": str(exc)}))
            else:
                click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            continue
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "url": local.source,
                        "path": str(local.path),
                        "size": local.size,
                        "sha256": local.sha256,
                        "content_type": local.content_type,
                        "kind": local.kind,
                        "cached": local.cached,
                    }
                )
            )
        else:
            click.echo(str(local.path))
    if failed:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
