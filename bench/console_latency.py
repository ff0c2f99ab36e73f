"""How fast the console answers keys while a 10,000-order import runs in it.

    uv run python bench/console_latency.py [--orders 10000] [--latency-ms 20]

The emulator runs in its own process; the console runs headless (Textual's test
driver) at 80x24 with a real engine and hub. While the orders sync runs, keys
that switch views are sent to the app every 100 ms, as the terminal would send
them, and each key's time until its view is the one shown is recorded. The
dashboard (6) is among them, and `a` on it (its next account, whose charts are
drawn); after the import, the dashboard is timed until it shows the new orders.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import resource
import statistics
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from bench._emulator import emulator_process  # noqa: E402
from core import accounts as acc  # noqa: E402
from core.store.hub import open_hub  # noqa: E402
from tui.app import SincroApp  # noqa: E402

# keys and the view each one must bring up; `a` on the dashboard must show the next account
KEYS: list[tuple[str, str]] = [
    ("2", "log"), ("6", "dashboard"), ("a", "dashboard"), ("1", "accounts"), ("3", "history"),
    ("6", "dashboard"), ("a", "dashboard"), ("4", "erp"), ("1", "accounts")]


def next_account(app: SincroApp) -> str | None:
    """The account `a` must bring up on the dashboard; None before its first figures."""
    dashboard = app.main.dashboard
    names = [a.account for a in dashboard.activity]
    if dashboard.account not in names:
        return None
    return names[(names.index(dashboard.account) + 1) % len(names)]


class LoopLag:
    """The longest stretches in which the event loop ran nothing else (a 5 ms ticker's lateness).

    With `why`, a thread looks at the event loop's thread whenever the ticker
    is over 50 ms late and counts where it is (the innermost frames), to say
    what blocks the loop."""

    def __init__(self, why: collections.Counter[str] | None = None) -> None:
        self.blocks: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self.why = why
        self._beat = time.perf_counter()
        self._done = threading.Event()

    async def _run(self) -> None:
        if self.why is not None:
            threading.Thread(target=self._watch, args=(threading.get_ident(),),
                             daemon=True).start()
        while True:
            start = self._beat = time.perf_counter()
            await asyncio.sleep(0.005)
            self.blocks.append(time.perf_counter() - start - 0.005)

    def _watch(self, loop_thread: int) -> None:
        assert self.why is not None
        last = None
        while not self._done.wait(0.01):
            if time.perf_counter() - self._beat < 0.05:
                last = None
                continue
            frame = sys._current_frames().get(loop_thread)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-8:]
            where = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                for f in reversed(stack))
            if where != last:
                self.why[where] += 1
                last = where

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self._done.set()

    def worst(self) -> str:
        ms = sorted(b * 1000 for b in self.blocks)
        return f"longest {ms[-1]:.0f} ms, over 100 ms {sum(1 for b in ms if b > 100)} times"


async def measure(url: str, key: str, pace_gc: bool, why: collections.Counter[str] | None
                  ) -> tuple[list[float], list[tuple[str, str]], float, str, list[str]]:
    home = Path(tempfile.mkdtemp(prefix="sincro-bench-")) / "home"
    home.mkdir(mode=0o700)
    hub = await open_hub(home / "hub.db")
    await acc.add_account(hub, acc.build_account("bench", url, key=key, tz="Europe/Rome",
                                                      options={"tax_map": {"0": "N4"}}))
    await acc.add_account(hub, acc.build_account("other", url, key=key, tz="Europe/Rome"))
    await hub.close()
    app = SincroApp(home, pace_gc=pace_gc)
    times: list[float] = []
    sent: list[tuple[str, str]] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await asyncio.wait_for(app.ready.wait(), 30)
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("o")
        while not app.engine.running:
            await pilot.pause()
        i = 0
        lag = LoopLag(why).__enter__()
        slow: list[str] = []
        while app.engine.running:
            key, view = KEYS[i % len(KEYS)]
            i += 1
            account = next_account(app) if key == "a" else None
            if key == "a" and (app.main.current != "dashboard" or account is None):
                continue  # its figures are still being read: nothing to switch yet
            sent.append((key, view))
            start = time.perf_counter()
            queued = {str(n): n._message_queue.qsize() for n in (app, app.main, app.focused)
                      if n is not None and n._message_queue.qsize()}
            if app.main._message_queue.qsize() > 20:
                kinds = collections.Counter(type(m).__name__ for m in app.main._message_queue.values)
                queued["kinds"] = dict(kinds.most_common(5))
            app._driver.send_message(events.Key(key, key))
            while app.main.current != view or (
                    account is not None and app.main.dashboard.account != account):
                await asyncio.sleep(0.001)
            times.append(time.perf_counter() - start)
            if times[-1] > 0.1:
                slow.append(f"key {key} ({view}) answered in {times[-1] * 1000:.0f} ms "
                            f"at {time.perf_counter() - t0:.1f} s; messages waiting: {queued}")
            await asyncio.sleep(0.1)
        wall = time.perf_counter() - t0
        lag.__exit__()
        notes = [f"event loop during it    {lag.worst()}", *slow]
        # the ERP view opened on the 10,000 new documents
        await pilot.press("1")
        await pilot.pause()
        from textual.widgets import DataTable
        docs = app.main.query_one("#erp-documents", DataTable)
        from tui.screens.erp import DOC_WINDOW
        rows, total = await (await app.engine.erp()).document_summaries(limit=DOC_WINDOW)
        expected = len(rows)
        with LoopLag() as fill:
            start = time.perf_counter()
            await pilot.press("4")
            while docs.row_count < expected:
                await asyncio.sleep(0.005)
            took = time.perf_counter() - start
        notes.append(f"ERP view first shown    newest {expected} of {total} documents in {took * 1000:.0f} ms; "
                     f"{fill.worst()}")
        # the dashboard, open at the end of the import, shows its orders (read in a worker)
        dashboard = app.main.dashboard
        with LoopLag() as drawn:
            start = time.perf_counter()
            await pilot.press("6")
            while not any(a.orders for a in dashboard.activity):
                await asyncio.sleep(0.005)
            took = time.perf_counter() - start
        shown = next(a for a in dashboard.activity if a.orders)
        notes.append(f"dashboard after it      {shown.account}: {shown.orders} orders in its "
                     f"figures after {took * 1000:.0f} ms; {drawn.worst()}")
        runs = await app.engine.hub.fetchall("SELECT outcome, counts FROM runs")
    return times, sent, wall, f"{runs[0]['outcome']} {runs[0]['counts']}", notes


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--why", action="store_true",
                   help="say where the event loop was when it was blocked over 50 ms")
    p.add_argument("--no-gc-pacer", action="store_true",
                   help="leave the garbage collector to itself, to compare")
    args = p.parse_args()
    why: collections.Counter[str] | None = collections.Counter() if args.why else None
    with emulator_process(args.orders, 13, args.latency_ms) as (url, key):
        times, sent, wall, outcome, notes = asyncio.run(measure(url, key, not args.no_gc_pacer, why))
    ms = sorted(t * 1000 for t in times)
    print(f"import of {args.orders} orders in the console: {wall:.1f} s ({outcome[:60]}...)")
    print(f"keys pressed during it  {len(ms)}")
    print(f"answer time (ms)        median {statistics.median(ms):.1f}, "
          f"p95 {ms[int(len(ms) * 0.95) - 1]:.1f}, p99 {ms[max(0, int(len(ms) * 0.99) - 1)]:.1f}, "
          f"max {ms[-1]:.1f}")
    for key, view in dict.fromkeys(KEYS):
        own = sorted(t * 1000 for t, k in zip(times, sent, strict=True) if k == (key, view))
        if own:
            what = f"{key} ({'next account' if key == 'a' else view})"
            print(f"  key {what:<18} {len(own)} presses, median {statistics.median(own):.1f}, "
                  f"max {own[-1]:.1f}")
    print(f"over 100 ms             {sum(1 for t in ms if t > 100)}")
    for line in notes:
        print(line)
    if why:
        print("where the event loop was when blocked (innermost first):")
        for where, count in why.most_common(12):
            print(f"  {count:3d}  {where}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"console peak RSS        {rss:.0f} MB")


if __name__ == "__main__":
    main()
