"""``ml-data predict`` and ``ml-data watch``: thin over :mod:`ml_data.backend`."""

from __future__ import annotations

import json
import sys
from collections import Counter

import click

from ml_data.config import Settings
from ml_data.errors import MlDataError


def _settings(url: str | None, token: str | None) -> Settings:
    from ml_data.config import normalize_label_studio_url

    try:
        settings = Settings.from_env()
        changes: dict[str, object] = {}
        if url:
            changes["label_studio_url"] = normalize_label_studio_url(url)
        if token:
            changes["api_key"] = token
        return settings.with_changes(**changes) if changes else settings
    except MlDataError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--backend", help="An ML backend's URL (it is never sent the Label Studio token).")
@click.option(
    "--model", help="Instead of a backend: a function 'package.module:function' given tasks with local files."
)
@click.option("--model-version", help="The version the predictions are stored with (default: the backend's).")
@click.option("--only-unlabeled", is_flag=True, help="Leave out tasks that have an annotation.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=32, show_default=True, help="Tasks per request.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Batches in parallel.")
@click.option("--on-error", type=click.Choice(["skip", "fail"]), default="skip", show_default=True)
@click.option(
    "--dry-run", "dry_run", type=click.Path(dir_okay=False), help="Write the predictions to this JSON file instead."
)
@click.option("--url", help="Label Studio URL (default: LABEL_STUDIO_URL).")
@click.option("--token", help="Legacy token or personal access token (default: LABEL_STUDIO_API_KEY).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def predict(
    project_id: int,
    backend: str | None,
    model: str | None,
    model_version: str | None,
    only_unlabeled: bool,
    batch: int,
    workers: int,
    on_error: str,
    dry_run: str | None,
    url: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Predict the project's tasks with an ML backend or a Python function and store the results
    as predictions of the model version. A rerun leaves out the tasks that already have one, so a
    stopped run continues where it was. Exit status 1 when a task failed.

    \b
    ml-data predict --project 3 --backend http://localhost:9090 --model-version v5
    ml-data predict --project 3 --model mymodel.infer:predict --model-version v5 --only-unlabeled
    """
    from ml_data.backend import predict_project

    if (backend is None) == (model is None):
        raise click.UsageError("give either --backend URL or --model package.module:function")
    try:
        report = predict_project(
            project_id,
            backend=backend,
            model=model,
            model_version=model_version,
            only_unlabeled=only_unlabeled,
            batch=batch,
            workers=workers,
            on_error="fail" if on_error == "fail" else "skip",
            dry_run=dry_run,
            settings=_settings(url, token),
            progress=not as_json,
        )
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        where = f"written to {report.dry_run}" if report.dry_run else f"stored as {report.model_version}"
        click.echo(
            f"project {report.project}: {report.predicted} predicted ({report.predictions} predictions {where}), "
            f"{sum(report.skipped.values())} skipped, {len(report.failed)} failed, of {report.tasks} tasks"
        )
        for reason, count in report.skipped.most_common():
            click.echo(f"  skipped {count}: {reason}")
        for reason, count in _reasons(report.failed).most_common(10):
            click.echo(f"  failed {count}: {reason}")
    if report.failed:
        sys.exit(1)


def _reasons(failed: dict[int, str]) -> Counter[str]:
    return Counter(failed.values())
