"""Start the emulator in its own process (as a real shop would be), for benchmarks."""

from __future__ import annotations

import re
import subprocess
import sys
from contextlib import contextmanager

import httpx


@contextmanager
def emulator_process(n_orders: int, seed: int = 7, latency_ms: float = 0.0, version: str = "1.6"):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "emulator", "--generate", str(n_orders), "--seed",
         str(seed), "--version", version],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = key = None
        for line in proc.stdout:
            if m := re.search(r"at (http://\S+)", line):
                url = m.group(1)
            if m := re.search(r"Webservice key: (\S+)", line):
                key = m.group(1)
            if url and key:
                break
        if not (url and key):
            raise RuntimeError("the emulator did not start")
        if latency_ms:
            httpx.post(url + "_emulator/faults",
                       json={"kind": "latency", "seconds": latency_ms / 1000}).raise_for_status()
        yield url, key
    finally:
        proc.terminate()
        proc.wait(10)


def requests_made(url: str) -> dict:
    return httpx.get(url + "_emulator/requests").json()


def reset_requests(url: str) -> None:
    httpx.post(url + "_emulator/requests/reset").raise_for_status()
