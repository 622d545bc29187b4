"""Every command's --help reads as plain text: click prints docstrings as they are, so markup
meant for the API documentation (double backticks, :func: roles) would show to the user."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from ml_data.cli import main


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


COMMANDS = dict(_commands(main))
MARKUP = re.compile(r"``|:(func|class|meth|mod|data|attr|exc|ref|envvar|option):`|\.\. \w+::")


def test_the_walk_finds_every_command_and_the_cache_subcommands():
    assert {("convert",), ("fetch",), ("doctor",), ("cache", "prune"), ("cache", "verify")} <= set(COMMANDS)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "ml-data")
def test_help_is_plain_text(path):
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="ml-data")
    assert result.exit_code == 0, result.output
    assert not MARKUP.search(result.output), result.output
    # A group lists its commands by their first sentence: whole, not cut short with "...".
    listing = result.output.partition("\nCommands:\n")[2]
    assert not [line for line in listing.splitlines() if line.rstrip().endswith("...")], listing


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "ml-data")
def test_every_option_says_what_it_does(path):
    command = COMMANDS[path]
    context = click.Context(command, info_name="ml-data")
    quiet = [param.name for param in command.get_params(context) if isinstance(param, click.Option) and not param.help]
    assert not quiet
