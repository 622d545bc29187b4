"""``ml-data doctor``: what a backend needs to read its files, one check a line."""

from __future__ import annotations

import json
import sys

import click

from ml_data.cli.common import settings


@click.command(short_help="Check what a backend needs to read its files.")
@click.option("--project", "project_id", type=int, help="Also check that a task of this project can be read.")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor(project_id: int | None, as_json: bool) -> None:
    """Check what an ML backend needs to read its tasks' files.

    One line per check: Label Studio and its token, the Local Files and upload folders (and a
    sample task and the storages its files are in, with --project), the cache, the cloud SDKs.
    The exit status is 1 when a check fails.
    """
    from ml_data.doctor import failed, run_checks

    checks = run_checks(settings(), project=project_id)
    if as_json:
        click.echo(json.dumps([check.as_dict() for check in checks], indent=2))
    else:
        for check in checks:
            click.echo(f"{check.status:<5} {check.name:<17} {check.message}")
    if failed(checks):
        sys.exit(1)
