"""PrestaShopClient over real loopback HTTP against the PrestaShop emulator.

The emulator (``emulator/``) is driven through its documented side channel
(``/_emulator/...``: faults, request counts, config, keys, object inspection).
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from core.prestashop.client import PrestaShopClient
from core.prestashop.errors import (
    ShopAuthError,
    ShopConnectionError,
    ShopError,
    ShopMalformedResponse,
    ShopNotFound,
    ShopNotWebservice,
    ShopPermissionError,
    ShopRedirect,
    ShopServerError,
    ShopTimeout,
    ShopTLSError,
    WebserviceDisabled,
)

emulator_server = pytest.importorskip("emulator.server")
emulator_data = pytest.importorskip("emulator.data")
EmulatorServer = emulator_server.EmulatorServer
generate = emulator_data.generate

TZ = ZoneInfo("Europe/Rome")


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class Side:
    """The emulator's side channel (no auth, not counted)."""

    def __init__(self, emu) -> None:
        self.http = httpx.AsyncClient(base_url=emu.url + "_emulator/")

    async def __aenter__(self) -> Side:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def fault(self, **spec) -> dict:
        r = await self.http.post("faults", json=spec)
        assert r.status_code == 201, r.text
        return r.json()

    async def counts(self) -> dict:
        return (await self.http.get("requests")).json()

    async def reset_counts(self) -> None:
        await self.http.post("requests/reset")

    async def config(self, **kw) -> dict:
        return (await self.http.post("config", json=kw)).json()

    async def key(self, permissions: dict, active: bool = True) -> str:
        r = await self.http.post("keys", json={"permissions": permissions, "active": active})
        return r.json()["key"]

    async def obj(self, resource: str, oid: int) -> dict:
        return (await self.http.get(f"objects/{resource}/{oid}")).json()

    async def ids(self, resource: str) -> list[int]:
        return (await self.http.get(f"objects/{resource}")).json()["ids"]

    async def patch(self, resource: str, oid: int, **data) -> dict:
        return (await self.http.patch(f"objects/{resource}/{oid}", json=data)).json()


def client(emu, **kw) -> PrestaShopClient:
    kw.setdefault("sleep", FakeSleep())
    kw.setdefault("timeout", 10.0)
    return PrestaShopClient(kw.pop("url", emu.url), kw.pop("key", emu.key), tz=TZ, **kw)


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(250, seed=7)) as server:
        yield server


@pytest.fixture
async def side(emu):
    async with Side(emu) as s:
        yield s


# ------------------------------------------------------------------ reads


async def test_info_version_and_permissions(emu, side) -> None:
    async with client(emu) as c:
        info = await c.info()
    assert info.version.startswith("1.6") and info.allows("orders", "GET")
    assert info.allows("order_histories", "POST")


async def test_pagination_reads_every_order_once(emu, side) -> None:
    async with client(emu, page_size=100) as c:
        orders = await c.list("orders")
        assert c.requests_made == 3
    assert [o.id for o in orders] == sorted(await side.ids("orders"))
    sample = orders[17]
    raw = await side.obj("orders", sample.id)
    assert sample.reference == raw["reference"]
    assert sample.total_paid == Decimal(str(raw["total_paid"]))
    assert sample.rows and all(r.quantity > 0 for r in sample.rows)
    assert (await side.counts())["total"] == 3


async def test_xml_and_json_read_the_same_models(emu, side) -> None:
    async with client(emu, output="XML") as cx, client(emu, output="JSON") as cj:
        xml_orders = await cx.list("orders", page_size=60)
        json_orders = await cj.list("orders", page_size=60)
        assert await cx.products(range(1, 30)) == await cj.products(range(1, 30))
    assert xml_orders == json_orders


async def test_incremental_by_id_sees_new_orders(emu, side) -> None:
    async with client(emu) as c:
        pages = [p async for p in c.orders_after_id(200, page_size=20)]
        assert [o.id for p in pages for o in p] == list(range(201, 251))
        assert [p async for p in c.orders_after_id(250)] == []
        await side.http.post("orders", json={"generate": 3})
        new = [o.id for p in [p async for p in c.orders_after_id(250)] for o in p]
    assert new == [251, 252, 253]


