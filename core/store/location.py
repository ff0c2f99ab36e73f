"""Where the hub and the embedded ERP live: files in the home directory (SQLite, the
default), or schemas ``hub`` and ``erp`` of the PostgreSQL database that ``SINCRO_HUB``
names (docs/HUB.md). The URL is read only from the environment; messages show it
without its password.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.store.db import Database, Migration

if TYPE_CHECKING:
    from core.store.pg import PgTarget

HUB_ENV = "SINCRO_HUB"
HUB_SCHEMA = "hub"
ERP_SCHEMA = "erp"


def hub_url() -> str | None:
    """The PostgreSQL URL of ``SINCRO_HUB``, or None for the SQLite files (unset)."""
    value = os.environ.get(HUB_ENV, "").strip()
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        scheme = value.split("://", 1)[0] if "://" in value else "(none)"
        raise ConfigError(
            f"{HUB_ENV} must be a postgresql:// URL, not one with scheme {scheme!r}",
            hint=f"set {HUB_ENV}=postgresql://USER:PASSWORD@HOST:PORT/DATABASE, or unset it "
                 "to keep the hub in SQLite under the data directory")
    return value


def on_postgres() -> bool:
    return hub_url() is not None


def target(path: Path | str, schema: str) -> Path | PgTarget:
    """The SQLite file ``path``, or ``schema`` in SINCRO_HUB's database when it is set."""
    url = hub_url()
    if url is None:
        return Path(path)
    from core.store.pg import PgTarget

    return PgTarget(url, schema)


def store(place: Path | PgTarget, migrations: Sequence[Migration], *, label: str) -> Database:
    """The (unopened) store at ``place``."""
    if isinstance(place, Path):
        return Database(place, migrations, label=label)
    from core.store.pg import PgDatabase

    return PgDatabase(place, migrations, label=label)
