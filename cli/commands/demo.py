"""`sincro demo`: the console on a demo shop (the emulator, with sample_data) and the
embedded ERP, in a demo home of its own: its hub.db and erp.db are SQLite files there, even
when SINCRO_HUB names a PostgreSQL hub (the demo starts afresh each time and never touches
that database).

Two accounts: `demo` (a healthy shop) and `demo-limited` (its key may not read
customers, so its orders sync fails with the shop's own message). A schedule
every five minutes; new orders arrive on the shop from time to time. q or
Ctrl+C in the console stops everything the demo started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import threading
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from cli.commands import args as types
from cli.commands.base import Context, set_handler
from core import accounts as acc
from core.errors import ConfigError
from core.home import ERP_FILE, HUB_FILE, ensure_home, resolve_home

if TYPE_CHECKING:
    from emulator.data import ShopState

LIMITED_KEY = "SINCRODEMOLIMITED000000000000002"
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the console on a demo shop and the embedded ERP")
    p.add_argument("--keep", action="store_true", help="reuse the demo home of the last demo")
    p.add_argument("--port", type=types.whole(0, 65535, "a port"), default=0,
                   help="the demo shop's port (default: a free one)")
    p.add_argument("--orders-every", type=types.seconds(0, 86400), default=45.0, metavar="SECONDS",
                   help="a new order arrives on the demo shop about this often (0: never)")
    p.add_argument("--no-console", action="store_true",
                   help="serve the demo shop and prepare the home, without the console")
    set_handler(p, cmd_demo)


def demo_home(args: argparse.Namespace) -> Path:
    if args.home:
        return Path(args.home).expanduser()
    return resolve_home(None).parent / "sincro-demo"


class DemoShop:
    """The emulator on a thread of its own, so the console keeps the main thread."""

    def __init__(self, port: int, orders_every: float) -> None:
        self.port = port
        self.orders_every = orders_every
        self.ready = threading.Event()
        self.url = ""
        self.key = ""
        self.state: ShopState | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="demo-shop", daemon=True)

    def start(self) -> DemoShop:
        self._thread.start()
        self.ready.wait(30)
        if self.error:
            raise ConfigError(f"the demo shop could not start: {self.error}",
                              hint="choose another --port, or free the one given")
        if not self.url:
            raise ConfigError("the demo shop did not start within 30 s")
        return self

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the main thread
            self.error = exc
            self.ready.set()

    async def _serve(self) -> None:
        from emulator.data import KeySpec, load_dir
        from emulator.dates import date_relative_to_now
        from emulator.server import EmulatorServer

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        state = load_dir(SAMPLE_DATA)
        date_relative_to_now(state)  # orders over the last weeks, the newest a little before now
        everything = dict(state.keys[state.key].permissions)
        state.keys[LIMITED_KEY] = KeySpec(LIMITED_KEY, permissions={
            **everything, "customers": frozenset()})
        self.state = state
        async with EmulatorServer(state, port=self.port, log_level="critical") as emu:
            self.url, self.key = emu.url, emu.key
            self.ready.set()
            feeder = asyncio.create_task(self._feed(state)) if self.orders_every > 0 else None
            await self._stop.wait()
            if feeder:
                feeder.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeder

    async def _feed(self, state) -> None:
        from emulator.dates import add_orders_now

        rng = random.Random()
        while True:
            await asyncio.sleep(self.orders_every * rng.uniform(0.5, 1.5))
            add_orders_now(state, rng.randint(1, 2))  # dated now
            if rng.random() < 0.2:  # now and then a refund: a credit note in the ERP
                refund_one(state, rng)

    def stop(self) -> None:
        if self._loop and self._stop:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def refund_one(state, rng: random.Random) -> int | None:
    """A refund of one unit of one row of a paid order not refunded yet (the slip's id)."""
    refunded = {str(s.get("id_order")) for s in state.table("order_slip").values()}
    paid = [o for o in state.table("orders").values()
            if str(o.get("current_state")) in ("2", "3", "4", "5") and str(o["id"]) not in refunded]
    if not paid:
        return None
    order = rng.choice(paid)
    rows = state.assoc_items("orders", order, "order_rows")
    if not rows:
        return None
    return int(state.add_order_slip(int(order["id"]), {int(rng.choice(rows)["id"]): 1})["id"])


def catalogue(state) -> list[tuple[str, str, Decimal, int]]:
    """ERP articles for the demo shop's products: (code, description, price, stock)."""
    stock = {}
    for row in state.table("stock_availables").values():
        stock[(int(row["id_product"]), int(row.get("id_product_attribute", 0) or 0))] = int(
            row.get("quantity", 0) or 0)
    out = []
    for pid, p in state.table("products").items():
        name = p.get("name")
        if isinstance(name, dict):
            name = name.get(2) or name.get("2") or next(iter(name.values()), "")
        price = Decimal(p.get("price") or "0")
        combos = [c for c in state.table("combinations").values() if int(c["id_product"]) == pid]
        if not combos and p.get("reference"):
            out.append((p["reference"], str(name), price, stock.get((pid, 0), 0)))
        for c in combos:
            ref = c.get("reference") or p.get("reference")
            if ref:
                out.append((ref, f"{name} ({ref})", price + Decimal(c.get("price") or "0"),
                            stock.get((pid, int(c["id"])), 0)))
    return out


async def prepare(home: Path, url: str, key: str, state, *, keep: bool) -> None:
    """Accounts, schedule and ERP catalogue of the demo home."""
    from core.erp.embedded import EmbeddedErp
    from core.schedule import Schedule
    from core.schedules_store import get_schedule, save_schedule
    from core.store.hub import open_hub
    from core.timeutil import machine_zone

    ensure_home(home)
    hub = await open_hub(home / HUB_FILE)
    try:
        tz = machine_zone()
        wanted = {"demo": key, "demo-limited": LIMITED_KEY}
        existing = {a.name: a for a in await acc.list_accounts(hub)}
        for name, k in wanted.items():
            if name in existing:  # --keep: the shop has a new port this time
                from dataclasses import replace

                await acc.save_account(hub, replace(existing[name], url=acc.normalise_url(url),
                                                    key=k, key_env=None))
            else:
                # the demo office has mapped its exempt articles (docs/FISCAL.md)
                await acc.add_account(hub, acc.build_account(
                    name, url, key=k, tz=tz, options={"tax_map": {"0": "N4"}}))
        demo = await acc.get_account(hub, "demo")
        if await get_schedule(hub, demo.saved_id) is None:
            await save_schedule(hub, demo.saved_id, Schedule("cron", tz=tz, cron="*/5 * * * *"))
        await demo_listing(hub)
    finally:
        await hub.close()
    erp = await EmbeddedErp.open(home / ERP_FILE)
    try:
        for code, description, price, stock in catalogue(state):
            await erp.add_article(code, description, price, stock=stock)
    finally:
        await erp.close()


async def demo_listing(hub) -> None:
    """A sales list of the whole catalogue and a listing on `demo` that stops what has no
    stock and publishes what has (with the ERP's quantity): view 5 of the console."""
    from core import listings as lst

    if any(x.name == "demo-stock" for x in await lst.list_listings(hub)):
        return
    await lst.save_list(hub, "catalogue", add_patterns=["*"])
    await lst.save_listing(hub, "demo-stock", account="demo", lists=["catalogue"], create=True,
                           rules=[lst.make_rule("stock <= 0", "stop"),
                                  lst.make_rule("stock > 0", "publish")])


async def cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    from core.store.location import HUB_ENV

    os.environ.pop(HUB_ENV, None)  # the demo's data are files of the demo home, never a hub's
    home = demo_home(args)
    if not args.keep and home.exists():
        await asyncio.to_thread(shutil.rmtree, home)
    shop = await asyncio.to_thread(DemoShop(args.port, args.orders_every).start)
    try:
        await prepare(home, shop.url, shop.key, shop.state, keep=args.keep)
        if args.no_console:
            print(f"demo shop at {shop.url} (key {acc.mask(shop.key)}), demo home {home}",
                  flush=True)
            await asyncio.Event().wait()
            return 0
        from tui.app import SincroApp

        app = SincroApp(home, schedule=True)
        await app.run_async()
        return app.return_code or 0
    finally:
        await asyncio.to_thread(shop.stop)
