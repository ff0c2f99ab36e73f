"""Where Sincro keeps its data: --home, else $SINCRO_HOME, else the platform's data dir."""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import ConfigError

HUB_FILE = "hub.db"
ERP_FILE = "erp.db"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("SINCRO_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("sincro", appauthor=False))


def ensure_home(home: Path) -> Path:
    """Create the home directory (0700) and check that it can be written."""
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data directory {home}: {(exc.strerror or str(exc)).lower()}",
            hint="choose a writable directory with --home DIR or SINCRO_HOME",
        ) from None
    if not home.is_dir():
        raise ConfigError(
            f"the data directory {home} is not a directory",
            hint="choose another with --home DIR or SINCRO_HOME",
        )
    if not os.access(home, os.W_OK | os.X_OK):
        raise ConfigError(
            f"the data directory {home} cannot be written",
            hint="fix its permissions, or choose another with --home DIR or SINCRO_HOME",
        )
    return home
