"""The options of fetch and convert that mirror the dataset options come from one table, and
their defaults are the dataclasses' own: a default changed in the library is the command's."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import click

from ml_data.cli import main
from ml_data.cli.options import CONVERSION, TABLE
from ml_data.converters.base import ConvertOptions
from ml_data.pipeline import DatasetOptions


def _defaults(cls: type) -> dict[str, object]:
    return {field.name: field.default for field in dataclasses.fields(cls)}


def _defaults_of(name: str) -> dict[str, object]:
    """What the command's options default to (a flag's: False)."""
    command = main.commands[name]
    context = click.Context(command)
    return {param.name: param.get_default(context) for param in command.params if param.name}


def test_every_row_names_a_dataset_option_and_the_conversion_rows_a_convert_option():
    dataset, conversion = _defaults(DatasetOptions), _defaults(ConvertOptions)
    for row in TABLE:
        assert row.field in dataset, row
    for field in CONVERSION:
        assert field in conversion, field
        if not next(row for row in TABLE if row.field == field).command_default:
            # one default for both commands: the two dataclasses must agree on it
            assert dataset[field] == conversion[field], field


def test_the_commands_defaults_are_the_dataclass_defaults():
    dataset = _defaults(DatasetOptions)
    fetch = _defaults_of("fetch")
    for row in TABLE:
        expected = None if row.command_default else dataset[row.field]
        assert fetch[row.param or row.field] == expected, row.field
    convert = _defaults_of("convert")
    for field in CONVERSION:
        assert convert[field] == fetch[field], field
    formats = {
        name: next(p for p in main.commands[name].params if p.name == "format_name") for name in ("fetch", "convert")
    }
    assert formats["convert"].required and not formats["fetch"].required  # convert's has no default


def test_a_changed_dataclass_default_changes_the_option(monkeypatch):
    """The default is read from the dataclass, not written a second time in the CLI."""
    from ml_data.cli.options import ROWS

    field = DatasetOptions.__dataclass_fields__["annotations"]
    monkeypatch.setattr(field, "default", "latest")
    option = ROWS["annotations"].option()(lambda **_: None)
    assert [param.default for param in option.__click_params__] == ["latest"]  # type: ignore[attr-defined]


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "ml_data.cli", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "fetch" in done.stdout and "Usage:" in done.stdout
