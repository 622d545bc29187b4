"""The ``ml-data`` commands ``import-predictions`` and ``presign``, thin over
:func:`ml_data.import_predictions` and :func:`ml_data.presign`."""

from __future__ import annotations

import json

import click

from ml_data.cli.common import settings
from ml_data.errors import MlDataError

_FORMATS = ("yolo", "yolo-obb", "yolo-seg", "coco", "voc")


@click.command("import-predictions", short_help="Attach a model's output as predictions.")
@click.argument("folder", type=click.Path(exists=True))
@click.option("--format", "format_name", type=click.Choice(_FORMATS), required=True, help="What the model wrote.")
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--model-version", help="The predictions' model version (Label Studio shows and filters by it).")
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False),
    help="The dataset ml-data fetched that the model ran on (its manifest.json maps images to tasks; "
    "default: FOLDER itself). Without a manifest, images are matched by file name.",
)
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Path(dir_okay=False),
    help="Write the predictions to this JSON file instead of posting them.",
)
@click.option(
    "--on-error",
    type=click.Choice(["fail", "skip"]),
    default="fail",
    show_default=True,
    help="A bad item: stop before anything is posted (fail), or leave it out and name it (skip).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete the tasks' earlier predictions of this model version before posting (default: "
    "leave out a prediction its task already holds, same version and result).",
)
@click.option("--url", help="Label Studio URL (default: LABEL_STUDIO_URL).")
@click.option("--token", help="Legacy token or personal access token (default: LABEL_STUDIO_API_KEY).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def import_predictions_command(
    folder: str,
    format_name: str,
    project_id: int,
    model_version: str | None,
    dataset: str | None,
    dry_run: str | None,
    on_error: str,
    replace: bool,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Attach a model's output folder (YOLO labels, a COCO file, VOC XML) to the project's tasks
    as predictions.

    \b
    ml-data import-predictions runs/detect/predict --format yolo --project 3 \\
        --dataset datasets/project-3-yolo --model-version yolo11n
    ml-data import-predictions preds/ --format coco --project 3 --dry-run predictions.json

    Every item is read and checked before anything is posted: with --on-error fail (the default)
    a bad one stops the import with nothing posted; with skip it is left out and listed.
    """
    from ml_data.backend.predictions import import_predictions

    try:
        report = import_predictions(
            folder,
            project=project_id,
            format=format_name,
            model_version=model_version,
            dataset=dataset,
            dry_run=dry_run,
            on_error=on_error,
            replace=replace,
            settings=settings(url, token),
        )
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    done = f"written to {report.dry_run}" if report.dry_run else f"{report.posted} posted to project {report.project}"
    click.echo(
        f"{report.items} images read; {report.predictions} predictions ({report.regions} regions) {done}; "
        f"matched by {report.matched_by}"
    )
    if report.already_posted:
        click.echo(f"  left out {report.already_posted}: already in Label Studio (same task, version and result)")
    if report.replaced:
        click.echo(f"  replaced {report.replaced} earlier predictions of this version")
    for reason, count in report.skipped.most_common():
        click.echo(f"  left out {count}: {reason}")
    for item, reason in report.examples[:10]:
        click.echo(f"    {item}: {reason}")
    for warning in report.warnings[:20]:
        click.echo(f"  warning: {warning}")


@click.command("presign", short_help="Print a link a remote service can open.")
@click.argument("url")
@click.option("--task-id", type=int, help="The task the URL belongs to.")
@click.option("--expires", type=click.IntRange(1, 7 * 24 * 3600), default=600, show_default=True, help="Seconds.")
def presign_command(url: str, task_id: int | None, expires: int) -> None:
    """Print a URL a remote service can open for a task's resource, for EXPIRES seconds: the
    cloud's presigned URL, or a link to the sidecar signed with ML_DATA_SIGNING_KEY."""
    from ml_data.backend.presign import presign

    try:
        click.echo(presign(url, task_id=task_id, expires=expires, settings=settings()))
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
