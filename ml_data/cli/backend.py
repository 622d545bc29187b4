"""``ml-data predict`` and ``ml-data watch``: thin over :mod:`ml_data.backend`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ml_data.cli.common import settings
from ml_data.errors import MlDataError


@click.command(short_help="Predict a project's tasks with a model.")
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--backend", help="An ML backend's URL (it is never sent the Label Studio token).")
@click.option(
    "--model", help="Instead of a backend: a function 'package.module:function' given tasks with local files."
)
@click.option("--model-version", help="The version the predictions are stored with (default: the backend's).")
@click.option("--only-unlabeled", is_flag=True, help="Leave out tasks that have an annotation.")
@click.option("--batch", type=click.IntRange(1, 10_000), default=32, show_default=True, help="Tasks per request.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Batches in parallel.")
@click.option(
    "--on-error",
    type=click.Choice(["skip", "fail"]),
    default="skip",
    show_default=True,
    help="A batch the backend answers badly: record it and go on (skip), or stop (fail).",
)
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
            settings=settings(url, token),
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


#: Bounds of the poll interval: often enough to notice, rarely enough not to load Label Studio.
MIN_INTERVAL, MAX_INTERVAL = 1.0, 3600.0


@click.command(
    short_help="Train whenever enough tasks changed.",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--project", "project_id", type=int, required=True, help="Label Studio project id.")
@click.option("--min-changed", type=click.IntRange(1), default=50, show_default=True, help="Tasks changed to train.")
@click.option("--quiet-for", default="10m", show_default=True, help="Train once no change came for this long.")
@click.option("--format", "format_name", default="json", show_default=True, help="The dataset's format.")
@click.option("--split", help="Deterministic split by task id hash, e.g. train=0.8,val=0.2.")
@click.option(
    "--out", type=click.Path(file_okay=False), help="Dataset folder (default: datasets/project-<id>-<format>)."
)
@click.option("--interval", default="60s", show_default=True, help=f"Time between polls ({MIN_INTERVAL:.0f}s to 1h).")
@click.option("--once", is_flag=True, help="Poll once, train if enough changed (whatever --quiet-for), and exit.")
@click.option("--url", help="Label Studio URL (default: LABEL_STUDIO_URL).")
@click.option("--token", help="Legacy token or personal access token (default: LABEL_STUDIO_API_KEY).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def watch(
    project_id: int,
    min_changed: int,
    quiet_for: str,
    format_name: str,
    split: str | None,
    out: str | None,
    interval: str,
    once: bool,
    url: str | None,
    token: str | None,
    command: tuple[str, ...],
) -> None:
    """Poll the project; once --min-changed tasks changed since the last dataset and no change came
    for --quiet-for, update the dataset and run COMMAND, with {dataset} and {manifest} replaced by
    their paths. Processes and hosts sharing the dataset's folder train one at a time.

    \b
    ml-data watch --project 3 --min-changed 50 --format yolo -- python train.py {dataset}
    """
    from ml_data.backend import TrainingTrigger
    from ml_data.parsing import parse_duration

    try:
        pause = min(MAX_INTERVAL, max(MIN_INTERVAL, parse_duration(interval)))
        target = Path(out) if out else Path("datasets") / f"project-{project_id}-{format_name.lower()}"
        trigger = TrainingTrigger(
            project=project_id,
            out=target,
            train=_command_runner(command),
            format=format_name,
            split=split,
            min_changed=min_changed,
            quiet_for=quiet_for,
            settings=settings(url, token),
        )
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    while True:
        try:
            state = trigger.poll()
            due = state.changed >= min_changed if once else state.due_in == 0
            run = trigger.run_once() if due else None
        except MlDataError as exc:
            if once:
                raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            run = None
        else:
            click.echo(f"{state.changed} of {min_changed} tasks changed since the last dataset")
        if run is not None:
            outcome = f"failed: {run.error}" if run.error else "done"
            click.echo(f"trained on {run.dataset} ({run.changed} tasks changed): {outcome}")
        if once:
            if run is not None and run.error:
                sys.exit(1)
            return
        time.sleep(pause)


def _command_runner(command: tuple[str, ...]) -> Callable[[Path, dict[str, Any]], None]:
    """``train`` for the trigger: the command, {dataset} and {manifest} replaced; a non-zero exit
    status is the run's error."""

    def run(dataset: Path, _manifest: dict[str, Any]) -> None:
        args = [
            part.replace("{dataset}", str(dataset)).replace("{manifest}", str(dataset / "manifest.json"))
            for part in command
        ]
        finished = subprocess.run(args, check=False)
        if finished.returncode != 0:
            raise RuntimeError(f"{args[0]} exited with status {finished.returncode}")

    return run
