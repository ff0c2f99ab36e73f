"""The hub store: Sincro's own memory (hub.db)."""

from __future__ import annotations

from pathlib import Path

from core.store.db import Database
from core.store.migrations import HUB_MIGRATIONS


async def open_hub(path: Path) -> Database:
    return await Database(path, HUB_MIGRATIONS, label="hub database").open()
