"""What several command groups share: reading the settings, and printing sizes, counts and a
conversion's report."""

from __future__ import annotations

import click

from ml_data.config import Settings
from ml_data.converters.base import ConversionReport
from ml_data.errors import MlDataError


def settings(url: str | None = None, token: str | None = None) -> Settings:
    """The environment's settings, with a command's ``--url`` and ``--token`` over Label Studio's
    URL and token; a bad value is a usage error, said without a traceback."""
    from ml_data.parsing import normalize_label_studio_url

    try:
        current = Settings.from_env()
        changes: dict[str, object] = {}
        if url:
            changes["label_studio_url"] = normalize_label_studio_url(url)
        if token:
            changes["api_key"] = token
        return current.with_changes(**changes) if changes else current
    except MlDataError as exc:
        raise click.ClickException(str(exc)) from None


def human(size: int | float) -> str:
    """``512 B``, ``1.5 MB``: a size as people read it (decimal units)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def count(number: int, noun: str) -> str:
    """``1 item``, ``2 items``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def print_conversion(report: ConversionReport, indent: str = "") -> None:
    """A conversion's report: what was written, what was skipped (and which tasks), warnings."""
    click.echo(
        f"{indent}{report.format}: {count(report.items_written, 'item')} from {count(report.tasks, 'task')} "
        f"written to {report.output}"
    )
    for reason, number in report.skipped.most_common():
        click.echo(f"{indent}  skipped {number}: {reason}{_which_tasks(report, reason, number)}")
    for warning in report.warnings[:20]:
        click.echo(f"{indent}  warning: {warning}")


def _which_tasks(report: ConversionReport, reason: str, number: int) -> str:
    """`` (tasks 7, 8)``: the ids of the tasks skipped for ``reason``, as far as the report's
    examples go."""
    ids = [str(task_id) for task_id, example in report.examples if example == reason and task_id is not None]
    if not ids:
        return ""
    more = ", ..." if len(ids) < number else ""
    return f" (task{'s' if number > 1 else ''} {', '.join(ids)}{more})"
