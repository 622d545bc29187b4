"""``ml-data cache``: inspect and maintain the cache, thin over :class:`ml_data.cache.Cache`."""

from __future__ import annotations

import json
import sys

import click

from ml_data.cache import Cache
from ml_data.cli.common import human, settings
from ml_data.config import parse_duration, parse_size
from ml_data.errors import MlDataError


def _cache() -> Cache:
    return Cache.from_settings(settings())


@click.group()
def cache() -> None:
    """Inspect and maintain the cache (ML_DATA_CACHE_DIR)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def cache_info(as_json: bool) -> None:
    """Folder, number of entries, bytes, limit, and crash leftovers."""
    store = _cache()
    info = store.scan()
    report = {
        "dir": str(info.root),
        "entries": len(info.entries),
        "bytes": info.size,
        "max_size": info.max_size,
        "leftovers": len(info.leftovers),
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    limit = human(info.max_size) if info.max_size else "none"
    click.echo(f"dir:       {info.root}\nentries:   {len(info.entries)}\nsize:      {human(info.size)}")
    click.echo(f"limit:     {limit}\nleftovers: {len(info.leftovers)}")


@cache.command("ls")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
def cache_ls(as_json: bool) -> None:
    """Every entry, least recently used first."""
    for entry in sorted(_cache().scan().entries, key=lambda e: e.last_accessed):
        if as_json:
            record = {
                "key": entry.key,
                "path": str(entry.path),
                "size": entry.size,
                "sha256": entry.sha256,
                "source": entry.source,
                "kind": entry.kind,
                "etag": entry.etag,
                "created_at": entry.created_at,
                "validated_at": entry.validated_at,
                "last_accessed": entry.last_accessed,
            }
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            click.echo(f"{human(entry.size):>9}  {entry.path.name}  {entry.source}")


@cache.command("verify")
@click.option("--fix", is_flag=True, help="Remove the corrupt entries (they are downloaded again when next used).")
def cache_verify(fix: bool) -> None:
    """Re-hash every entry against its metadata.

    The exit status is 1 if any entry is corrupt.
    """
    report = _cache().verify(fix=fix)
    for item in report.corrupt:
        click.echo(f"corrupt: {item.path} ({item.reason})")
    click.echo(f"{report.checked} checked, {len(report.corrupt)} corrupt, {report.removed} removed")
    if report.corrupt and not fix:
        sys.exit(1)


@cache.command("prune")
@click.option("--max-size", help="Remove least recently used entries until the cache is this small (e.g. 10GB).")
@click.option("--older-than", help="Remove entries not used for this long (e.g. 30d, 12h).")
def cache_prune(max_size: str | None, older_than: str | None) -> None:
    """Remove entries by size and age, and crash leftovers.

    Without options, least recently used entries go until the cache fits ML_DATA_CACHE_MAX_SIZE.
    """
    store = _cache()
    try:
        limit = parse_size(max_size) if max_size else store.max_size
        age = parse_duration(older_than) if older_than else None
    except MlDataError as exc:
        raise click.BadParameter(str(exc)) from None
    report = store.prune(max_size=limit, older_than=age)
    click.echo(
        f"removed {len(report.removed)} entries ({human(report.freed)}), {report.leftovers_removed} leftovers; "
        f"kept {report.kept_busy} in use"
    )


@cache.command("clear")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def cache_clear(yes: bool) -> None:
    """Remove every entry.

    Entries being written by other processes are kept.
    """
    store = _cache()
    if not yes:
        click.confirm(f"Remove everything in {store.root}?", abort=True)
    report = store.clear()
    click.echo(f"removed {len(report.removed)} entries ({human(report.freed)}); kept {report.kept_busy} in use")
