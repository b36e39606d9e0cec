"""The CLI's argument handling, without a database: everything here fails before connecting."""

from __future__ import annotations

import argparse
import io

import pytest
from cryptography.fernet import Fernet

from instagram_graph import cli


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def test_no_subcommand_takes_a_token_argument():
    options = [
        option
        for parser in _all_parsers(cli.build_parser())
        for action in parser._actions
        for option in [*action.option_strings, action.dest]
    ]
    assert "account_id" in options  # the walk reached `accounts add`
    assert not [option for option in options if "token" in option.lower() or "secret" in option.lower()]


def test_keys_generate_prints_a_fernet_key(capsys):
    assert cli.main(["keys", "generate"]) == 0
    Fernet(capsys.readouterr().out.strip())


@pytest.fixture
def no_warehouse(monkeypatch):
    """Any attempt to reach the database would fail loudly."""
    monkeypatch.setenv("INSTAGRAM_WAREHOUSE_DSN", "postgresql://nobody@127.0.0.1:1/none")


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["accounts", "add", "1"], "", "no token given"),
        (["accounts", "add", "1"], " \n\t", "no token given"),
        (["accounts", "add", "1", "--expires-at", "2001-01-01T00:00:00Z"], "IGAAx", "in the past"),
        (["accounts", "add", "1", "--expires-at", "tomorrow"], "IGAAx", "ISO 8601"),
        (["accounts", "add", "1", "--expires-in-days", "0"], "IGAAx", "must be between 1 and 3650"),
    ],
)
def test_user_errors_exit_2_before_touching_the_warehouse(no_warehouse, monkeypatch, capsys, argv, stdin, message):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_keys_are_reported_before_the_token_is_asked_for(no_warehouse, monkeypatch, capsys):
    monkeypatch.delenv("INSTAGRAM_TOKEN_KEYS")
    stdin = io.StringIO("IGAAsecret")
    monkeypatch.setattr("sys.stdin", stdin)
    assert cli.main(["accounts", "add", "1"]) == 2
    assert "INSTAGRAM_TOKEN_KEYS" in capsys.readouterr().err
    assert stdin.tell() == 0  # the token was not read


def test_a_terminal_gets_a_hidden_prompt(no_warehouse, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    prompts = []
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt: prompts.append(prompt) or "")
    assert cli.main(["accounts", "add", "42"]) == 2
    assert prompts and "42" in prompts[0]


def test_unreachable_warehouse_exits_1_with_a_message(no_warehouse, capsys):
    assert cli.main(["accounts", "list"]) == 1
    err = capsys.readouterr().err
    assert "warehouse error" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["accounts", "add", "not-a-number"], "ACCOUNT_ID 'not-a-number' is not an Instagram id"),
        (["accounts", "add", "1'; DROP TABLE x; --"], "is not an Instagram id"),
        (["accounts", "add", "123", "--expires-in-days", "99999999999999"], "--expires-in-days is 99999999999999"),
        (["accounts", "add", "123", "--expires-in-days", "many"], "--expires-in-days 'many' is not a whole number"),
        (["accounts", "add", "123", "--username", "shop\x00"], "--username contains a control character (NUL)"),
        (["accounts", "disable", "123", "--reason", "paused\x07"], "--reason contains a control character"),
        (["accounts", "enable", "12 3"], "is not an Instagram id"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(argv, named, capsys, monkeypatch) -> None:
    monkeypatch.setenv("INSTAGRAM_WAREHOUSE_DSN", "postgresql://nobody@127.0.0.1:1/none")  # never reached
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
