"""End-to-end import: N generated orders from the emulator (in its own process, with
injected latency) through the hub into the embedded ERP.

    uv run python bench/import_orders.py [--orders 10000] [--latency-ms 20]

Prints wall time, orders/s, requests made and the peak RSS of the syncing process.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._emulator import emulator_process, requests_made, reset_requests  # noqa: E402
from core import accounts as acc  # noqa: E402
from core.engine import Engine  # noqa: E402


async def run(url: str, key: str, home: Path) -> tuple[float, object]:
    async with Engine(home, notify=False) as engine:
        await acc.add_account(engine.hub, acc.build_account("bench", url, key=key, tz="Europe/Rome",
                                                      options={"tax_map": {"0": "N4"}}))
        t0 = time.perf_counter()
        c0 = time.process_time()
        summary = await engine.run_sync("bench", "orders", trigger="cli")
        run.cpu = time.process_time() - c0  # type: ignore[attr-defined]
        return time.perf_counter() - t0, summary


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    with emulator_process(args.orders, args.seed, args.latency_ms) as (url, key):
        reset_requests(url)
        home = Path(tempfile.mkdtemp(prefix="sincro-bench-")) / "home"
        wall, summary = asyncio.run(run(url, key, home))
        reqs = requests_made(url)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    imported = summary.counts.get("orders_imported", 0)
    print(f"orders in shop        {args.orders}")
    print(f"injected latency      {args.latency_ms:.0f} ms per request")
    print(f"outcome               {summary.outcome}")
    print(f"orders imported       {imported} (not importable: {summary.counts.get('orders_skipped', 0)})")
    print(f"documents in ERP      {summary.counts.get('documents_inserted', 0)}")
    print(f"requests              {reqs['total']} ({args.orders / max(1, reqs['total']):.0f} orders per request)")
    print("  by resource         " + ", ".join(f"{k} {v}" for k, v in sorted(reqs.get("by_resource", {}).items(), key=lambda kv: -kv[1])))
    print(f"wall time             {wall:.2f} s")
    print(f"orders/s              {args.orders / wall:.0f} read, {imported / wall:.0f} imported")
    print(f"CPU of the sync       {run.cpu:.2f} s (the shop runs in its own process)")  # type: ignore[attr-defined]
    print(f"peak RSS (sync)       {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
