"""Shared test helpers: run the `sincro` command, in-process through ``cli.main.main(argv)``
where no separate process is needed, else as a real process (``python -m cli``).

In-process, a call sees what a fresh process would: the environment given (``SINCRO_*``
variables of the test runner removed), stdin from ``input`` (empty otherwise), and its own
stdout and stderr. A command that must be a process of its own (the console, the daemon,
the demo, a run another process kills) spawns; ``SINCRO_TEST_SPAWN=1`` spawns every call.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456"

# commands that hold a terminal, serve, or install signal handlers: a process of their own
_SPAWNED = {"demo", "emulator"}
_IN_PROCESS = threading.Lock()  # one in-process call at a time: it swaps process-wide state


@dataclass
class Result:
    code: int
    out: str
    err: str


def _env(home: Path | None, env: Mapping[str, str] | None) -> dict[str, str]:
    # the runner's own SINCRO_* go, but the hub the test runs on (tests/conftest.py)
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("SINCRO_") or k == "SINCRO_HUB"}
    if home is not None:
        full_env["SINCRO_HOME"] = str(home)
    full_env.setdefault("COLUMNS", "200")
    full_env.update(env or {})
    return full_env


def _spawns(args: Sequence[str], env: Mapping[str, str] | None) -> bool:
    if os.environ.get("SINCRO_TEST_SPAWN") or (env or {}).get("SINCRO_TEST_SPAWN"):
        return True
    words = [a for a in args if not a.startswith("-")]
    return "--daemon" in args or not words or words[0] in _SPAWNED


def run_in_process(args: Sequence[str], env: Mapping[str, str], input: str | None) -> Result:
    """``main(argv)`` as a fresh process would run it; what it prints is captured."""
    from cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with _IN_PROCESS:
        saved_env, saved_stdin = dict(os.environ), sys.stdin
        os.environ.clear()
        os.environ.update(env)
        sys.stdin = io.StringIO(input or "")
        try:
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse: usage errors, --help, --version
                    code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
                    if isinstance(exc.code, str):
                        print(exc.code, file=sys.stderr)
                except BaseException:  # what Python prints for an uncaught exception
                    traceback.print_exc()
                    code = 1
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            sys.stdin = saved_stdin
    return Result(int(code), out.getvalue(), err.getvalue())


def _off_the_loop(fn: Callable[..., Result], *args: object) -> Result:
    """``fn`` on this thread, or on a worker thread when an event loop runs on this one
    (a blocking call from an async test: ``main`` runs its own loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def sincro(home: Path | None, *args: str, env: dict | None = None, input: str | None = None,
           timeout: float = 60, spawn: bool = False) -> Result:
    full_env = _env(home, env)
    if not spawn and not _spawns(args, env):
        return _off_the_loop(run_in_process, args, full_env, input)
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
                  limit: float = 60, spawn: bool = False) -> Result:
    """`sincro` without blocking the event loop (for tests that serve in it): in-process
    on a worker thread, or a process of its own."""
    full_env = _env(home, env)
    if not spawn and not _spawns(args, env):
        return await asyncio.wait_for(
            asyncio.to_thread(run_in_process, args, full_env, None), limit)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=full_env)
    out, err = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None  # communicate() returns once the process has ended
    return Result(proc.returncode, out.decode(), err.decode())
