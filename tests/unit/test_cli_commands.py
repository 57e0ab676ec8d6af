"""The ``pde-gateway`` command tree: one click group, every command still there and documented."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from gateway.cli import main

COMMANDS = {
    "amendments approve", "amendments list", "amendments refuse",
    "calls arrived", "calls departed", "calls show",
    "deadletters list", "deadletters retry",
    "logins list", "logins unlock",
    "migrate",
    "offices list",
    "partners add", "partners list",
    "partners agencies add", "partners agencies end", "partners agencies list",
    "partners keys add", "partners keys list", "partners keys revoke",
    "partners password clear", "partners password set",
    "partners pull list", "partners pull remove", "partners pull set",
    "pos open", "pos show",
    "process", "queue", "replay", "run", "status", "submit",
    "tokens issue",
    "users add", "users list",
    "watch",
}  # fmt: skip


def _leaves(command: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaves(sub, (*path, name))
    else:
        yield path


def test_every_command_is_in_the_one_group() -> None:
    assert {" ".join(path) for path in _leaves(main)} == COMMANDS


def test_every_command_answers_help() -> None:
    runner = CliRunner()
    for path in _leaves(main):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output
