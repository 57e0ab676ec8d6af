from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_settings
from gateway.exceptions import ConfigurationError
from parsers import detect_format
from parsers.base import Format


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b'<?xml version="1.0"?><Rksp/>', Format.XML),
        (b"\xef\xbb\xbf  <Rksp/>", Format.XML),
        ("<Rksp/>".encode("utf-16"), Format.XML),
        (b"ISA*00*          *00*", Format.X12),
        (b"UNA:+.? 'UNB+UNOC:3", Format.EDIFACT),
        (b"UNB+UNOA:2+SENDER", Format.EDIFACT),
        (b'{"documentType": "RKSP"}', Format.JSON),
        (b"", Format.UNKNOWN),
        (b"%PDF-1.7", Format.UNKNOWN),
    ],
)
def test_detect_format(head: bytes, expected: Format) -> None:
    assert detect_format(head) is expected


def test_environment_overrides_file_and_paths_resolve(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "gateway.toml"
    config.parent.mkdir()
    config.write_text('data_dir = "state"\nworkers = 3\n', encoding="utf-8")
    settings = load_settings(config, environ={"PDE_GATEWAY_WORKERS": "5"})
    assert settings.workers == 5
    assert settings.data_dir == tmp_path / "state"
    assert settings.database_url == f"sqlite:///{tmp_path / 'state' / 'gateway.db'}"


def test_bad_configuration_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("wrokers = 3\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"unknown settings.*wrokers"):
        load_settings(config, environ={})
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", environ={})
    config.write_text("workers = 'many'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="workers"):
        load_settings(config, environ={})
