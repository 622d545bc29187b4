"""``ml-data convert`` and ``ml-data fetch``: an export to a dataset format, and a project's tasks
and files to a training-ready dataset, thin over the converters and the pipeline."""

from __future__ import annotations

import json
from typing import Any

import click

from ml_data.cli.common import count, human, print_conversion, settings
from ml_data.cli.options import conversion_options, dataset_option, filter_options
from ml_data.converters.base import ConvertOptions
from ml_data.errors import MlDataError
from ml_data.resolvers import Resolver


def _files(*paths: str | None) -> list[str]:
    """The input files given, for the output folder never to contain them."""
    return [path for path in paths if path]


def _read_config(config_file: str | None) -> str | None:
    if not config_file:
        return None
    with open(config_file, encoding="utf-8") as handle:
        return handle.read()


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


@click.command()
@click.argument("export", type=click.Path(exists=True))
@dataset_option("format", required=True)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder: new, empty or an earlier ml-data output (replaced when complete).",
)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), help="Labeling config XML.")
@dataset_option("frames")
@conversion_options
def convert(
    export: str,
    format_name: str,
    out: str,
    config_file: str | None,
    frames: str,
    choices: dict[str, Any],
    as_json: bool,
) -> None:
    """Convert a Label Studio export to a dataset format.

    EXPORT is a JSON list, JSON lines, or a folder of task files; --format names the format.
    Audio for asr-manifest, and images whose results lack their size, are resolved to local files
    (through the cache) with the usual settings. Video tasks (COCO/YOLO/VOC with <Video> and
    <VideoRectangle>) become frame images in the output, with their boxes, the frames chosen by
    --frames, as fetch writes them. To get other images into the output too, use ml-data fetch
    --export.
    """
    from ml_data.pipeline import convert_export

    config = _read_config(config_file)
    try:
        options = ConvertOptions(**choices)
        report = convert_export(
            export,
            format_name,
            out,
            config=config,
            options=options,
            frames=frames,
            resolver=Resolver(settings()),
            warn=_warn,
            progress=not as_json,
            protect=_files(config_file),
        )
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    print_conversion(report)


@click.command(short_help="Pull a project's tasks and files into a dataset.")
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
@dataset_option("format")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Dataset folder (default: datasets/project-<id>-<format>); replaced only when complete.",
)
@dataset_option("split")
@dataset_option("stratify")
@dataset_option("group_by")
@dataset_option("workers")
@click.option("--copy", "copy_files", is_flag=True, help="Copy resources instead of hard-linking them from the cache.")
@click.option("--snapshot", is_flag=True, help="Pull tasks through an export snapshot (for very large projects).")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="ray: read, resolve and write on a Ray cluster (pip install 'ml-data[ray]'); --out must be a folder "
    "every node sees, or an s3://, gs:// or az:// prefix.",
)
@click.option("--ray-address", help="The Ray cluster to join with --engine ray (auto: this machine's cluster).")
@dataset_option("frames")
@filter_options
@conversion_options
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
    filters: dict[str, Any],
    choices: dict[str, Any],
    as_json: bool,
) -> None:
    """Pull a project's tasks and files into a training-ready dataset.

    Every resource is cached, then linked or copied into the dataset.

    \b
    ml-data fetch --project 3 --format yolo --split train=0.8,val=0.2
    ml-data fetch --export export.json --config config.xml --format coco --out data/coco
    ml-data fetch --project 3 --format yolo --engine ray --ray-address auto --out /shared/yolo
    ml-data fetch --project 3 --format coco --view 12 --finished only --labels cat,dog

    Re-running updates the dataset incrementally; a failed run leaves the previous one intact.
    """
    from ml_data.config import normalize_label_studio_url
    from ml_data.pipeline import DatasetOptions
    from ml_data.pipeline import fetch as fetch_dataset

    if (project_id is None) == (export_file is None):
        raise click.UsageError("give either --project ID or --export FILE")
    current = settings()
    try:
        changes: dict[str, object] = {}
        if url:
            changes["label_studio_url"] = normalize_label_studio_url(url)
        if token:
            changes["api_key"] = token
        if changes:
            current = current.with_changes(**changes)
        # the split as given: DatasetOptions parses it (and names a bad one)
        given: dict[str, Any] = {
            "format": format_name,
            "split": split,
            "stratify": stratify,
            "group_by": group_by,
            "link": not copy_files,
            "workers": workers,
            "frames": frames,
        }
        options = DatasetOptions(**choices, **filters, **given)
        if export_file is not None and out is None:
            raise click.UsageError("--export needs --out")
        source: int | str = project_id if project_id is not None else str(export_file)
        report = fetch_dataset(
            source,
            options,
            engine=engine,
            settings=current,
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
        click.echo(f"{report.out}: up to date ({count(report.tasks, 'task')}, nothing rewritten)")
        return
    click.echo(
        f"{report.location or report.out}: {count(report.tasks, 'task')} ({report.tasks_changed} new or changed, "
        f"{report.tasks_removed} removed); {count(report.resources, 'resource')} "
        f"({report.resources_resolved} resolved, {report.resources_reused} reused); "
        f"files: {report.files_linked} linked, {report.files_copied} copied, {report.files_kept} kept; "
        f"{human(report.bytes_total)}"
    )
    if report.left_out:
        click.echo(
            "  left out by filters: " + ", ".join(f"{name} {number}" for name, number in report.left_out.items())
        )
    if report.regions_dropped:
        click.echo(
            "  regions of other labels taken out: "
            + ", ".join(f"{label} {number}" for label, number in sorted(report.regions_dropped.items()))
        )
    for name, conversion in report.conversions.items():
        print_conversion(conversion, indent="  " if name != "all" else "")
    for failed, reason in list(report.failures.items())[:10]:
        click.echo(f"  left out (resource failed): {failed}: {reason}")
