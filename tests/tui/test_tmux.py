"""The console as a person meets it: `sincro demo` in an 80x24 tmux, keys typed with
send-keys, the screen read back with capture-pane."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    def __init__(self, name: str, socket: Path) -> None:
        self.name = name
        self.socket = str(socket)

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True,
                              text=True, check=False).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def wait_for(self, text: str, limit: float = 30.0) -> str:
        """The screen once it shows `text` (tmux has no event to wait on: look again)."""
        deadline = time.monotonic() + limit
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared; the screen:\n{screen}")
            time.sleep(0.1)


def test_demo_in_tmux(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    tmux = Tmux("sincro", tmp_path / "tmux.sock")
    command = (f"{sys.executable} -m cli.main --home {home} demo --orders-every 0; "
               f"echo EXITED=$?; sleep 30")
    tmux.run("new-session", "-d", "-s", "sincro", "-x", "80", "-y", "24",
             "-e", f"PATH={Path(sys.executable).parent}:/usr/bin:/bin", command)
    try:
        tmux.wait_for("demo-limited")
        screen = tmux.wait_for("o Orders")  # the footer may come a frame after the table
        assert "Account" in screen
        tmux.keys("o")  # orders sync of the selected (healthy) account
        screen = tmux.wait_for("✓ ok")
        tmux.keys("4")  # the ERP view lists the new documents
        screen = tmux.wait_for("open")
        assert "2026/" in screen or "/0000" in screen
        tmux.keys("1")
        tmux.wait_for("o Orders")
        tmux.keys("Down")  # the account whose key may not read customers
        tmux.wait_for("demo-limited  http")
        tmux.keys("o")
        screen = tmux.wait_for("failed", limit=60)
        assert "customers" in screen, screen
        tmux.keys("2")
        screen = tmux.wait_for("Webservice")
        tmux.keys("q")
        screen = tmux.wait_for("EXITED=")
        assert "EXITED=0" in screen
        assert "Traceback" not in screen
    finally:
        tmux.run("kill-server")
