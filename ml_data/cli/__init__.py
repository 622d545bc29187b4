"""The ``ml-data`` command: thin over the library. One module per group of commands; this one
holds the top-level group and registers them all."""

from __future__ import annotations

import logging

import click

from ml_data._version import __version__
from ml_data.cli.backend import predict, watch
from ml_data.cli.cache import cache
from ml_data.cli.datasets import convert, fetch
from ml_data.cli.doctor import doctor
from ml_data.cli.predictions import import_predictions_command, presign_command
from ml_data.cli.resolve import prefetch, resolve
from ml_data.cli.serve import serve
from ml_data.cli.stats import stats


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


_COMMANDS = (resolve, prefetch, convert, fetch, doctor, serve, cache, predict, watch)
for _command in (*_COMMANDS, import_predictions_command, presign_command, stats):
    main.add_command(_command)

__all__ = ["main"]
