"""A tiny fake shop for console tests: no orders, and a gate to hold a run open."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core import accounts as acc
from core.engine import Engine
from core.store.hub import open_hub
from tui.app import SincroApp

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456"
NOW = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
TZ = "Europe/Rome"


class FakeLookups:
    async def ensure(self, **_: Any) -> None:
        return None


class FakeShop:
    def __init__(self, gate: asyncio.Event | None, fail: Exception | None = None) -> None:
        self.tz = ZoneInfo(TZ)
        self.lookups = FakeLookups()
        self.gate = gate
        self.fail = fail

    async def orders_after(self, cursor: int, page_size: int,
                           prefetch: int = 3) -> AsyncIterator[list[Any]]:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        for page in ():
            yield page

    async def orders_by_ids(self, ids: Any) -> dict:
        return {}

    async def customers(self, ids: Any) -> dict:
        return {}

    async def addresses(self, ids: Any) -> dict:
        return {}

    async def addresses_of_customers(self, ids: Any) -> list:
        return []

    async def customers_changed_since(self, since: Any) -> dict:
        return {}

    async def slips_after(self, cursor: int, limit: int) -> list:
        return []


class ShopStub:
    """The engine's shop_factory: every run gets a FakeShop; `hold()` keeps runs open."""

    def __init__(self) -> None:
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None  # raised by the shop when a run reads orders
        self.opened: list[str] = []

    def hold(self) -> asyncio.Event:
        self.gate = asyncio.Event()
        return self.gate

    @contextlib.asynccontextmanager
    async def __call__(self, account: acc.Account) -> AsyncIterator[FakeShop]:
        self.opened.append(account.name)
        yield FakeShop(self.gate, self.fail)


async def seed(home: Path, names: tuple[str, ...] = ("shop1", "shop2")) -> None:
    """A hub with accounts (and nothing else)."""
    home.mkdir(parents=True, exist_ok=True)
    db = await open_hub(home / "hub.db")
    try:
        for i, name in enumerate(names):
            await acc.add_account(db, acc.build_account(
                name, f"https://{name}.example", key=KEY, tz=TZ,
                options={"full_sync_allowance": 4} if i == 0 else {}))
    finally:
        await db.close()


RUNS = (
    # account id, kind, trigger, started, seconds, outcome, counts, errors
    (1, "orders", "schedule", "2026-11-27T07:00:00+00:00", 12, "ok",
     {"orders_imported": 12, "customers_created": 3, "documents_inserted": 12}, []),
    (2, "customers", "console", "2026-11-27T09:30:00+00:00", 95, "partial",
     {"customers_updated": 40, "errors": 1},
     ["customer 7 [b]Rossi[/b]: the shop answered 500 Internal Server Error"]),
    (1, "orders", "console", "2026-11-28T05:45:00+00:00", 3, "ok",
     {"orders_imported": 2, "documents_inserted": 2}, []),
)


async def seed_runs(home: Path) -> None:
    """Finished runs with fixed times and logs, and a schedule for shop1."""
    import json
    from datetime import timedelta

    from core.schedule import Schedule
    from core.schedules_store import save_schedule

    db = await open_hub(home / "hub.db")
    try:
        async with db.transaction() as conn:
            for account_id, kind, trigger, started, secs, outcome, counts, errors in RUNS:
                start = datetime.fromisoformat(started)
                end = (start + timedelta(seconds=secs)).isoformat()
                cur = await conn.execute(
                    "INSERT INTO runs (account_id, kind, trigger, owner, started_at, ended_at, "
                    "outcome, counts, errors, steps) VALUES (?, ?, ?, 'test', ?, ?, ?, ?, ?, ?) "
                    "RETURNING id",
                    (account_id, kind, trigger, started, end, outcome, json.dumps(counts),
                     json.dumps(errors), json.dumps([kind, "partial"])))
                run_id = (await cur.fetchone())[0]
                lines = [(run_id, started, "info", f"{kind} sync started ({trigger})")]
                lines += [(run_id, started, "error", e) for e in errors]
                lines.append((run_id, end, "info", f"{kind} sync: {outcome}"))
                await conn.executemany(
                    "INSERT INTO run_logs (run_id, at, level, message) VALUES (?, ?, ?, ?)",
                    lines)
        await save_schedule(db, 1, Schedule("daily", tz=TZ, times=4, between=("08:00", "20:00")),
                            now=NOW)
    finally:
        await db.close()


async def seed_erp(home: Path) -> None:
    """The embedded ERP with two articles, a customer called [b]Rossi[/b] and two documents."""
    from datetime import date
    from decimal import Decimal as D

    from core.erp.embedded import EmbeddedErp
    from core.erp.port import CustomerData, OrderDocumentData, OrderLineData

    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        await erp.add_article("A1", "Widget", "10.00", stock=100)
        await erp.add_article("B2", "Gadget", "25.50", stock=5)
        customer = await erp.upsert_customer(CustomerData("shop1:c:7", "[b]Rossi[/b]"))
        for n, code in ((1, "A1"), (2, "B2")):
            line = OrderLineData(code, f"Article {code}", 1, D("10.00"), D("12.20"), D("22"))
            await erp.insert_order(OrderDocumentData(
                f"shop1:o:{n}", customer.code, date(2026, 11, 27), "EUR", (line,), D("10.00"),
                D("12.20"), shop_reference=f"REF{n}"))
    finally:
        await erp.close()


def make_app(home: Path, shop: ShopStub | None = None, **kwargs: Any) -> SincroApp:
    shop = shop or ShopStub()
    kwargs.setdefault("tz", TZ)
    kwargs.setdefault("clock", lambda: NOW)
    kwargs.setdefault("refresh_every", 3600)
    kwargs.setdefault("lines_every", 3600)
    # a long retention: the fixed dates of the seeded runs must never be pruned
    return SincroApp(engine_factory=lambda: Engine(home, shop_factory=shop, notify=False,
                                                   log_retention_days=365_000), **kwargs)


async def settle(pilot: Any, *, skip: tuple[str, ...] = ("bridge",)) -> None:
    """Wait until the engine is open and every worker (but the bridge, and `skip`) is done."""
    app = pilot.app
    await asyncio.wait_for(app.ready.wait(), 10)
    for _ in range(20):
        await pilot.pause()
        busy = [w for w in app.workers
                if not w.is_finished and not any(w.group.startswith(s) for s in skip)]
        if not busy:
            await pilot.pause()
            return
        await app.workers.wait_for_complete(busy)
    raise AssertionError("workers never settled")


async def help_rows(app: SincroApp, pilot: Any) -> list[tuple[str, ...]]:
    """Open the help (F1) and read its rows as plain text: (where, key, does)."""
    from textual.widgets import DataTable

    from tui.screens.help import HelpScreen

    await pilot.press("f1")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    table = app.screen.query_one(DataTable)
    return [tuple(cell.plain for cell in table.get_row_at(i)) for i in range(table.row_count)]


def screen_text(app: SincroApp) -> str:
    """The screen as plain text, one line per row."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def fill(pilot: Any, selector: str, value: str) -> None:
    """Put a value in an input (focused first, as the operator would reach it)."""
    field = pilot.app.screen.query_one(selector)
    field.focus()
    field.value = value
    await pilot.pause()