async def test_date_windows_overlap_and_deduplicate(emu, side) -> None:
    await side.config(clock="2031-03-01 12:00:00")
    for oid in (5, 77, 190):
        await side.http.patch(f"orders/{oid}", json={"touch": True})
    await side.config(clock="2031-03-01 12:00:10")
    await side.http.patch("orders/6", json={"touch": True})
    async with client(emu, page_size=2) as c:
        got = await c.orders_updated(datetime(2031, 3, 1, 11, 59, 0, tzinfo=TZ),
                                     datetime(2031, 3, 1, 12, 0, 30, tzinfo=TZ),
                                     window=timedelta(seconds=20), overlap=timedelta(seconds=5))
        # the same instant given in UTC is converted to shop time
        utc = await c.orders_updated(datetime(2031, 3, 1, 11, 0, 5, tzinfo=ZoneInfo("UTC")),
                                     datetime(2031, 3, 1, 11, 0, 5, tzinfo=ZoneInfo("UTC")),
                                     overlap=timedelta(0))
    assert [o.id for o in got] == [5, 77, 190, 6]
    assert all(o.date_upd.tzinfo is TZ for o in got)
    assert utc == []


async def test_related_objects_in_batches(emu, side) -> None:
    await side.reset_counts()
    async with client(emu) as c:
        orders = await c.list("orders")
        customers = await c.customers({o.id_customer for o in orders})
        addresses = await c.addresses({a for o in orders
                                       for a in (o.id_address_delivery, o.id_address_invoice)})
        products = await c.products({r.product_id for o in orders for r in o.rows})
        combos = await c.combinations({r.product_attribute_id for o in orders for r in o.rows
                                       if r.product_attribute_id})
        made = c.requests_made
    counts = await side.counts()
    assert counts["total"] == made
    assert made <= 3 + 3 + 6 + 1 + 1, counts  # O(N / 100), not O(N)
    assert {o.id_customer for o in orders} == set(customers)
    assert any(a.deleted for a in addresses.values()) or addresses
    assert products and combos
    assert counts["detail"]["GET"]["customers"] == -(-len(customers) // 100)


async def test_concurrency_bound_over_http(emu, side) -> None:
    state = {"now": 0, "max": 0}

    class Counting(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request):
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
            try:
                return await super().handle_async_request(request)
            finally:
                state["now"] -= 1

    await side.fault(kind="latency", seconds=0.02, resource="customers")
    async with client(emu, max_in_flight=3, batch_size=5, transport=Counting()) as c:
        found = await c.customers(range(1, 61))
    assert len(found) >= 50 and state["max"] == 3


# ------------------------------------------------------------------ errors


def assert_clean(exc: ShopError, emu, *fragments: str) -> None:
    text = str(exc)
    assert "\n" not in text and emu.url in text
    assert emu.key not in text and emu.key not in repr(exc)
    assert exc.__cause__ is None and exc.__context__ is None
    assert exc.hint
    for fragment in fragments:
        assert fragment in text, (fragment, text)


async def test_wrong_and_malformed_keys(emu, side) -> None:
    async with client(emu, key="A" * 32) as c:
        with pytest.raises(ShopAuthError) as info:
            await c.list_raw("orders")
    assert_clean(info.value, emu, "wrong or disabled")
    assert info.value.code == 20
    async with client(emu, key="SHORT") as c:
        with pytest.raises(ShopAuthError) as info:
            await c.info()
    assert_clean(info.value, emu, "32")


async def test_resource_not_allowed_names_resource_and_permission(emu, side) -> None:
    key = await side.key({"customers": ["GET"]})
    async with client(emu, key=key) as c:
        assert await c.customers([1])
        with pytest.raises(ShopPermissionError) as info:
            await c.list_raw("orders")
    exc = info.value
    assert_clean(exc, emu, '"orders"')
    assert (exc.status, exc.code) == (401, 26)
    assert "Advanced Parameters > Webservice" in exc.hint and "View (GET)" in exc.hint


async def test_method_not_granted_is_405_naming_the_permission(emu, side) -> None:
    key = await side.key({"orders": ["GET"], "order_histories": ["GET"]})
    async with client(emu, key=key) as c:
        with pytest.raises(ShopPermissionError) as info:
            await c.set_order_state(3, 6)
        assert c.requests_made == 1  # refused up front: no re-read, no retry
    exc = info.value
    assert_clean(exc, emu, "POST", "order_histories")
    assert (exc.status, exc.code) == (405, 25) and "Add (POST)" in exc.hint


async def test_webservice_disabled(emu, side) -> None:
    await side.config(enabled=False)
    async with client(emu) as c:
        with pytest.raises(WebserviceDisabled) as info:
            await c.list_raw("orders")
        assert c.requests_made == 1  # not retried
    assert_clean(info.value, emu, "disabled")


async def test_wrong_base_url_is_not_found(emu, side) -> None:
    async with client(emu, url=emu.url + "shop/") as c:
        with pytest.raises((ShopNotFound, ShopNotWebservice)) as info:
            await c.list_raw("orders")
    assert_clean(info.value, emu)


async def test_server_error_500(emu, side) -> None:
    await side.fault(kind="status", status=500, resource="orders")
    async with client(emu) as c:
        with pytest.raises(ShopServerError) as info:
            await c.list_raw("orders")
    assert_clean(info.value, emu, "orders")


async def test_maintenance_page(emu, side) -> None:
    await side.fault(kind="maintenance", resource="orders")
    async with client(emu, retries=1) as c:
        with pytest.raises(ShopNotWebservice) as info:
            await c.list_raw("orders")
    assert_clean(info.value, emu, "maintenance")


async def test_redirect_names_the_canonical_url(emu, side) -> None:
    await side.fault(kind="redirect", location="https://www.shop.example/api/orders")
    async with client(emu) as c:
        with pytest.raises(ShopRedirect) as info:
            await c.list_raw("orders")
        assert c.requests_made == 1
    assert_clean(info.value, emu)
    assert "https://www.shop.example/" in info.value.hint


async def test_malformed_body_json_only_and_auto_fallback(emu, side) -> None:
    await side.fault(kind="malformed", resource="orders", count=1)
    async with client(emu, output="JSON") as c:
        with pytest.raises(ShopMalformedResponse) as info:
            await c.list_raw("orders", limit="5")
    assert_clean(info.value, emu, "orders")
    await side.fault(kind="malformed", resource="orders", count=1)
    async with client(emu) as c:  # auto: falls back to XML and carries on
        assert len(await c.list_raw("orders", limit="5")) == 5
        assert c.read_format == "XML"


async def test_truncated_body(emu, side) -> None:
    await side.fault(kind="truncate", resource="orders")
    async with client(emu, output="JSON") as c:
        with pytest.raises(ShopMalformedResponse) as info:
            await c.list_raw("orders", limit="5")
    assert_clean(info.value, emu)


async def test_tls_failure(emu, side) -> None:
    async with client(emu, url=emu.url.replace("http://", "https://")) as c:
        with pytest.raises(ShopTLSError) as info:
            await c.list_raw("orders")
        assert c.requests_made == 1  # TLS errors are not retried
    assert "CA file" in info.value.hint and emu.key not in str(info.value)


async def test_timeout_is_retried_then_reported(emu, side) -> None:
    await side.fault(kind="timeout", seconds=30, resource="orders")
    sleep = FakeSleep()
    async with client(emu, timeout=0.2, retries=1, sleep=sleep) as c:
        with pytest.raises(ShopTimeout) as info:
            await c.list_raw("orders")
    assert len(sleep.calls) == 1
    assert_clean(info.value, emu, "2 attempts")


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleep = FakeSleep()
    async with PrestaShopClient(f"http://127.0.0.1:{port}/", "K" * 32, tz=TZ, retries=2,
                                sleep=sleep) as c:
        with pytest.raises(ShopConnectionError):
            await c.list_raw("orders")
    assert len(sleep.calls) == 2


# ------------------------------------------------------------------ retries


async def test_retry_after_is_honoured(emu, side) -> None:
    await side.fault(kind="rate_limit", retry_after=3, count=2, resource="orders")
    sleep = FakeSleep()
    async with client(emu, sleep=sleep) as c:
        assert len(await c.list_raw("orders", limit="3")) == 3
    assert sleep.calls == [3.0, 3.0]
    assert (await side.counts())["detail"]["GET"]["orders"] == 3


async def test_gateway_errors_are_retried(emu, side) -> None:
    await side.fault(kind="status", status=502, count=1, resource="orders")
    await side.fault(kind="status", status=504, count=1, resource="orders")
    sleep = FakeSleep()
    async with client(emu, sleep=sleep) as c:
        assert len(await c.list_raw("orders", limit="3")) == 3
    assert len(sleep.calls) == 2


# ------------------------------------------------------------------ writes


async def test_order_state_change_and_code46_is_not_retried_blindly(emu, side) -> None:
    async with client(emu) as c:
        result = await c.set_order_state(10, 3)
        assert result.history is not None and await c.order_state(10) == 3
        await side.fault(kind="code46", method="POST", resource="order_histories", count=1)
        await side.reset_counts()
        result = await c.set_order_state(10, 4, send_email=True)
    assert result.verified and "Unable to save resource" in result.warning
    counts = await side.counts()
    assert counts["detail"]["POST"]["order_histories"] == 1
    assert (await side.obj("orders", 10))["current_state"] in ("4", 4)


async def test_order_state_post_failing_before_change_is_retried_after_reread(emu, side) -> None:
    await side.fault(kind="status", status=503, method="POST", resource="order_histories",
                     count=1)
    sleep = FakeSleep()
    async with client(emu, sleep=sleep) as c:
        target = 3 if await c.order_state(11) != 3 else 4
        await side.reset_counts()
        result = await c.set_order_state(11, target)
    assert result.history is not None and not result.verified
    assert len(sleep.calls) == 1
    counts = await side.counts()
    assert counts["detail"]["POST"]["order_histories"] == 2
    assert counts["detail"]["GET"]["orders"] == 1  # the re-read before posting again


async def test_stock_product_and_tracking_writes(emu, side) -> None:
    if not any(int(r.get("id_order", 0)) == 12
               for r in emu.state.tables["order_carriers"].values()):
        emu.state.add("order_carriers", {
            "id": 900, "id_order": "12", "id_carrier": "2", "id_order_invoice": "0",
            "weight": "0.000000", "shipping_cost_tax_excl": "5.000000",
            "shipping_cost_tax_incl": "6.100000", "tracking_number": "",
            "date_add": "2026-01-01 10:00:00"})
    async with client(emu) as c:
        (stock, *_) = await c.stock_availables_for([3])
        updated = await c.set_stock(stock, 123)
        assert updated.quantity == 123
        product = await c.update_product(3, active=False, price=Decimal("9.990000"))
        assert product.active is False and product.price == Decimal("9.990000")
        oc = await c.set_tracking_number(12, "TRACK-12")
        assert oc.tracking_number == "TRACK-12"
        assert c.requests_made <= 8
    shown = (await side.http.get("products/3")).json()
    assert shown["active"] is False and Decimal(shown["price"]) == Decimal("9.99")
    assert shown["stock"][str(stock.id_product_attribute)] == 123
    counts = await side.counts()
    assert counts["detail"]["PUT"]["products"] == 1  # 1.6: PUT, not PATCH


async def test_product_update_uses_patch_on_8(side) -> None:
    async with EmulatorServer(generate(5, seed=2, version="8")) as emu8, Side(emu8) as side8:
        async with client(emu8) as c:
            product = await c.update_product(2, active=False)
            assert product.id == 2
        counts = await side8.counts()
        assert counts["detail"]["PATCH"]["products"] == 1 and "PUT" not in counts["detail"]
        assert (await side8.http.get("products/2")).json()["active"] is False


async def test_key_never_logged(emu, side, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await side.fault(kind="rate_limit", retry_after=1, count=1, resource="orders")
    async with client(emu) as c:
        await c.list_raw("orders", limit="2")
        await c.info()
    async with client(emu, key="B" * 32) as c:
        with pytest.raises(ShopAuthError):
            await c.list_raw("orders")
    assert any(r.name == "sincro.prestashop" for r in caplog.records)
    for record in caplog.records:
        assert emu.key not in record.getMessage()


async def test_ps8_json_int_numbers_and_xml_cdata_read_alike() -> None:
    async with EmulatorServer(generate(40, seed=4, version="8")) as emu8, Side(emu8) as side8:
        await side8.config(json_ints=True)
        async with client(emu8, output="XML") as cx, client(emu8) as cj:
            info = await cj.info()
            assert info.supports_patch and info.allows("products", "PATCH")
            xml_orders = await cx.list("orders", page_size=15)
            json_orders = await cj.list("orders", page_size=15)
            assert xml_orders == json_orders and len(json_orders) == 40
            one = await cj.get("orders", 7)
            assert one == json_orders[6]
            customers_x = await cx.customers({o.id_customer for o in xml_orders})
            customers_j = await cj.customers({o.id_customer for o in json_orders})
            assert customers_x == customers_j
