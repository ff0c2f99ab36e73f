"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, one free
port on loopback, password authentication, started once per test process.

PostgreSQL refuses to run as root: as root, the cluster is made and run by the
``postgres`` user (Debian's package creates it), else ``nobody``. The binaries are
Debian's (``/usr/lib/postgresql/N/bin``) or the first ``initdb`` on the PATH.
``SINCRO_REQUIRE_POSTGRES=1`` (set by .ci/run) makes a missing PostgreSQL a failure
instead of a skip.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

USER = "sincro"
PASSWORD = "test-secret-pw"


def _bindir() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    return None


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str, password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        return [str(self.bindir / args[0]), *args[1:]]

    def _run(self, *args: str) -> None:
        subprocess.run(self._cmd(*args), check=True, capture_output=True, timeout=120,
                       user=self.user, cwd=self.root)

    def start(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if self.user:
            shutil.chown(self.root, self.user)
            shutil.chown(pwfile, self.user)
        self._run("initdb", "-D", str(self.data), "-U", USER, "--pwfile", str(pwfile),
                  "-A", "scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()
        # no durability (a throwaway cluster), room for the tests' connections
        options = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c max_connections=300 "
                   "-c shared_buffers=32MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:16]
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_cluster: Cluster | None = None
_why_not: str | None = None


def cluster() -> Cluster | None:
    """This test process's cluster, started on first use (None: PostgreSQL is missing,
    and ``why_not()`` says why)."""
    global _cluster, _why_not
    if _cluster is not None or _why_not is not None:
        return _cluster
    bindir = _bindir()
    if bindir is None:
        _why_not = "PostgreSQL is not installed (no initdb): apt-get install postgresql"
        return None
    root = Path(tempfile.mkdtemp(prefix="sincro-pg-"))
    os.chmod(root, 0o755)
    c = Cluster(bindir, root, free_port(), _run_as())
    try:
        c.start()
    except (subprocess.SubprocessError, OSError) as exc:
        log = root / "log"
        detail = log.read_text()[-500:] if log.exists() else ""
        c.stop()
        _why_not = f"the test PostgreSQL did not start: {exc} {detail}"
        return None
    atexit.register(c.stop)
    _cluster = c
    return c


def why_not() -> str:
    return _why_not or ""
