"""How fast the console answers keys while a 10,000-order import runs in it.

    uv run python bench/console_latency.py [--orders 10000] [--latency-ms 20]

The emulator runs in its own process; the console runs headless (Textual's test
driver) at 80x24 with a real engine and hub. While the orders sync runs, keys
that switch views are sent to the app every 100 ms, as the terminal would send
them, and each key's time until its view is the one shown is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from bench._emulator import emulator_process  # noqa: E402
from core import accounts as acc  # noqa: E402
from core.store.hub import open_hub  # noqa: E402
from tui.app import SincroApp  # noqa: E402

# view keys and the view each one must bring up
KEYS = [("2", "log"), ("1", "accounts"), ("3", "history"), ("1", "accounts"), ("4", "erp"),
        ("1", "accounts")]


async def measure(url: str, key: str, pace_gc: bool) -> tuple[list[float], float, str]:
    home = Path(tempfile.mkdtemp(prefix="sincro-bench-")) / "home"
    home.mkdir(mode=0o700)
    hub = await open_hub(home / "hub.db")
    await acc.add_account(hub, acc.build_account("bench", url, key=key, tz="Europe/Rome"))
    await acc.add_account(hub, acc.build_account("other", url, key=key, tz="Europe/Rome"))
    await hub.close()
    app = SincroApp(home, pace_gc=pace_gc)
    times: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(app.ready.wait(), 30)
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("o")
        while not app.engine.running:
            await pilot.pause()
        i = 0
        while app.engine.running:
            key, view = KEYS[i % len(KEYS)]
            i += 1
            start = time.perf_counter()
            app._driver.send_message(events.Key(key, key))
            while app.main.current != view:
                await asyncio.sleep(0.001)
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.1)
        wall = time.perf_counter() - t0
        runs = await app.engine.hub.fetchall("SELECT outcome, counts FROM runs")
    return times, wall, f"{runs[0]['outcome']} {runs[0]['counts']}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--no-gc-pacer", action="store_true",
                   help="leave the garbage collector to itself, to compare")
    args = p.parse_args()
    with emulator_process(args.orders, 13, args.latency_ms) as (url, key):
        times, wall, outcome = asyncio.run(measure(url, key, not args.no_gc_pacer))
    ms = sorted(t * 1000 for t in times)
    print(f"import of {args.orders} orders in the console: {wall:.1f} s ({outcome[:60]}...)")
    print(f"keys pressed during it  {len(ms)}")
    print(f"answer time (ms)        median {statistics.median(ms):.1f}, "
          f"p95 {ms[int(len(ms) * 0.95) - 1]:.1f}, max {ms[-1]:.1f}")
    print(f"over 100 ms             {sum(1 for t in ms if t > 100)}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"console peak RSS        {rss:.0f} MB")


if __name__ == "__main__":
    main()
