"""The command line: help, and configuration errors that name the key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from csms.cli import main


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "csms.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "serve" in out


def test_bad_setting_stops_with_the_key(monkeypatch, capsys):
    monkeypatch.setenv("CSMS_OCPP__PORT", "nine thousand")
    assert main(["serve"]) == 2
    assert "ocpp.port: must be an integer" in capsys.readouterr().err


def test_missing_config_file_is_named(tmp_path, capsys):
    assert main(["serve", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_unknown_command_is_refused():
    with pytest.raises(SystemExit):
        main(["fly"])
