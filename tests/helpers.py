"""Shared test helpers: run the real `sincro` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456"


@dataclass
class Result:
    code: int
    out: str
    err: str


def sincro(home: Path | None, *args: str, env: dict | None = None, input: str | None = None,
           timeout: float = 60) -> Result:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SINCRO_")}
    if home is not None:
        full_env["SINCRO_HOME"] = str(home)
    full_env.setdefault("COLUMNS", "200")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True, text=True, env=full_env, timeout=timeout, input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_error(result: Result, *fragments: str) -> None:
    """One clear line on stderr, non-zero exit, no traceback."""
    assert result.code != 0, result
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    assert lines[-1].startswith(("sincro: error:", "usage:")) or any(
        line.startswith("sincro: error:") for line in lines
    ), result.err
    for fragment in fragments:
        assert fragment.lower() in result.err.lower(), (fragment, result.err)


async def asincro(home: Path | None, *args: str, env: dict | None = None,
                  limit: float = 60) -> Result:
    """`sincro` in a subprocess without blocking the event loop (for tests that serve)."""
    import asyncio

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SINCRO_")}
    if home is not None:
        full_env["SINCRO_HOME"] = str(home)
    full_env.setdefault("COLUMNS", "200")
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=full_env)
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    return Result(proc.returncode, out.decode(), err.decode())
