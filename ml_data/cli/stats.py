"""``ml-data stats``: thin over :mod:`ml_data.stats`."""

from __future__ import annotations

import json
import sys

import click

from ml_data.cli.common import settings
from ml_data.errors import MlDataError
from ml_data.stats import DEFAULT_MIN_BOX_PIXELS, RULES, DatasetStats, Rule, check, dataset_stats, parse_rule


def _rules(_context: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[Rule]:
    """Every --fail-on parsed before anything is read: a rule that is not one is a usage error (exit 2)."""
    try:
        return [parse_rule(value) for value in values]
    except MlDataError as exc:
        raise click.BadParameter(exc.message) from None


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON (a stable schema: stats_version).")
@click.option(
    "--min-box-pixels",
    type=click.FloatRange(min=0),
    default=DEFAULT_MIN_BOX_PIXELS,
    show_default=True,
    help="A box with a side under this many pixels counts as small.",
)
@click.option(
    "--fail-on",
    "rules",
    multiple=True,
    metavar="RULE",
    callback=_rules,
    help=f"Exit 1 when RULE fires (repeatable): NAME, NAME>N or NAME>N%, NAME one of {', '.join(RULES)}; "
    "e.g. leak, 'empty-images>5%', 'skew>20'.",
)
def stats(dataset: str, as_json: bool, min_box_pixels: float, rules: list[Rule]) -> None:
    """A look at a dataset before training.

    DATASET is a COCO, YOLO, VOC or hf-imagefolder folder in the standard layout (what fetch
    writes). Per split: images, instances per class, images without objects, small boxes, boxes
    outside the image, classes other splits have and this one lacks, class skew; and files with
    the same content, within a split or across splits (a leak). The exit status is 1 when a
    --fail-on rule fires or the dataset cannot be read, 2 for a rule that is not one.

    \b
    ml-data stats datasets/project-3-yolo
    ml-data stats data/coco --fail-on leak --fail-on missing-class --fail-on 'empty-images>5%'
    """
    try:
        _refuse_object_storage(dataset)
        result = dataset_stats(dataset, min_box_pixels=min_box_pixels)
    except MlDataError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    fired = check(result, rules)
    if as_json:
        report = {**result.as_dict(), "fail_on": [str(rule) for rule in rules], "fired": [f.as_dict() for f in fired]}
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        _print(result)
    for failure in fired:
        click.echo(f"failed: {_shown(failure.message)}", err=True)
    if fired:
        sys.exit(1)


def _refuse_object_storage(dataset: str) -> None:
    """A dataset in object storage is read through its committed manifest, which says whether
    there is a complete one and which folder holds it; stats reads folders on this machine."""
    from ml_data.object_store import parse_prefix, read_dataset_manifest

    if parse_prefix(dataset) is None:
        return
    _manifest, folder = read_dataset_manifest(dataset, settings())
    raise click.ClickException(
        f"stats reads a folder on this machine; the dataset committed at {dataset} is {folder}: copy that folder here"
    )


def _shown(text: str) -> str:
    """``text`` safe for a terminal: a file name holding escape sequences is printed escaped."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def _print(result: DatasetStats) -> None:
    source = "manifest.json" if result.manifest else "no manifest"
    click.echo(
        f"{_shown(result.path)}: {result.format} ({source}), {len(result.splits)} split(s), "
        f"{len(result.classes)} class(es); small: a side under {result.min_box_pixels:g} px"
    )
    rows = [["split", "images", "empty", "objects", "small", "outside", "skew"]]
    shown_splits = [*result.splits, result.overall] if len(result.splits) > 1 else list(result.splits)
    for split in shown_splits:
        skew = f"{split.skew:.1f}" if split.skew is not None else "-"
        counts = [split.images, split.empty_images, split.objects, split.small_boxes, split.outside_boxes]
        rows.append([_shown(split.name), *(str(count) for count in counts), skew])
    click.echo("\n" + _table(rows))
    if result.classes:
        rows = [["class", *(_shown(split.name) for split in shown_splits)]]
        for name in result.classes:
            rows.append([_shown(name), *(str(split.instances.get(name, 0)) for split in shown_splits)])
        click.echo("\n" + _table(rows))
    if result.overall.mask_pixels is not None:
        rows = [["mask pixels", *(_shown(split.name) for split in shown_splits)]]
        rows.append(["(images with a mask)", *(str(split.mask_images) for split in shown_splits)])
        for name in result.classes:
            rows.append([_shown(name), *(str((split.mask_pixels or {}).get(name, 0)) for split in shown_splits)])
        click.echo("\n" + _table(rows))
    if not result.findings:
        click.echo("\nno findings")
        return
    click.echo(f"\nfindings ({len(result.findings)}):")
    for finding in result.findings:
        where = f" [{_shown(finding.split)}]" if finding.split is not None else ""
        click.echo(f"  {finding.kind}{where}: {_shown(finding.message)}")


def _table(rows: list[list[str]]) -> str:
    """Columns aligned: the first to the left, the numbers to the right."""
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


__all__ = ["stats"]
