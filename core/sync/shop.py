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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.accounts import Account
from core.errors import ConfigError
from core.prestashop.client import PrestaShopClient
from core.prestashop.errors import ShopNotFound, ShopPermissionError
from core.prestashop.limits import client_options as account_bounds
from core.prestashop.parse import Multilang, to_multilang
from core.timeutil import zone


@dataclass(frozen=True, slots=True)
class Language:
    id: int
    iso_code: str
    name: str
    active: bool


async def shop_languages(client: PrestaShopClient) -> list[Language]:
    """The shop's languages (``languages``), in id order."""
    out = []
    for raw in await client.list_raw("languages", display="full", sort="[id_ASC]"):
        try:
            lid = int(str(raw.get("id")).strip())
        except ValueError:
            continue
        out.append(Language(lid, str(raw.get("iso_code") or "").strip().lower(),
                            str(raw.get("name") or "").strip(),
                            str(raw.get("active") if raw.get("active") is not None else "1").strip()
                            != "0"))
    return out


def language_of(code: str, languages: list[Language], *, account: str | None = None) -> Language:
    """The active language with this ISO code, else one line naming the valid ones."""
    wanted = (code or "").strip().lower()
    active = [lang for lang in languages if lang.active]
    for lang in active:
        if lang.iso_code == wanted:
            return lang
    choices = ", ".join(f"{lang.iso_code} ({lang.name})" for lang in active) or "none"
    whose = f"account {account}: " if account else ""
    raise ConfigError(f"{whose}the shop has no active language {code!r} (its languages: {choices})",
                      hint="give one of them with --language, or leave --language out for the "
                      "shop's first language")


@dataclass(frozen=True, slots=True)
class Tax:
    id: int
    rate: Decimal
    name: str


class Lookups:
    """Countries, currencies, carriers, states and taxes by id, fetched once per run."""

    def __init__(self, client: PrestaShopClient, warn: Any = None) -> None:
        self.client = client
        self.warn = warn or (lambda key, message: None)
        self.countries: dict[int, str] = {}
        self.currencies: dict[int, str] = {}
        self.carriers: dict[int, str] = {}
        self.states: dict[int, str] = {}
        self.taxes: dict[int, Tax] = {}
        self._all_taxes = False
        self._all_states = False

    async def ensure(self, countries: Iterable[int] = (), currencies: Iterable[int] = (),
                     carriers: Iterable[int] = (), states: Iterable[int] = (),
                     taxes: Iterable[int] | None = None) -> None:
        """Look up what is not known yet; ``taxes`` (even empty) reads the shop's taxes once,
        which only orders need."""
        want_countries = {i for i in countries if i and i not in self.countries}
        want_currencies = {i for i in currencies if i and i not in self.currencies}
        want_carriers = {i for i in carriers if i and i not in self.carriers}
        want_states = {i for i in states if i and i not in self.states}
        want_taxes = {i for i in taxes or () if i and i not in self.taxes}
        jobs = []
        if want_countries:
            jobs.append(self._countries(want_countries))
        if want_currencies:
            jobs.append(self._currencies(want_currencies))
        if want_carriers:
            jobs.append(self._carriers(want_carriers))
        if want_states:
            jobs.append(self._states(want_states))
        if taxes is not None and (want_taxes or not self._all_taxes):
            jobs.append(self._taxes(want_taxes))
        await asyncio.gather(*jobs)

    async def _states(self, ids: set[int]) -> None:
        """Provinces: the whole (short) states table once per run, as for taxes, then any
        id it lacked."""
        found: dict[int, dict[str, Any]] = {}
        try:
            if not self._all_states:
                self._all_states = True
                for raw in await self.client.list_raw("states", display="[id,iso_code]",
                                                      sort="[id_ASC]"):
                    try:
                        found[int(str(raw.get("id")).strip())] = raw
                    except ValueError:
                        continue
            rest = ids - set(found)
            if rest:
                found.update(await self.client.get_many_raw("states", rest))
        except (ShopPermissionError, ShopNotFound) as exc:
            self.warn("states", f"provinces are not read: {exc} (give the key GET on states)")
        self.states.update({i: str(s.get("iso_code") or "").strip().upper()
                            for i, s in found.items()})
        self.states.update({i: "" for i in ids - set(found)})

    async def _taxes(self, ids: set[int]) -> None:
        """Every tax of the shop once per run (a short table: its rates also tell the
        wrapping's rate), then any id it did not list."""
        if not self._all_taxes:
            self._all_taxes = True
            for raw in await self.client.list_raw("taxes", display="full", sort="[id_ASC]"):
                self._add_tax(raw)
            ids = {i for i in ids if i not in self.taxes}
        if ids:
            for raw in (await self.client.get_many_raw("taxes", ids)).values():
                self._add_tax(raw)

    def _add_tax(self, raw: dict[str, Any]) -> None:
        try:
            tid = int(str(raw.get("id")).strip())
            rate = Decimal(str(raw.get("rate") or "0").strip() or "0")
        except (ValueError, ArithmeticError):
            return
        if not rate.is_finite() or not 0 <= rate <= 100:
            return
        self.taxes[tid] = Tax(tid, rate, to_multilang(raw.get("name")).text())

    def tax_rates(self) -> set[Decimal]:
        return {t.rate for t in self.taxes.values()}

    def state_iso(self, i: int) -> str:
        return self.states.get(i, "")

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


_DETAIL_KEYS = ("id", "id_order", "id_tax_rules_group", "unit_price_tax_incl",
                "unit_price_tax_excl", "total_price_tax_incl", "total_price_tax_excl",
                "associations")


