"""Storage faults, named for the operator: a full disk, a damaged or emptied database.

SQLite and the OS report these as ``sqlite3.OperationalError("database or disk is
full")``, ``sqlite3.DatabaseError("file is not a database")`` or ``OSError(ENOSPC)``;
``classify`` turns them into a ``DiskFull`` naming the file and the space left, or a
``StoreDamaged`` naming the file, what is wrong and how to restore it. Both are
``SincroError`` (exit code 2, one line, no traceback).
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from core.errors import DiskFull, StoreDamaged, StoreError

# SQLite's primary result codes (the low byte of an extended code).
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_NOTADB = 26

# An I/O error on a filesystem with less than this left is taken for a full disk.
NEARLY_FULL = 1 << 20

RESTORE_HINT = ("restore the last backup with 'sincro restore PATH' "
                "(backups are made with 'sincro backup')")


def free_space(path: Path | str) -> int | None:
    """Bytes free on the filesystem holding ``path`` (its nearest existing parent)."""
    p = Path(path)
    for candidate in (p, *p.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown space"
    if n < 1024:
        return f"{n} byte{'' if n == 1 else 's'}"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{n} bytes"  # not reached


def disk_full(path: Path | str) -> DiskFull:
    return DiskFull(
        f"disk full: cannot write {path} ({human_bytes(free_space(path))} free on its "
        "filesystem)",
        hint="free some space there and run again; nothing was half-written, "
        "and what this run did not write is done by the next one",
    )


def damaged(path: Path | str, label: str, what: str) -> StoreDamaged:
    return StoreDamaged(f"the {label} {path} is damaged ({what})", hint=RESTORE_HINT)


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def classify(exc: BaseException, path: Path | str, label: str = "database") -> StoreError | None:
    """The storage fault ``exc`` is, for the file ``path``; None when it is none."""
    if isinstance(exc, DiskFull | StoreDamaged):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return disk_full(exc.filename or path)
    if isinstance(exc, sqlite3.Error):
        code = _sqlite_code(exc)
        if code == SQLITE_FULL:
            return disk_full(path)
        if code in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return damaged(path, label, str(exc) or "unreadable")
        if code == SQLITE_IOERR:
            free = free_space(path)
            if free is not None and free < NEARLY_FULL:
                return disk_full(path)
    return None


def find(exc: BaseException, path: Path | str, label: str = "database") -> StoreError | None:
    """``classify`` on ``exc`` and on what caused it (``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        fault = classify(current, path, label)
        if fault is not None:
            return fault
        current = current.__cause__ or current.__context__
    return None
