from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import DEFAULT_CONFIG, REPO_ROOT, Settings, load_settings
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
    config.write_text("web_enabled = 'maybe'\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="web_enabled"):
        load_settings(config, environ={})
    config.write_text("workers = true\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="workers"):
        load_settings(config, environ={})
    with pytest.raises(ConfigurationError, match="max_file_bytes"):
        load_settings(config, environ={"PDE_GATEWAY_MAX_FILE_BYTES": "big"})
    config.write_text("workers = [\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="cannot read configuration"):
        load_settings(config, environ={})


def test_sources_rank_keywords_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("workers = 3\nweb_port = 9000\nlease_seconds = 5\n", encoding="utf-8")
    env = {
        "PDE_GATEWAY_WORKERS": "4",
        "PDE_GATEWAY_WEB_PORT": "9001",
        "PDE_GATEWAY_WEB_ENABLED": "off",
    }
    settings = load_settings(config, environ=env, workers=5)
    assert (settings.workers, settings.web_port, settings.lease_seconds) == (5, 9001, 5.0)
    assert settings.web_enabled is False
    assert settings.settle_seconds == Settings.model_fields["settle_seconds"].default
    with pytest.raises(ValidationError):
        settings.workers = 6  # type: ignore[misc]


def test_every_setting_is_in_the_readme_and_the_shipped_file() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    shipped = DEFAULT_CONFIG.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert f"`{name}`" in table, f"README's settings table lacks {name}"
        assert re.search(rf"^(# )?{name} =", shipped, re.M), f"config/gateway.toml lacks {name}"
        assert field.description, f"{name} has no description"
    listed = set(re.findall(r"^\| (.*?) \|", table, re.M))
    named = {n for cell in listed for n in re.findall(r"`([a-z_]+)`", cell)}
    assert named <= set(Settings.model_fields), named - set(Settings.model_fields)
    assert load_settings(DEFAULT_CONFIG, environ={}).workers == 2