class ShopReader:
    def __init__(self, client: PrestaShopClient, account: Account) -> None:
        self.client = client
        self.account = account
        self.tz = client.tz
        self.lookups = Lookups(client, self._warn_once)
        # what the run should say once (a resource the key may not read): set by the step
        self.warn: Any = None
        self._warned: set[str] = set()
        self._messages: dict[int, list[str]] | None = None  # by order id, read once per run
        self._messages_after = 0
        self._messages_lock = asyncio.Lock()
        # the account's language (option language) as the shop's id, and the order state
        # names in it: read once per run
        self._language: int | None = None
        self._state_names: dict[int, str] | None = None
        self._names_lock = asyncio.Lock()

    @property
    def named_language(self) -> bool:
        """Whether the account names a language of its own (option language)."""
        return bool(self.account.option("language"))

    async def language_id(self) -> int | None:
        """The shop's id of the account's language; None without the option (names then
        come as the shop gives them: its first language, the order's for order rows)."""
        code = self.account.option("language")
        if not code:
            return None
        async with self._names_lock:
            if self._language is None:
                languages = await shop_languages(self.client)
                self._language = language_of(code, languages, account=self.account.name).id
        return self._language

    async def state_names(self) -> dict[int, str]:
        """Order state names in the account's language, by state id (read once per run)."""
        lang = await self.language_id()
        async with self._names_lock:
            if self._state_names is None:
                states = await self.client.order_states()
                self._state_names = {i: s.name.text(lang) for i, s in states.items()}
        return self._state_names

    async def product_names(self, product_ids: Iterable[int]) -> dict[int, Multilang]:
        """The products' names in every language, by product id (id batches)."""
        ids = {int(i) for i in product_ids if i}
        if not ids:
            return {}
        return {pid: p.name for pid, p in (await self.client.products(ids)).items()}

    def _warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        if self.warn is not None:
            self.warn(message)

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

    async def slips_after(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` refunds (``order_slip``, full, raw) with id > cursor, in id order."""
        return await self.client.list_raw("order_slip", filters={"id": f">[{int(cursor)}]"},
                                          sort="[id_ASC]", limit=str(limit))

    async def slips_of_orders(self, order_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Every refund of these orders (raw), the orders in id batches."""
        return await self._by_order("order_slip", order_ids)

    async def slips_by_ids(self, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        return await self.client.get_many_raw("order_slip", ids)

    async def _by_order(self, resource: str, order_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Every ``resource`` object of these orders (``filter[id_order]=[a|b|c]``, the
        orders in id batches, one request each)."""
        chunks = self.client._id_chunks(resource, order_ids)
        pages = await asyncio.gather(*(self.client.list_raw(
            resource, filters={"id_order": "[" + "|".join(map(str, c)) + "]"},
            display="full", sort="[id_ASC]") for c in chunks))
        return [item for page in pages for item in page]

    async def order_details(self, order_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """The orders' rows with their tax data (``id_tax_rules_group``, the ``taxes``
        association), by order id; raw dicts, read in order-id batches."""
        out: dict[int, list[dict[str, Any]]] = {}
        for item in await self._by_order("order_details", order_ids):
            try:
                oid = int(str(item.get("id_order")).strip())
            except ValueError:
                continue
            # only what the orders sync reads: a full row has some 60 fields
            out.setdefault(oid, []).append({k: item[k] for k in _DETAIL_KEYS if k in item})
        return out

    async def order_messages(self, order_ids: Iterable[int]) -> dict[int, list[str]]:
        """The messages of the orders' customer threads that are not private, oldest first,
        by order id. Threads are few (a message is the exception): the first call reads
        every thread from its lowest order on (``filter[id_order]=>[N]``, paged) and their
        messages in id batches, and later calls of the run whose orders come after it read
        nothing more (the request economy of docs/FISCAL.md)."""
        ids = sorted({int(i) for i in order_ids})
        if not ids:
            return {}
        async with self._messages_lock:  # pages read side by side share one reading
            if self._messages is None or ids[0] <= self._messages_after:
                try:
                    self._messages = await self._read_messages(ids[0] - 1)
                except (ShopPermissionError, ShopNotFound) as exc:
                    self._warn_once("messages", f"order messages are not read: {exc} (give "
                                    "the key GET on customer_threads and customer_messages)")
                    self._messages = {}
                self._messages_after = ids[0] - 1
            messages = self._messages
        return {i: messages[i] for i in ids if i in messages}

    async def _read_messages(self, after: int) -> dict[int, list[str]]:
        threads = await self.client.list("customer_threads",
                                         filters={"id_order": f">[{int(after)}]"})
        order_of: dict[int, int] = {}
        for t in threads:
            raw = getattr(t, "raw", {}) or {}
            found = raw.get("associations")
            assocs = found if isinstance(found, dict) else {}
            try:
                oid = int(str(raw.get("id_order")).strip())
            except ValueError:
                continue
            for m in assocs.get("customer_messages") or []:
                try:
                    order_of[int(str(m.get("id")).strip())] = oid
                except (ValueError, AttributeError):
                    continue
        if not order_of:
            return {}
        found = await self.client.get_many_raw("customer_messages", order_of)
        out: dict[int, list[str]] = {}
        for mid in sorted(found):
            m = found[mid]
            text = str(m.get("message") or "").strip()
            if not text or str(m.get("private") or "0").strip() == "1":
                continue
            who = "shop" if str(m.get("id_employee") or "0").strip() not in ("", "0") else \
                "customer"
            out.setdefault(order_of[mid], []).append(f"{who}: {text}")
        return out

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
