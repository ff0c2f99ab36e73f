"""Backups of a home: hub.db and erp.db copied with SQLite's online backup API.

A backup is a directory holding ``hub.db``, ``erp.db`` (when the home has one) and
``manifest.json`` (format, when, from where, and for each file its size, SHA-256,
schema version and a few counts). It is written beside its final name and renamed
into place once complete and checked, so a backup that exists is whole. The hub is
copied before the ERP: an ERP copy a little newer than its hub only makes the next
run find documents that are already there (pushes are keyed by external reference),
never miss one.

A restore checks the backup (manifest, checksums, ``PRAGMA integrity_check`` of
copies made with the backup API into a staging directory inside the home), refuses
while a daemon, a console or a run holds the home, then swaps the files in by renames
within the home; the files it replaces are kept in ``replaced-<time>/``. Nothing in
the home changes before everything is checked, and a failed swap is undone.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core import __version__
from core.errors import ConfigError, DiskFull, SincroError, StoreDamaged, StoreError
from core.home import ERP_FILE, HUB_FILE
from core.store import faults
from core.timeutil import iso, utcnow

MANIFEST = "manifest.json"
FORMAT = "sincro-backup"
VERSION = 1
LABELS = {HUB_FILE: "hub database", ERP_FILE: "embedded ERP"}
SIDE_FILES = ("-wal", "-shm", "-journal")


class HomeBusy(SincroError):
    """A restore was refused: a daemon, a console or a run holds the home."""

    exit_code = 1


@dataclass
class BackupInfo:
    path: Path
    created_at: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    replaced: Path | None = None  # restore: where the files it replaced are kept

    def describe(self, name: str) -> str:
        info = self.files.get(name)
        if info is None:
            return "none"
        if name == HUB_FILE:
            parts = [("accounts", info.get("accounts")), ("orders", info.get("orders")),
                     ("runs", info.get("runs"))]
        else:
            parts = [("documents", info.get("documents")), ("customers", info.get("customers"))]
        counts = ", ".join(f"{n} {what}" for what, n in parts if n is not None)
        return f"{human(info['size'])}" + (f", {counts}" if counts else "")


def human(n: int) -> str:
    return faults.human_bytes(n)


def default_target(home: Path) -> Path:
    return home / "backups" / f"sincro-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# -- copying ---------------------------------------------------------------------
def _connect_ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)


def _copy(source: Path, dest: Path) -> None:
    """``source`` into a new file ``dest`` (0600) with the online backup API: one
    consistent snapshot even while another process writes; ``dest`` is left as one
    self-contained file (rollback journal, no -wal beside it)."""
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    src = _connect_ro(source)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)  # all pages in one step: one snapshot of the source
            dst.execute("PRAGMA journal_mode = DELETE")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()


def _check(path: Path, label: str, source: Path) -> None:
    con = _connect_ro(path)
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check(5)").fetchall()]
    except sqlite3.DatabaseError as exc:
        rows = [str(exc)]
    finally:
        con.close()
    if rows != ["ok"]:
        raise faults.damaged(source, label, "integrity_check: " + "; ".join(map(str, rows[:3])))


def _scalar(con: sqlite3.Connection, sql: str) -> int | None:
    try:
        return int(con.execute(sql).fetchone()[0])
    except (sqlite3.Error, TypeError):
        return None


def _describe(path: Path, name: str) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    con = _connect_ro(path)
    try:
        info: dict[str, Any] = {"size": path.stat().st_size, "sha256": digest.hexdigest(),
                                "schema": _scalar(con, "PRAGMA user_version")}
        tables = ({"accounts": "accounts", "orders": "orders", "runs": "runs"}
                  if name == HUB_FILE else {"documents": "documents", "customers": "customers"})
        for key, table in tables.items():
            info[key] = _scalar(con, f"SELECT COUNT(*) FROM {table}")
    finally:
        con.close()
    return info


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _storage(exc: BaseException, path: Path, label: str) -> StoreError | None:
    return faults.find(exc, path, label)


# -- backup ----------------------------------------------------------------------
def make_backup(home: Path, target: Path | str | None = None) -> BackupInfo:
    """Back up ``home`` into the directory ``target`` (new, or empty)."""
    from core.store.hub import erp_documents

    target = Path(target).expanduser() if target else default_target(home)
    hub = home / HUB_FILE
    if not hub.exists() or hub.stat().st_size == 0:
        documents = erp_documents(home / ERP_FILE)
        raise StoreDamaged(
            f"nothing to back up: the hub database {hub} is "
            f"{'missing' if not hub.exists() else 'empty (0 bytes)'}"
            + (f" while the embedded ERP holds {documents} documents" if documents else ""),
            hint=faults.RESTORE_HINT if documents else "check --home or SINCRO_HOME")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} already exists", hint="choose a new directory with --to PATH")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    stage = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(mode=0o700)
    info = BackupInfo(path=target, created_at=iso(utcnow()))
    try:
        for name in (HUB_FILE, ERP_FILE):  # the hub first (see the module's docstring)
            source = home / name
            if name == ERP_FILE and (not source.exists() or source.stat().st_size == 0):
                continue
            copy = stage / name
            try:
                _copy(source, copy)
            except sqlite3.DatabaseError as exc:
                fault = faults.classify(exc, source, LABELS[name])
                if fault is not None and not isinstance(fault, DiskFull):
                    raise fault from None
                raise
            _check(copy, LABELS[name], source)
            info.files[name] = _describe(copy, name)
            if name == HUB_FILE and not info.files[name].get("accounts"):
                documents = erp_documents(home / ERP_FILE)
                if documents:
                    raise StoreDamaged(
                        f"not backing up the hub database {source}: it has no account while "
                        f"the embedded ERP holds {documents} documents", hint=faults.RESTORE_HINT)
        manifest = {"format": FORMAT, "version": VERSION, "created_at": info.created_at,
                    "sincro": __version__, "home": str(home), "files": info.files}
        fd = os.open(stage / MANIFEST, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
        for name in (*info.files, MANIFEST):
            _fsync(stage / name)
        _fsync_dir(stage)
        if target.exists():
            target.rmdir()  # an empty directory named with --to
        os.rename(stage, target)
        _fsync_dir(target.parent)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError | sqlite3.Error):
            fault = _storage(exc, target, "backup")
            if fault is not None:
                raise fault from None
            if isinstance(exc, OSError):
                raise StoreError(f"cannot write the backup {target}: "
                                 f"{(exc.strerror or str(exc)).lower()}",
                                 hint="choose another place with --to PATH") from None
        raise
    return info


# -- restore ---------------------------------------------------------------------
def read_backup(path: Path | str) -> BackupInfo:
    """The backup at ``path``, its manifest and checksums checked."""
    from core.erp.embedded_schema import MIGRATIONS as ERP_MIGRATIONS
    from core.store.migrations import HUB_MIGRATIONS

    path = Path(path).expanduser()
    manifest_path = path / MANIFEST
    if not path.is_dir() or not manifest_path.is_file():
        raise ConfigError(f"{path} is not a Sincro backup (no {MANIFEST})",
                          hint="give the directory 'sincro backup' wrote")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT or not isinstance(manifest.get("files"), dict):
            raise ValueError
    except (OSError, ValueError, AttributeError):
        raise ConfigError(f"{manifest_path} is not a Sincro backup manifest",
                          hint="give the directory 'sincro backup' wrote") from None
    if int(manifest.get("version") or 0) > VERSION:
        raise ConfigError(f"the backup {path} was written by a newer Sincro",
                          hint="upgrade Sincro to restore it")
    files = manifest["files"]
    if HUB_FILE not in files:
        raise ConfigError(f"the backup {path} holds no {HUB_FILE}")
    known = {HUB_FILE: len(HUB_MIGRATIONS), ERP_FILE: len(ERP_MIGRATIONS)}
    for name, info in files.items():
        if name not in known:
            raise ConfigError(f"the backup {path} names an unknown file {name!r}")
        f = path / name
        if not f.is_file():
            raise StoreDamaged(f"the backup {path} is incomplete: {name} is missing",
                               hint="restore another backup")
        digest = hashlib.sha256()
        with open(f, "rb") as fh:
            for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != info.get("sha256"):
            raise StoreDamaged(f"the backup {path} is damaged: {name} does not match its "
                               "checksum in the manifest", hint="restore another backup")
        if int(info.get("schema") or 0) > known[name]:
            raise ConfigError(f"the backup {path} was written by a newer Sincro ({name} "
                              f"schema {info.get('schema')}, this version knows {known[name]})",
                              hint="upgrade Sincro to restore it")
    return BackupInfo(path=path, created_at=str(manifest.get("created_at") or ""), files=files)


def holder(home: Path) -> str | None:
    """Who holds the home now: a live daemon or console (the scheduler lease), or a run or
    operation (an account lease); None when nobody does or the hub cannot be read."""
    from core.locks import HOST, _pid_alive, lease_is_stale

    hub = home / HUB_FILE
    if not hub.exists() or hub.stat().st_size == 0:
        return None
    now = utcnow()
    try:
        con = _connect_ro(hub)
    except sqlite3.Error:
        return None
    con.row_factory = sqlite3.Row
    try:
        sched = con.execute("SELECT * FROM scheduler_lease").fetchall()
        leases = con.execute(
            "SELECT leases.*, accounts.name AS account FROM leases "
            "LEFT JOIN accounts ON accounts.id = leases.account_id").fetchall()
    except sqlite3.Error:
        return None
    finally:
        con.close()
    for row in sched:
        alive = datetime.fromisoformat(row["expires_at"]) > now and not (
            row["host"] == HOST and not _pid_alive(row["pid"]))
        if alive:
            since = datetime.fromisoformat(row["acquired_at"]).astimezone()
            return (f"a Sincro {row['role']} (process {row['pid']} on {row['host']}, since "
                    f"{since:%Y-%m-%d %H:%M:%S}) holds this home")
    from core.locks import _info

    for row in leases:
        info = _info(row)
        if not lease_is_stale(info, now):
            return info.describe(row["account"] or f"#{row['account_id']}")
    return None


def restore(home: Path, source: Path) -> BackupInfo:
    """Replace the home's hub.db and erp.db with the backup at ``source``."""
    backup = read_backup(source)
    busy = holder(home)
    if busy:
        raise HomeBusy(f"not restoring: {busy}", hint="stop it (or wait for the run to end), "
                       "then restore again")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    stage = home / f".restore-{stamp}-{os.getpid()}"
    stage.mkdir(mode=0o700)
    try:
        for name in backup.files:
            try:
                _copy(backup.path / name, stage / name)
            except sqlite3.DatabaseError as exc:
                fault = faults.classify(exc, backup.path / name, f"backup's {LABELS[name]}")
                if fault is not None and not isinstance(fault, DiskFull):
                    raise fault from None
                raise
            _check(stage / name, f"backup's {LABELS[name]}", backup.path / name)
            if name == HUB_FILE:
                # the leases the backup holds belong to processes of its time
                con = sqlite3.connect(stage / name)
                try:
                    con.execute("DELETE FROM leases")
                    con.execute("DELETE FROM scheduler_lease")
                    con.commit()
                finally:
                    con.close()
            os.chmod(stage / name, 0o600)
            _fsync(stage / name)
        _fsync_dir(stage)
        busy = holder(home)  # once more, now that the slow part is done
        if busy:
            raise HomeBusy(f"not restoring: {busy}",
                           hint="stop it (or wait for the run to end), then restore again")
        backup.replaced = _swap(home, stage, list(backup.files), stamp)
    except BaseException as exc:
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(exc, OSError | sqlite3.Error):
            fault = _storage(exc, home, "data directory")
            if fault is not None:
                raise fault from None
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return backup


def _swap(home: Path, stage: Path, names: list[str], stamp: str) -> Path | None:
    """The current files (and their -wal, -shm) into replaced-<stamp>/, the staged ones
    into the home; undone if any rename fails."""
    replaced = home / f"replaced-{stamp}"
    current = [home / (name + side) for name in (HUB_FILE, ERP_FILE)
               for side in ("", *SIDE_FILES) if (home / (name + side)).exists()]
    moved: list[tuple[Path, Path]] = []
    try:
        if current:
            replaced.mkdir(mode=0o700)
        for path in current:
            os.rename(path, replaced / path.name)
            moved.append((replaced / path.name, path))
        for name in names:
            os.rename(stage / name, home / name)
            moved.append((home / name, stage / name))
        _fsync_dir(home)
    except BaseException:
        for now_at, was_at in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(now_at, was_at)
        with contextlib.suppress(OSError):
            replaced.rmdir()
        raise
    return replaced if current else None
