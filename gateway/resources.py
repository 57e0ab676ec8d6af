"""Files shipped with the gateway: the ``schemas`` and ``config`` data packages.

Both stay plain folders at the top of the repository (``schemas/``, ``config/``) and are
installed beside ``gateway`` as packages (pyproject.toml, package-data), so one lookup through
``importlib.resources`` serves a checkout, an editable install and a wheel.

libxml2 follows ``xs:include`` and pyx12 reads its maps by file name, so the files must be real
files on disk: an install inside a zip archive (zipimport, zipapp) is not supported.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from gateway.exceptions import ConfigurationError


def _folder(package: str) -> Path:
    root = files(package)
    # A regular package installed as files is a pathlib.Path; anything else (a zip, a
    # namespace package merged from several folders) is not a folder libxml2 could read.
    if not isinstance(root, Path):
        raise ConfigurationError(
            f"the gateway's {package!r} files are not a folder on disk ({root!r}): "
            "install the gateway unzipped (pip install .)"
        )
    return root


def schema_path(*parts: str) -> Path:
    """A file or folder under ``schemas/`` (XSDs, X12 maps, EDIFACT definitions, code lists)."""
    return _folder("schemas").joinpath(*parts)


def config_path(*parts: str) -> Path:
    """A file under ``config/``: the default ``gateway.toml`` and the reference data."""
    return _folder("config").joinpath(*parts)
