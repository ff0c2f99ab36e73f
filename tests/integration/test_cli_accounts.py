"""`sincro account ...` end to end, as an operator runs it (issue 2)."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.helpers import KEY, assert_clean_error, sincro
from tests.hubs import hub_exists, hub_rows, hub_write, on_postgres


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def add(home: Path, name: str = "shop1", *extra: str):
    return sincro(home, "account", "add", name, "--url", "https://shop.example", "--key", KEY,
                  *extra)


def test_add_then_list_masks_the_key(home: Path) -> None:
    r = add(home, "shop1", "--tz", "Europe/Rome")
    assert r.code == 0, r.err
    listed = sincro(home, "account", "list", "--json")
    assert listed.code == 0
    data = json.loads(listed.out)
    assert [a["name"] for a in data] == ["shop1"]
    assert data[0]["key"] == "ABCD…"
    assert data[0]["url"] == "https://shop.example/"
    assert data[0]["tz"] == "Europe/Rome"
    for result in (r, listed, sincro(home, "account", "list"), sincro(home, "account", "show", "shop1"),
                   sincro(home, "account", "show", "shop1", "--json")):
        assert KEY not in result.out + result.err
        assert KEY[4:] not in result.out + result.err


def test_key_is_never_in_the_database_log_or_wal_outside_its_column(home: Path) -> None:
    add(home)
    assert hub_rows(home, "SELECT key FROM accounts")[0][0] == KEY
    if on_postgres():  # no file to read: every row of every table of the hub, as JSON
        tables = [t for (t,) in hub_rows(home, "SELECT table_name FROM "
                                         "information_schema.tables WHERE table_schema = 'hub'")]
        assert "accounts" in tables
        for table in tables:
            found = hub_rows(home, f'SELECT COUNT(*) FROM "{table}" x WHERE '
                             "(to_jsonb(x) - 'key')::text LIKE ?", (f"%{KEY[4:]}%",))
            assert found[0][0] == 0, table


def test_home_and_hub_permissions(home: Path) -> None:
    assert add(home).code == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    if on_postgres():  # the hub is in the database: no file of it in the home
        assert hub_exists(home) and not (home / "hub.db").exists()
        return
    assert stat.S_IMODE((home / "hub.db").stat().st_mode) == 0o600


def test_home_flag_wins_over_env(tmp_path: Path) -> None:
    other = tmp_path / "other"
    r = sincro(tmp_path / "env-home", "--home", str(other), "account", "add", "s", "--url",
               "http://127.0.0.1:8080/shop", "--key", KEY)
    assert r.code == 0, r.err
    assert other.is_dir() and (on_postgres() or (other / "hub.db").exists())
    assert not (tmp_path / "env-home").exists()


def test_key_env_and_edit(home: Path) -> None:
    r = sincro(home, "account", "add", "shop2", "--url", "http://127.0.0.1:8080/", "--key-env",
               "SHOP2_KEY")
    assert r.code == 0, r.err
    shown = json.loads(sincro(home, "account", "show", "shop2", "--json").out)
    assert shown["key"] == "$SHOP2_KEY"
    assert sincro(home, "account", "edit", "shop2", "--key", KEY, "--disable").code == 0
    shown = json.loads(sincro(home, "account", "show", "shop2", "--json").out)
    assert shown["key"] == "ABCD…" and shown["enabled"] is False and shown["key_env"] is None


def test_remove(home: Path) -> None:
    add(home)
    r = sincro(home, "account", "remove", "shop1")
    assert_clean_error(r, "--yes")
    assert sincro(home, "account", "remove", "shop1", "--yes").code == 0
    assert json.loads(sincro(home, "account", "list", "--json").out) == []


def test_version_and_help() -> None:
    r = sincro(None, "--version")
    assert r.code == 0 and r.out.startswith("sincro ")
    r = sincro(None, "--help")
    assert r.code == 0 and "account" in r.out


# -- bad input: one clear line on stderr, non-zero exit, no traceback ----------
def test_duplicate_name(home: Path) -> None:
    add(home)
    assert_clean_error(add(home), "already exists", "shop1")


@pytest.mark.parametrize("url", ["shop.example", "ftp://shop.example", "https://", "https://u:p@shop.example",
                                 "https://shop.example/?a=1", "https://shop.example:99999"])
def test_malformed_url(home: Path, url: str) -> None:
    r = sincro(home, "account", "add", "shop1", "--url", url, "--key", KEY)
    assert_clean_error(r, "url")


@pytest.mark.parametrize("key", ["short", KEY.lower(), KEY + "X", "ABCDEFGHIJKLMNOPQRSTUVWXYZ12345!"])
def test_key_of_the_wrong_shape(home: Path, key: str) -> None:
    r = sincro(home, "account", "add", "shop1", "--url", "https://shop.example", "--key", key)
    assert_clean_error(r, "32 characters")
    assert key not in r.err


def test_unknown_time_zone(home: Path) -> None:
    assert_clean_error(add(home, "shop1", "--tz", "Mars/Olympus"), "unknown time zone", "Mars/Olympus")


def test_bad_name(home: Path) -> None:
    assert_clean_error(add(home, "Shop One"), "invalid account name")


def test_unknown_account(home: Path) -> None:
    add(home)
    for args in (("show", "nope"), ("edit", "nope", "--tz", "UTC"), ("remove", "nope", "--yes")):
        assert_clean_error(sincro(home, "account", *args), "no account named 'nope'", "shop1")


def test_key_env_unset_at_use_time(home: Path) -> None:
    from core.accounts import build_account
    from core.errors import ConfigError

    account = build_account("a", "https://x.example", key_env="SINCRO_TEST_UNSET_VAR", tz="UTC")
    with pytest.raises(ConfigError, match="SINCRO_TEST_UNSET_VAR.*not set"):
        account.resolve_key()


def test_hub_from_a_newer_version(home: Path) -> None:
    add(home)
    if on_postgres():
        hub_write(home, "UPDATE sincro_schema SET version = 999")
    else:
        db = sqlite3.connect(home / "hub.db")
        db.execute("PRAGMA user_version = 999")
        db.close()
    r = sincro(home, "account", "list")
    assert_clean_error(r, "newer Sincro", "upgrade")


def test_home_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = sincro(blocker / "home", "account", "list")
    assert_clean_error(r, "data directory", "--home")


@pytest.mark.sqlite_only  # the bytes of the file hub.db
def test_hub_that_is_not_a_database(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "hub.db").write_bytes(b"this is not sqlite" * 100)
    assert_clean_error(sincro(home, "account", "list"), "hub database",
                       "is damaged (file is not a database)", "sincro restore PATH")


@pytest.mark.sqlite_only  # a SQLite lock on hub.db (PostgreSQL writers queue on a lock)
def test_locked_database(home: Path) -> None:
    assert add(home).code == 0
    holder = sqlite3.connect(home / "hub.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = sincro(home, "account", "edit", "shop1", "--tz", "UTC",
                   env={"SINCRO_BUSY_TIMEOUT_MS": "200"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_clean_error(r, "locked by another process", "wait")
