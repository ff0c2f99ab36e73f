"""The hub's schema, as an ordered list: index + 1 is the PRAGMA user_version.

Append only: a migration that has shipped is never edited.
"""

from __future__ import annotations

HUB_MIGRATIONS: list[str] = [
    # 1: accounts and settings
    """
    CREATE TABLE accounts (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        url         TEXT NOT NULL,
        key         TEXT,
        key_env     TEXT,
        tz          TEXT NOT NULL,
        enabled     INTEGER NOT NULL DEFAULT 1,
        options     TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL,
        CHECK ((key IS NULL) <> (key_env IS NULL))
    );
    CREATE TABLE settings (
        name   TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
]
