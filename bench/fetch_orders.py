"""Fetch N orders with their customers, addresses and products from the emulator
(its own process, injected latency), batched as Sincro does, beside a naive
strategy (one request per order and per related object, skipping objects
already fetched), in the same run.

    uv run python bench/fetch_orders.py [--orders 10000] [--latency-ms 20] [--naive-orders N]

The naive run takes minutes at full size; --naive-orders measures it on the
first N orders and scales its time to the full count (printed as such).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._emulator import emulator_process, requests_made, reset_requests  # noqa: E402
from core.prestashop.client import PrestaShopClient  # noqa: E402

TZ = ZoneInfo("Europe/Rome")


async def batched(url: str, key: str) -> int:
    async with PrestaShopClient(url, key, tz=TZ) as c:
        n = 0
        seen_c: set[int] = set()
        seen_a: set[int] = set()
        seen_p: set[int] = set()
        async for page in c.orders_after_id(0):
            n += len(page)
            cust = {o.id_customer for o in page} - seen_c
            addr = {a for o in page for a in (o.id_address_delivery, o.id_address_invoice)} - seen_a
            prod = {r.product_id for o in page for r in o.rows} - seen_p
            got = await asyncio.gather(c.customers(cust), c.addresses(addr), c.products(prod))
            seen_c |= set(got[0])
            seen_a |= set(got[1])
            seen_p |= set(got[2])
        return n


async def naive(url: str, key: str, limit: int) -> int:
    async with PrestaShopClient(url, key, tz=TZ) as c:
        ids = (await c.ids("orders"))[:limit]
        seen: dict[str, set[int]] = {"customers": set(), "addresses": set(), "products": set()}
        for oid in ids:
            o = await c.get("orders", oid)
            wanted = {"customers": {o.id_customer},
                      "addresses": {o.id_address_delivery, o.id_address_invoice},
                      "products": {r.product_id for r in o.rows}}
            for res, want in wanted.items():
                for i in sorted(want - seen[res]):
                    await c.get(res, i)
                    seen[res].add(i)
        return len(ids)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--orders", type=int, default=10_000)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--naive-orders", type=int, default=None)
    args = p.parse_args()
    with emulator_process(args.orders, 11, args.latency_ms) as (url, key):
        reset_requests(url)
        t0 = time.perf_counter()
        n = asyncio.run(batched(url, key))
        fast = time.perf_counter() - t0
        fast_reqs = requests_made(url)["total"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        reset_requests(url)
        limit = args.naive_orders or args.orders
        t0 = time.perf_counter()
        m = asyncio.run(naive(url, key, limit))
        slow = time.perf_counter() - t0
        slow_reqs = requests_made(url)["total"]
    scale = args.orders / m
    print(f"orders                {n} at {args.latency_ms:.0f} ms injected latency")
    print(f"batched: requests     {fast_reqs} ({n / fast_reqs:.0f} orders per request)")
    print(f"batched: wall         {fast:.2f} s, {n / fast:.0f} orders/s")
    print(f"batched: peak RSS     {rss:.0f} MB")
    label = "" if m == args.orders else f" (measured on {m} orders, scaled x{scale:.1f})"
    print(f"naive: requests       {slow_reqs * scale:.0f}{label}")
    print(f"naive: wall           {slow * scale:.1f} s, {m / slow:.0f} orders/s{label}")
    print(f"speed-up              {slow * scale / fast:.1f}x")


if __name__ == "__main__":
    main()
