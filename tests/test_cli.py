"""The CLI contract: every subcommand in DESIGN.md exists, has --help, and bad input
gives exit 2 with a message rather than a traceback."""

from __future__ import annotations

import pytest

from kprlink import cli

CONTRACT_COMMANDS = ("synth", "validate", "link", "cohort", "suppress", "run", "demo")


def _names() -> list[str]:
    return [m.NAME for m in cli._command_modules()]


@pytest.mark.parametrize("name", CONTRACT_COMMANDS)
def test_contract_subcommand_exists(name: str) -> None:
    assert name in _names()


@pytest.mark.parametrize("name", CONTRACT_COMMANDS)
def test_help_exits_zero(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    if name not in _names():
        pytest.fail(f"subcommand {name!r} missing")
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"kprlink {name}" in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_BAD_INPUT
    assert "COMMAND" in capsys.readouterr().out


def test_missing_file_is_a_message_not_a_traceback(
    tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.csv"
    code = cli.main(["validate", str(missing)])
    err = capsys.readouterr().err
    assert code == cli.EXIT_BAD_INPUT
    assert "Traceback" not in err
    assert "nope.csv" in err
