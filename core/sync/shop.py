"""The shop as the sync steps read it: the Webservice client plus look-up caches.

Orders after the cursor are read in pages of ``display=full`` with the filter
``id > cursor`` fixed for the whole run and ``limit=offset,n`` pages fetched a
few ahead (the client bounds requests in flight), so the wait for the shop
overlaps the hub writes. Related objects come in id batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from core.accounts import Account
from core.prestashop.client import PrestaShopClient
from core.prestashop.limits import client_options as account_bounds
from core.timeutil import zone


class Lookups:
    """Countries, currencies and carriers by id, fetched once per run."""

    def __init__(self, client: PrestaShopClient) -> None:
        self.client = client
        self.countries: dict[int, str] = {}
        self.currencies: dict[int, str] = {}
        self.carriers: dict[int, str] = {}

    async def ensure(self, countries: Iterable[int] = (), currencies: Iterable[int] = (),
                     carriers: Iterable[int] = ()) -> None:
        want_countries = {i for i in countries if i and i not in self.countries}
        want_currencies = {i for i in currencies if i and i not in self.currencies}
        want_carriers = {i for i in carriers if i and i not in self.carriers}
        jobs = []
        if want_countries:
            jobs.append(self._countries(want_countries))
        if want_currencies:
            jobs.append(self._currencies(want_currencies))
        if want_carriers:
            jobs.append(self._carriers(want_carriers))
        await asyncio.gather(*jobs)

    async def _countries(self, ids: set[int]) -> None:
        found = await self.client.countries(ids)
        self.countries.update({i: c.iso_code for i, c in found.items()})
        self.countries.update({i: "" for i in ids - set(found)})

    async def _currencies(self, ids: set[int]) -> None:
        found = await self.client.get_many("currencies", ids)
        self.currencies.update({i: c.iso_code for i, c in found.items()})
        self.currencies.update({i: "EUR" for i in ids - set(found)})

    async def _carriers(self, ids: set[int]) -> None:
        found = await self.client.carriers(ids)
        self.carriers.update({i: c.name for i, c in found.items()})
        self.carriers.update({i: "" for i in ids - set(found)})

    def country_iso(self, i: int) -> str:
        return self.countries.get(i, "")

    def currency_iso(self, i: int) -> str:
        return self.currencies.get(i) or "EUR"

    def carrier_name(self, i: int) -> str:
        return self.carriers.get(i, "")


async def prefetched_pages(client: PrestaShopClient, resource: str, filters: dict[str, str],
                           page_size: int, prefetch: int = 3) -> AsyncIterator[list[Any]]:
    """Pages of full objects for a filter fixed for the whole read, ``limit=offset,n``
    pages fetched ``prefetch`` ahead (the client bounds the requests in flight), so the
    wait for the shop overlaps the caller's work. Stops at the first short page."""
    date = any(k in ("date_add", "date_upd") for k in filters)

    def fetch(page: int) -> asyncio.Task:
        return asyncio.create_task(client.list_raw(
            resource, filters=filters, sort="[id_ASC]",
            limit=f"{page * page_size},{page_size}", date=date))

    pending: list[asyncio.Task] = [fetch(i) for i in range(prefetch)]
    page_no = prefetch
    try:
        while pending:
            items = await pending.pop(0)
            if len(items) < page_size:
                for t in pending:
                    t.cancel()
                pending = []
            else:
                pending.append(fetch(page_no))
                page_no += 1
            yield await client.models(resource, items)
    finally:
        for t in pending:
            t.cancel()
        for t in pending:
            with contextlib.suppress(BaseException):
                await t


class ShopReader:
    def __init__(self, client: PrestaShopClient, account: Account) -> None:
        self.client = client
        self.account = account
        self.tz = client.tz
        self.lookups = Lookups(client)

    async def orders_after(self, cursor: int, page_size: int,
                           prefetch: int = 3) -> AsyncIterator[list[Any]]:
        """Pages of full orders with id > cursor, in id order."""
        seen: set[int] = set()
        async for models in prefetched_pages(self.client, "orders", {"id": f">[{int(cursor)}]"},
                                             page_size, prefetch):
            # one order once, even when the shop repeats it within a page
            models = list({m.id: m for m in models if m.id > cursor and m.id not in seen}.values())
            seen.update(m.id for m in models)
            models.sort(key=lambda m: m.id)
            yield models

    async def orders_by_ids(self, ids: Iterable[int]) -> dict[int, Any]:
        return await self.client.orders(ids)

    async def customers(self, ids: Iterable[int]) -> dict[int, Any]:
        ids = set(ids)
        return await self.client.customers(ids) if ids else {}

    async def addresses(self, ids: Iterable[int]) -> dict[int, Any]:
        ids = set(ids)
        return await self.client.addresses(ids) if ids else {}

    async def addresses_of_customers(self, customer_ids: Iterable[int]) -> list[Any]:
        ids = sorted(set(customer_ids))
        if not ids:
            return []
        out: list[Any] = []
        for chunk in self.client._id_chunks("addresses", ids):
            out.extend(await self.client.list(
                "addresses", filters={"id_customer": "[" + "|".join(map(str, chunk)) + "]"}))
        return out

    async def customers_changed_since(self, since: datetime) -> dict[int, Any]:
        found = await self.client.updated_between("customers", since)
        return {c.id: c for c in found}


@contextlib.asynccontextmanager
async def open_shop(account: Account, **client_options: Any) -> AsyncIterator[ShopReader]:
    client = PrestaShopClient(account.url, account.resolve_key(), tz=zone(account.tz),
                              **{**account_bounds(account), **client_options})
    try:
        yield ShopReader(client, account)
    finally:
        await client.aclose()
