"""Library versions recorded next to every result, so a run can be reproduced."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

_PACKAGES = ("supportscope", "numpy", "scipy", "pyarrow", "typer", "rich")


def library_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Python, platform and the installed version of each library the run used."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES + tuple(extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
