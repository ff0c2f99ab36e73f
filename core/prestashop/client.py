"""Async client for the PrestaShop Webservice (``/api/``), 1.6.1 to 9.x.

Format choice
-------------
Reads use **JSON** by default (``output=None`` = "auto"), XML stays available
(``output="XML"``) and is always used where JSON is unsafe:

* speed: the shop spends the same time on both (docs/prestashop/REAL_SHOP_NOTES.md), but XML is
  2.2x the bytes, and ``json.loads`` is several times faster than building an
  element tree;
* safety: JSON parsing has no DTD/entity surface at all (XML goes through
  defusedxml anyway); amounts are decoded with ``parse_float=Decimal``;
* the one JSON trap that loses data, 8.x/9.x dropping falsy fields of *single*
  objects (docs/prestashop/PROTOCOL.md §9.2), never applies: objects are always read through
  lists (``filter[id]=[...]&display=full``), which keep every field;
* XML is used for ``GET /api/`` (JSON crashes there on 8.x/9.x and carries no
  permissions on 1.6/1.7), for every write body (the Webservice reads XML only),
  and for the documents a PUT starts from (they keep multilanguage ids);
* auto mode falls back to XML for the rest of the session when the shop answers
  a JSON request with a body that is not JSON (pre-1.6.0.9 shops ignore
  ``output_format``; the 2015 JSON renderer breaks on PHP 7); both formats are
  decoded by sniffing the body, so an XML answer to a JSON request still parses.

Protocol decisions (docs/prestashop/PROTOCOL.md §10): key in HTTP Basic (user = key, empty
password), never in a URL; no redirects followed; pages by ``limit=offset,n``
with ``sort=[id_ASC]``; incremental reads by keyset ``filter[id]=>[X]`` (the form
``[>X]`` silently returns nothing, docs/prestashop/REAL_SHOP_NOTES.md) and by ``date_upd``
windows (``date=1``, shop-local bounds, inclusive, overlapping, de-duplicated);
related objects by ``filter[id]=[a|b|c]`` batches bounded in count and URL length.
Retries (exponential backoff with jitter, Retry-After honoured and capped) only
for GET/HEAD/PUT/PATCH; ``POST order_histories`` is never retried blindly: after
a failure the order's ``current_state`` is re-read and decides.

Layers: ``core.prestashop.transport`` sends the requests within the account's bounds
(``core.prestashop.limits``: answer size, request time, run time, Retry-After cap),
retries them and tells each wait through ``report`` (the run log);
``core.prestashop.diagnosis`` turns an answer or a failure into one clear ``ShopError``,
scrubbed of the key. This module is the API on top of them: reads, writes, and a list
answer holding more entries than were asked for refused whole.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Generic, Literal, TypeVar, overload
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

import httpx

from core.errors import ConfigError
from core.prestashop.diagnosis import RETRY_STATUSES, WS, Diagnosis, scrubber
from core.prestashop.errors import (
    ShopAuthError,
    ShopBadRequest,
    ShopError,
    ShopMalformedResponse,
    ShopMethodNotAllowed,
    ShopNotFound,
    ShopNotWebservice,
    ShopOversizedPage,
    ShopPermissionError,
    ShopRedirect,
    ShopTLSError,
    WebserviceDisabled,
    one_line,
)
from core.prestashop.limits import MB
from core.prestashop.models import (
    Address,
    Carrier,
    Combination,
    Country,
    Currency,
    Customer,
    Model,
    Order,
    OrderCarrier,
    OrderState,
    Product,
    ShopInfo,
    StateChange,
    StockAvailable,
    model_for,
    version_tuple,
)
from core.prestashop.parse import (
    BodyError,
    Multilang,
    decode_body,
    items_of,
    looks_like_html,
    parse_api_index,
    to_str,
    xml_to_data,
)
from core.prestashop.transport import Transport

__all__ = ["PrestaShopClient"]

log = logging.getLogger("sincro.prestashop")
BIG_BODY = 64 * 1024  # bytes: parse bodies larger than this on a thread

M = TypeVar("M", bound=Model)
T = TypeVar("T")

# Fields a GET document carries that a PUT must not send back (setter false or
# virtual getter fields, docs/prestashop/PROTOCOL.md §6.2/§7.8): sending them gives 400/93.
PRODUCT_READ_ONLY = frozenset({
    "manufacturer_name", "quantity", "position_in_category", "id_default_image",
    "id_default_combination", "type", "associations",
})


class _Kept(Generic[T]):
    """An attribute of the client that its transport or diagnosis keeps: read and set
    through the client as before the split, used by them at each request."""

    def __init__(self, holder: str, name: str) -> None:
        self.holder = holder
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> _Kept[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...
    def __get__(self, obj: object | None, owner: type | None = None) -> T | _Kept[T]:
        if obj is None:
            return self
        value: T = getattr(getattr(obj, self.holder), self.name)
        return value

    def __set__(self, obj: object, value: T) -> None:
        setattr(getattr(obj, self.holder), self.name, value)


class PrestaShopClient:
    """One shop account's Webservice client (async context manager).

    ``base_url`` is the shop root (``https://shop.example/`` or with a subfolder);
    ``/api/`` is appended. ``tz`` is the shop's time zone (PrestaShop dates are
    shop-local without offset). ``requests_made`` counts HTTP requests sent.
    """

    # What the transport and the diagnosis keep, read and set through the client as before
    # (the engine sets ``report``; the bounds are used as they stand at each request).
    timeout: _Kept[float] = _Kept("_transport", "timeout")
    retries: _Kept[int] = _Kept("_transport", "retries")
    backoff_base: _Kept[float] = _Kept("_transport", "backoff_base")
    backoff_cap: _Kept[float] = _Kept("_transport", "backoff_cap")
    retry_after_cap: _Kept[float] = _Kept("_transport", "retry_after_cap")
    max_response_bytes: _Kept[int] = _Kept("_transport", "max_response_bytes")
    run_timeout: _Kept[float | None] = _Kept("_transport", "run_timeout")
    report: _Kept[Callable[[str], Any] | None] = _Kept("_transport", "report")
    requests_made: _Kept[int] = _Kept("_transport", "requests_made")
    account: _Kept[str | None] = _Kept("_diagnosis", "account")
    _sleep: _Kept[Callable[[float], Awaitable[Any]]] = _Kept("_transport", "sleep")
    _clock: _Kept[Callable[[], float]] = _Kept("_transport", "clock")
    _wall_clock: _Kept[Callable[[], float]] = _Kept("_transport", "wall_clock")
    _rng: _Kept[random.Random] = _Kept("_transport", "rng")
    _http: _Kept[httpx.AsyncClient] = _Kept("_transport", "http")

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        tz: tzinfo,
        output: Literal["XML", "JSON"] | None = None,
        max_in_flight: int = 4,
        rpm: float | None = None,
        timeout: float = 60.0,
        ca_file: str | None = None,
        retries: int = 4,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = 100,
        batch_size: int = 100,
        max_url_length: int = 2000,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        retry_after_cap: float = 60.0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_response_bytes: int = 32 * MB,
        run_timeout: float | None = None,
        account: str | None = None,
        report: Callable[[str], Any] | None = None,
        shop_id: int | None = None,
    ) -> None:
        if not isinstance(key, str) or not key.strip():
            raise ConfigError("the Webservice key is empty", hint=f"copy it from {WS}")
        self._key = key.strip()
        self.shop_url, api_url = self._normalize_base(base_url, self._key)
        if output not in (None, "XML", "JSON"):
            raise ConfigError(f"unknown output format {output!r}", hint='use "XML", "JSON" or None')
        if max_in_flight < 1 or page_size < 1 or batch_size < 1 or retries < 0:
            raise ConfigError("max_in_flight, page_size and batch_size must be >= 1, retries >= 0")
        if max_response_bytes < 1 or timeout <= 0 or (run_timeout is not None and run_timeout <= 0):
            raise ConfigError("max_response_bytes, timeout and run_timeout must be positive")
        self.tz = tz
        self.auto_format = output is None
        self.read_format: str = output or "JSON"
        self.max_in_flight = max_in_flight
        self.page_size = page_size
        self.batch_size = batch_size
        self.max_url_length = max_url_length
        self.version: str | None = None
        self._gt_checked: set[str] = set()
        self.api_url = api_url
        self.host = urlsplit(self.shop_url).netloc
        self._scrub = scrubber(self._key)
        self._diagnosis = Diagnosis(self.shop_url, self._scrub, account=account)
        self._transport = Transport(
            api_url, self._key, self._diagnosis, host=self.host, max_in_flight=max_in_flight,
            rpm=rpm, timeout=timeout, ca_file=ca_file, retries=retries, sleep=sleep,
            transport=transport, backoff_base=backoff_base, backoff_cap=backoff_cap,
            retry_after_cap=retry_after_cap, rng=rng, clock=clock, wall_clock=wall_clock,
            max_response_bytes=max_response_bytes, run_timeout=run_timeout, report=report,
        )
        # multishop: every request in this shop's context (id_shop), and orders read only
        # from it (filter[id_shop]: a shop context need not restrict a list of orders)
        self.shop_id = shop_id
        if shop_id is not None:
            if not isinstance(shop_id, int) or isinstance(shop_id, bool) or shop_id < 1:
                raise ConfigError(f"invalid shop id {shop_id!r}", hint="a shop id of the install, e.g. 2")
            self._transport.context = {"id_shop": str(shop_id)}

    # ------------------------------------------------------------------ plumbing

    @staticmethod
    def _normalize_base(base_url: str, key: str) -> tuple[str, str]:
        raw = (base_url or "").strip()
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"the shop URL must start with https:// (got {raw[:80]!r})".replace(key, "***"),
                hint="give the shop root, e.g. https://shop.example/",
            )
        if parts.username or parts.password:
            raise ConfigError(
                "the shop URL must not contain credentials",
                hint="give the key separately; it is sent in the Authorization header",
            )
        if parts.query or parts.fragment:
            raise ConfigError("the shop URL must not contain a query or fragment",
                              hint="give the shop root, e.g. https://shop.example/")
        path = parts.path.rstrip("/")
        if path.endswith("/api"):
            path = path[: -len("/api")]
        root = f"{parts.scheme}://{parts.netloc}{path}/"
        return root, root + "api/"

    def __repr__(self) -> str:
        return f"PrestaShopClient({self.shop_url!r})"

    async def __aenter__(self) -> PrestaShopClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    # ------------------------------------------------------------------ answers

    def _check(self, response: httpx.Response, method: str, resource: str) -> Any:
        """Decoded body of a 2xx answer, or the typed error for anything else."""
        if v := response.headers.get("PSWS-Version"):
            self.version = v.strip()
        status = response.status_code
        if 200 <= status < 300:
            ctype = response.headers.get("Content-Type", "")
            text = response.content
            if text.strip() and ("html" in ctype.lower() or looks_like_html(
                    text[:2048].decode("utf-8", "replace"))) and not text.lstrip().startswith(
                    (b"<?xml", b"<prestashop")):
                raise self._diagnosis.html_error(response, method, resource)
            try:
                return decode_body(text, ctype)
            except BodyError as exc:
                problem = exc
            raise self._diagnosis.malformed(response, method, resource, problem)
        raise self._diagnosis.status_error(
            response, method, resource, retries=self.retries,
            retry_after_cap=self.retry_after_cap, retry_after=self._transport.retry_after_asked)

    # ------------------------------------------------------------------ reads

    async def _get_data(self, resource: str, params: Mapping[str, str], *,
                        fmt: str | None = None) -> Any:
        fmt = fmt or self.read_format
        query = dict(params)
        if fmt == "JSON":
            query["output_format"] = "JSON"
        response = await self._transport.send("GET", resource, params=query)
        try:
            return await self._checked(response, resource)
        except ShopMalformedResponse:
            if not (fmt == "JSON" and self.auto_format):
                raise
        log.warning("%s: JSON answer unusable, switching this shop to XML", self.shop_url)
        self.read_format = "XML"
        response = await self._transport.send("GET", resource, params=dict(params))
        return self._check(response, "GET", resource)

    async def _checked(self, response: httpx.Response, resource: str) -> Any:
        """The parsed body; a large one is parsed on a worker thread, so that a console
        sharing this event loop keeps answering keys while a page of orders is read."""
        if len(response.content) > BIG_BODY:
            return await asyncio.to_thread(self._check, response, "GET", resource)
        return self._check(response, "GET", resource)

    async def models(self, resource: str, items: list[Mapping[str, Any]]) -> list[Any]:
        """``_models`` for a page, off the event loop when the page is large."""
        if len(items) > 20:
            return await asyncio.to_thread(self._models, resource, items)
        return self._models(resource, items)

    async def _items(self, resource: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        data = await self._get_data(resource, params)
        try:
            return items_of(data)
        except BodyError as exc:
            problem = exc
        raise self._diagnosis.error(ShopMalformedResponse, "GET", resource,
                                    f"unexpected answer: {problem}")

    def _models(self, resource: str, items: Iterable[Mapping[str, Any]],
                model: type[M] | None = None) -> list[Any]:
        cls = model or model_for(resource)
        out = []
        problem: Exception | None = None
        for item in items:
            try:
                out.append(cls.from_dict(item, self.tz))
            except (ValueError, TypeError) as exc:
                problem = exc
                break
        if problem is not None:
            raise self._diagnosis.error(ShopMalformedResponse, "GET", resource,
                                        f"unreadable field: {one_line(str(problem), 160)}")
        return out

    @staticmethod
    def _params(filters: Mapping[str, str] | None, display: str | None, sort: str | None,
                limit: str | None = None, date: bool = False) -> dict[str, str]:
        params: dict[str, str] = {}
        for name, value in (filters or {}).items():
            params[f"filter[{name}]"] = str(value)
        if display:
            params["display"] = display
        if sort:
            params["sort"] = sort
        if limit:
            params["limit"] = limit
        if date or any(k in ("date_add", "date_upd") for k in (filters or {})):
            params["date"] = "1"
        return params

    async def list_raw(self, resource: str, *, filters: Mapping[str, str] | None = None,
                       display: str | None = "full", sort: str | None = "[id_ASC]",
                       limit: str | None = None, date: bool = False) -> list[dict[str, Any]]:
        """One GET of a list, as normalized dicts (see ``core.prestashop.parse``).

        An answer holding more entries than were asked for (``limit=offset,n`` or an id
        batch) is refused whole: a shop that ignores the page bounds cannot be read safely.
        """
        if self.shop_id is not None and resource == "orders" and "id_shop" not in (filters or {}):
            filters = {**(filters or {}), "id_shop": f"[{self.shop_id}]"}
        items = await self._items(resource, self._params(filters, display, sort, limit, date))
        asked = _asked_for(limit, filters)
        if asked is not None and len(items) > asked[0]:
            raise self._diagnosis.error(
                ShopOversizedPage, "GET", resource,
                f"the shop answered {len(items):,} entries where at most {asked[0]:,} were "
                f"asked for ({asked[1]}); none of them was used",
                hint="the shop ignores the page limit or the id filter (a module or override "
                     "changes its Webservice): fix the shop, or report its PrestaShop version "
                     "and modules",
            )
        return items

    async def pages(self, resource: str, *, filters: Mapping[str, str] | None = None,
                    display: str = "full", sort: str = "[id_ASC]", page_size: int | None = None,
                    date: bool = False) -> AsyncIterator[list[Any]]:
        """Pages of models by ``limit=offset,n`` with an explicit sort; stops on a short page."""
        n = page_size or self.page_size
        offset = 0
        while True:
            items = await self.list_raw(resource, filters=filters, display=display, sort=sort,
                                        limit=f"{offset},{n}", date=date)
            if items:
                yield self._models(resource, items)
            if len(items) < n:
                return
            offset += n

    async def list(self, resource: str, *, filters: Mapping[str, str] | None = None,
                   display: str = "full", sort: str = "[id_ASC]",
                   page_size: int | None = None) -> builtins.list[Any]:
        """Every object of a (filtered) list, page by page."""
        out: list[Any] = []
        async for page in self.pages(resource, filters=filters, display=display, sort=sort,
                                     page_size=page_size):
            out.extend(page)
        return out

    async def ids(self, resource: str, *, filters: Mapping[str, str] | None = None,
                  page_size: int | None = None) -> builtins.list[int]:
        """Ids only (``display=[id]``), paged."""
        out: list[int] = []
        async for page in self.pages(resource, filters=filters, display="[id]",
                                     page_size=page_size or 1000):
            out.extend(m.id for m in page)
        return sorted(set(out))

    async def after_id(self, resource: str, last_id: int, *,
                       filters: Mapping[str, str] | None = None,
                       page_size: int | None = None) -> AsyncIterator[builtins.list[Any]]:
        """Objects with id > last_id, by keyset pages: ``filter[id]=>[X]&sort=[id_ASC]&limit=n``."""
        n = page_size or self.page_size
        cursor = int(last_id)
        while True:
            flt = dict(filters or {})
            flt["id"] = f">[{cursor}]"
            items = await self.list_raw(resource, filters=flt, limit=str(n))
            models = sorted(self._models(resource, items), key=lambda m: m.id)
            models = [m for m in models if m.id > cursor]
            if not items and cursor == int(last_id):
                await self._check_gt_filter(resource, cursor)
            if models:
                yield models
                cursor = models[-1].id
            if len(items) < n or not models:
                return

    async def _check_gt_filter(self, resource: str, cursor: int) -> None:
        """Once per resource: an empty ``filter[id]=>[X]`` answer must mean "nothing newer".

        A shop that does not understand a filter form answers 200 with an empty
        list (docs/prestashop/REAL_SHOP_NOTES.md), which would read as "no new orders" forever.
        """
        if resource in self._gt_checked:
            return
        top = await self.list_raw(resource, display="[id]", sort="[id_DESC]", limit="1")
        highest = max((int(str(i.get("id") or 0)) for i in top), default=0)
        if highest > cursor:
            raise self._diagnosis.error(
                ShopBadRequest, "GET", resource,
                f"filter[id]=>[{cursor}] answered nothing although id {highest} exists",
                hint="this shop does not apply the id filter; incremental reads cannot be "
                     "trusted on it: report its PrestaShop version and modules")
        self._gt_checked.add(resource)

    def _shop_time(self, moment: datetime) -> str:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    async def updated_between(
        self, resource: str, since: datetime, until: datetime | None = None, *,
        overlap: timedelta = timedelta(seconds=5), window: timedelta | None = None,
        filters: Mapping[str, str] | None = None, page_size: int | None = None,
    ) -> builtins.list[Any]:
        """Objects whose ``date_upd`` is in [since - overlap, until] (shop time, inclusive).

        Naive datetimes are taken as shop-local. With ``window``, the span is read
        in consecutive windows that overlap by ``overlap``. Each window is read by
        id keyset pages, so objects updated meanwhile never shift a page. Results
        are de-duplicated by id (the latest ``date_upd`` wins), sorted by
        (date_upd, id).
        """
        end = until or datetime.now(self.tz)
        if end.tzinfo is None:
            end = end.replace(tzinfo=self.tz)
        start = (since if since.tzinfo else since.replace(tzinfo=self.tz)) - overlap
        spans: list[tuple[datetime, datetime]] = []
        if window is None or window <= overlap:
            spans.append((start, end))
        else:
            lo = start
            while True:
                hi = min(lo + window, end)
                spans.append((lo, hi))
                if hi >= end:
                    break
                lo = hi - overlap
        found: dict[int, Any] = {}
        for lo, hi in spans:
            flt = dict(filters or {})
            flt["date_upd"] = f"[{self._shop_time(lo)},{self._shop_time(hi)}]"
            cursor = 0
            n = page_size or self.page_size
            while True:
                flt["id"] = f">[{cursor}]"
                items = await self.list_raw(resource, filters=flt, limit=str(n), date=True)
                models = [m for m in self._models(resource, items) if m.id > cursor]
                for m in models:
                    prev = found.get(m.id)
                    if prev is None or _upd(m) >= _upd(prev):
                        found[m.id] = m
                if len(items) < n or not models:
                    break
                cursor = max(m.id for m in models)
        return sorted(found.values(), key=lambda m: (_upd(m), m.id))

    def _id_chunks(self, resource: str, ids: Iterable[int]) -> builtins.list[builtins.list[int]]:
        wanted = sorted({int(i) for i in ids if int(i) > 0})
        base = len(self.api_url) + len(resource) + len(
            "?filter%5Bid%5D=%5B%5D&display=full&output_format=JSON") + (
            len(f"&id_shop={self.shop_id}&filter%5Bid_shop%5D=%5B{self.shop_id}%5D")
            if self.shop_id is not None else 0)
        chunks: list[list[int]] = []
        chunk: list[int] = []
        length = base
        for i in wanted:
            extra = len(str(i)) + (3 if chunk else 0)  # "%7C" separator
            if chunk and (len(chunk) >= self.batch_size or length + extra > self.max_url_length):
                chunks.append(chunk)
                chunk, length, extra = [], base, len(str(i))
            chunk.append(i)
            length += extra
        if chunk:
            chunks.append(chunk)
        return chunks

    async def get_many_raw(self, resource: str, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """``{id: normalized dict}`` by ``filter[id]=[a|b|c]`` batches; missing ids are absent."""
        chunks = self._id_chunks(resource, ids)

        async def one(chunk: list[int]) -> list[dict[str, Any]]:
            return await self.list_raw(
                resource, filters={"id": "[" + "|".join(map(str, chunk)) + "]"},
                display="full", sort=None)

        results = await asyncio.gather(*(one(c) for c in chunks), return_exceptions=True)
        out: dict[int, dict[str, Any]] = {}
        for result in results:
            if isinstance(result, BaseException):
                raise result
            for item in result:
                try:
                    out[int(str(item.get("id")).strip())] = item
                except ValueError:
                    continue
        return out

    async def get_many(self, resource: str, ids: Iterable[int]) -> dict[int, Any]:
        """``{id: model}`` for the ids that exist, O(len(ids) / batch_size) requests."""
        raw = await self.get_many_raw(resource, ids)
        models = self._models(resource, raw.values())
        return {m.id: m for m in models}

    async def get(self, resource: str, id: int) -> Any | None:
        """One object (read through a list, so 8.x keeps all fields), or None."""
        return (await self.get_many(resource, [id])).get(int(id))

    async def orders(self, ids: Iterable[int]) -> dict[int, Order]:
        return await self.get_many("orders", ids)

    async def customers(self, ids: Iterable[int]) -> dict[int, Customer]:
        return await self.get_many("customers", ids)

    async def addresses(self, ids: Iterable[int]) -> dict[int, Address]:
        return await self.get_many("addresses", ids)

    async def products(self, ids: Iterable[int]) -> dict[int, Product]:
        return await self.get_many("products", ids)

    async def combinations(self, ids: Iterable[int]) -> dict[int, Combination]:
        return await self.get_many("combinations", ids)

    async def carriers(self, ids: Iterable[int]) -> dict[int, Carrier]:
        return await self.get_many("carriers", ids)

    async def currencies(self) -> dict[int, Currency]:
        return {m.id: m for m in await self.list("currencies")}

    async def countries(self, ids: Iterable[int]) -> dict[int, Country]:
        return await self.get_many("countries", ids)

    async def order_states(self) -> dict[int, OrderState]:
        return {m.id: m for m in await self.list("order_states")}

    async def stock_availables_for(self, product_ids: Iterable[int]) -> builtins.list[StockAvailable]:
        """Stock rows of these products (every combination and shop), in id batches."""
        out: list[StockAvailable] = []
        for chunk in self._id_chunks("stock_availables", product_ids):
            out.extend(await self.list(
                "stock_availables",
                filters={"id_product": "[" + "|".join(map(str, chunk)) + "]"}))
        return out

    async def orders_after_id(self, last_id: int, *,
                              page_size: int | None = None) -> AsyncIterator[builtins.list[Order]]:
        """New orders (id > last_id), pages of full orders in id order."""
        async for page in self.after_id("orders", last_id, page_size=page_size):
            yield page

    async def orders_updated(self, since: datetime, until: datetime | None = None, *,
                             overlap: timedelta = timedelta(seconds=5),
                             window: timedelta | None = None) -> builtins.list[Order]:
        return await self.updated_between("orders", since, until, overlap=overlap, window=window)

    async def order_state(self, order_id: int) -> int:
        """The order's current_state, read fresh."""
        items = await self.list_raw("orders", filters={"id": f"[{int(order_id)}]"},
                                    display="[id,current_state]", sort=None)
        for item in items:
            if str(item.get("id")).strip() == str(int(order_id)):
                return int(str(item.get("current_state") or 0))
        raise self._diagnosis.error(ShopNotFound, "GET", "orders",
                                    f"order {order_id} does not exist")

    async def info(self) -> ShopInfo:
        """Version (PSWS-Version) and what the key may do, from ``GET /api/`` in XML.

        Powers "test connection"; also fixes the read format in auto mode
        (XML for shops older than 1.6.0.9, which have no JSON output).
        """
        response = await self._transport.send("GET", "", path="")
        data = self._check(response, "GET", "")
        try:
            shop_name, resources = parse_api_index(data)
        except BodyError:
            shop_name, resources = None, None
        if resources is None or shop_name is None:
            raise self._diagnosis.error(ShopMalformedResponse, "GET", "",
                                        "unexpected resource index")
        if self.auto_format and self.version and version_tuple(self.version) < (1, 6, 0, 9):
            self.read_format = "XML"
        return ShopInfo(version=self.version, shop_name=shop_name, resources=resources)

    async def ping(self) -> str | None:
        """``HEAD /api/``: raises the typed error on a bad key; returns the version."""
        response = await self._transport.send("HEAD", "", path="")
        self._check(response, "HEAD", "")
        return self.version

    # ------------------------------------------------------------------ writes

    @staticmethod
    def _xml(entity: str, fields: Mapping[str, Any]) -> bytes:
        root = Element("prestashop", {"xmlns:xlink": "http://www.w3.org/1999/xlink"})
        node = SubElement(root, entity)
        for name, value in fields.items():
            if name == "associations":
                continue
            child = SubElement(node, name)
            if isinstance(value, (list, Multilang)):
                pairs = (value.items() if isinstance(value, Multilang)
                         else [(v.get("id"), v.get("value")) for v in value
                               if isinstance(v, Mapping)])
                for lang_id, text in pairs:
                    lang = SubElement(child, "language", {"id": str(lang_id)})
                    lang.text = to_str(text)
            elif isinstance(value, Mapping):
                continue
            else:
                child.text = _xml_value(value)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()

    async def _write(self, method: str, resource: str, body: bytes, *,
                     params: Mapping[str, str] | None = None,
                     retry: bool | None = None) -> builtins.list[dict[str, Any]]:
        response = await self._transport.send(method, resource, params=params, content=body,
                                              retry=retry)
        data = self._check(response, method, resource)
        try:
            return items_of(data)
        except BodyError as exc:
            problem = exc
        raise self._diagnosis.error(ShopMalformedResponse, method, resource,
                                    f"unexpected answer: {problem}")

    async def set_order_state(self, order_id: int, state_id: int, *, send_email: bool = False,
                              skip_if_current: bool = False) -> StateChange:
        """Change an order's state with ``POST order_histories`` (``sendemail=1`` to mail).

        Never retried blindly: after any failure the order's current_state is
        re-read; if it already is ``state_id`` the change is reported as done
        (``verified=True``, ``warning`` = the shop's error, e.g. 500/46 when only
        the e-mail failed); if not, transient failures are retried with backoff
        and other failures raised.
        """
        order_id, state_id = int(order_id), int(state_id)
        if skip_if_current and await self.order_state(order_id) == state_id:
            return StateChange(order_id, state_id, None, verified=True)
        body = self._xml("order_history", {"id_order": order_id, "id_order_state": state_id})
        params = {"sendemail": "1"} if send_email else None
        attempt = 0
        while True:
            attempt += 1
            failure: ShopError | None = None
            try:
                items = await self._write("POST", "order_histories", body, params=params,
                                          retry=False)
            except ShopError as exc:
                failure = exc
            if failure is None:
                history = self._models("order_histories", items[:1])
                return StateChange(order_id, state_id, history[0] if history else None)
            if isinstance(failure, (ShopAuthError, ShopPermissionError, ShopBadRequest,
                                    ShopMethodNotAllowed, WebserviceDisabled, ShopRedirect,
                                    ShopTLSError, ShopNotWebservice)):
                raise failure  # refused before anything changed
            reread: ShopError | None = None
            try:
                current = await self.order_state(order_id)
            except ShopError as exc:
                reread = exc
            if reread is not None:
                failure.add_note(f"re-reading the order's state failed too: {reread}")
                raise failure
            if current == state_id:
                log.warning("%s: POST order_histories for order %d failed (%s) but the state "
                            "is %d: done", self.shop_url, order_id, failure.message, state_id)
                return StateChange(order_id, state_id, None, verified=True,
                                   warning=failure.shop_message or failure.message)
            if not failure.retryable and failure.status not in RETRY_STATUSES:
                raise failure
            if attempt > self.retries:
                raise failure
            await self._transport.wait(self._transport.backoff(attempt), failure.message,
                                       "POST", "order_histories", attempt, self.retries + 1)

    async def set_stock(self, stock: StockAvailable | int, quantity: int) -> StockAvailable:
        """``PUT stock_availables`` with the full row and the new quantity."""
        stock_id = stock if isinstance(stock, int) else stock.id
        raw = None if isinstance(stock, int) else dict(stock.raw)
        if not raw or len(raw) < 4:
            found = await self.get_many_raw("stock_availables", [stock_id])
            if stock_id not in found:
                raise self._diagnosis.error(ShopNotFound, "PUT", "stock_availables",
                                            f"stock_available {stock_id} does not exist")
            raw = found[stock_id]
        fields = {k: v for k, v in raw.items() if not isinstance(v, Mapping)}
        fields["id"] = stock_id
        fields["quantity"] = int(quantity)
        items = await self._write("PUT", "stock_availables",
                                  self._xml("stock_available", fields))
        return self._models("stock_availables", items[:1])[0]

    async def _version(self) -> tuple[int, ...]:
        if not self.version:
            await self.info()
        return version_tuple(self.version)

    async def update_product(self, product_id: int, *, active: bool | None = None,
                             price: Decimal | None = None) -> Product:
        """Set a product's ``active`` flag and/or base price (tax excluded).

        PATCH with only those fields from 8.0 (version from PSWS-Version); before
        8.0, PUT of the full XML document minus the read-only fields.
        """
        changes: dict[str, str] = {}
        if active is not None:
            changes["active"] = "1" if active else "0"
        if price is not None:
            changes["price"] = _xml_value(Decimal(price))
        if not changes:
            raise ConfigError("nothing to update", hint="give active and/or price")
        pid = int(product_id)
        if await self._version() >= (8, 0):
            body = self._xml("product", {"id": pid, **changes})
            items = await self._write("PATCH", "products", body)
        else:
            body = await self._product_put_body(pid, changes)
            items = await self._write("PUT", "products", body)
        return self._models("products", items[:1])[0]

    async def _product_put_body(self, pid: int, changes: Mapping[str, str]) -> bytes:
        response = await self._transport.send("GET", "products",
                                              params={"filter[id]": f"[{pid}]", "display": "full"})
        self._check(response, "GET", "products")  # raises on errors
        item: list[dict[str, Any]] | None = None
        try:
            item = items_of(xml_to_data(response.content))
        except BodyError as exc:
            problem = exc
        if item is None:
            raise self._diagnosis.error(ShopMalformedResponse, "GET", "products", str(problem))
        if not item:
            raise self._diagnosis.error(ShopNotFound, "PUT", "products",
                                        f"product {pid} does not exist")
        fields = {k: v for k, v in item[0].items() if k not in PRODUCT_READ_ONLY}
        fields.update(changes)
        fields["id"] = pid
        return self._xml("product", fields)

    async def set_tracking_number(self, order_id: int, tracking_number: str, *,
                                  send_email: bool = False) -> OrderCarrier:
        """PUT the order's (latest) order_carrier row with ``tracking_number``."""
        rows = await self.list_raw("order_carriers", filters={"id_order": f"[{int(order_id)}]"})
        if not rows:
            raise self._diagnosis.error(ShopNotFound, "PUT", "order_carriers",
                                        f"order {order_id} has no carrier row")
        row = max(rows, key=lambda r: int(str(r.get("id") or 0)))
        fields = {k: v for k, v in row.items() if not isinstance(v, Mapping)}
        fields["tracking_number"] = tracking_number
        params = {"sendemail": "1"} if send_email else None
        items = await self._write("PUT", "order_carriers", self._xml("order_carrier", fields),
                                  params=params, retry=not send_email)
        return self._models("order_carriers", items[:1])[0]


def _asked_for(limit: str | None, filters: Mapping[str, str] | None) -> tuple[int, str] | None:
    """How many entries a list request may get back, and why: ``limit=offset,n`` gives n,
    ``filter[id]=[a|b|c]`` the number of ids; None when nothing bounds it."""
    bounds: list[tuple[int, str]] = []
    if limit and (m := re.fullmatch(r"\s*(?:\d+\s*,\s*)?(\d+)\s*", limit)):
        bounds.append((int(m.group(1)), f"limit={limit.strip()}"))
    ids = (filters or {}).get("id")
    if ids and re.fullmatch(r"\[\d+(?:\|\d+)*\]", ids.strip()):
        n = len(set(ids.strip()[1:-1].split("|")))
        bounds.append((n, f"{n} id{'s' if n != 1 else ''} in filter[id]"))
    return min(bounds) if bounds else None


def _upd(model: Any) -> datetime:
    value = getattr(model, "date_upd", None)
    return value if value is not None else datetime.min.replace(tzinfo=UTC)


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return to_str(value)

