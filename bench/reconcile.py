"""Reconcile against an orders sync of the same period: requests and wall time.

N generated orders in the emulator (its own process, injected latency): an
orders sync imports them all (hub + embedded ERP), then a reconcile of the same
period compares shop, hub and ERP. Reconcile must take no more requests than
the sync.

    uv run python bench/reconcile.py [--orders 10000] [--latency-ms 20] [--since YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._emulator import emulator_process, requests_made, reset_requests  # noqa: E402
from core import accounts as acc  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.reconcile import reconcile  # noqa: E402


async def run(url: str, key: str, home: Path, since: str | None) -> dict:
    out: dict = {}
    async with Engine(home, notify=False) as engine:
        await acc.add_account(engine.hub, acc.build_account("bench", url, key=key,
                                                            tz="Europe/Rome",
                                                            options={"tax_map": {"0": "N4"}}))
        reset_requests(url)
        t0 = time.perf_counter()
        summary = await engine.run_sync("bench", "orders", trigger="cli")
        out["sync_wall"] = time.perf_counter() - t0
        out["sync_requests"] = requests_made(url)
        out["sync"] = summary
        reset_requests(url)
        t0 = time.perf_counter()
        report = await reconcile(engine, "bench", since=since)
        out["rec_wall"] = time.perf_counter() - t0
        out["rec_requests"] = requests_made(url)
        out["report"] = report
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--since", default=None, help="reconcile from this day (default: all)")
    args = p.parse_args()
    with emulator_process(args.orders, args.seed, args.latency_ms) as (url, key):
        home = Path(tempfile.mkdtemp(prefix="sincro-bench-")) / "home"
        r = asyncio.run(run(url, key, home, args.since))
    s, rep = r["sync"], r["report"]
    sync_n, rec_n = r["sync_requests"]["total"], r["rec_requests"]["total"]
    print(f"orders in shop          {args.orders} at {args.latency_ms:.0f} ms injected latency")
    print(f"orders sync             {s.outcome}: {s.counts.get('orders_imported', 0)} imported, "
          f"{s.counts.get('documents_inserted', 0)} documents")
    print(f"orders sync requests    {sync_n}  {r['sync_requests']['by_resource']}")
    print(f"orders sync wall        {r['sync_wall']:.2f} s")
    print(f"reconcile               {'aligned' if rep.aligned else 'NOT aligned'}: "
          f"{rep.orders_checked} orders, {rep.documents_checked} documents, "
          f"{rep.customers_checked} customers checked; {rep.counts()}")
    print(f"reconcile requests      {rec_n}  {r['rec_requests']['by_resource']}")
    print(f"reconcile wall          {r['rec_wall']:.2f} s")
    print(f"requests, reconcile/sync {rec_n / max(1, sync_n):.2f} "
          f"({'OK' if rec_n <= sync_n else 'MORE than the sync'})")
    if rec_n > sync_n or r["rec_requests"]["writes"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
