"""PrestaShopClient against httpx.MockTransport: reads, errors, retries, limits, writes, secrets."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import re
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
from defusedxml.ElementTree import fromstring

import core
from core.errors import ConfigError, SincroError
from core.prestashop.client import PrestaShopClient
from core.prestashop.errors import (
    ShopAuthError,
    ShopBadRequest,
    ShopConnectionError,
    ShopError,
    ShopMalformedResponse,
    ShopMethodNotAllowed,
    ShopNotFound,
    ShopNotWebservice,
    ShopPermissionError,
    ShopRateLimited,
    ShopRedirect,
    ShopServerError,
    ShopTimeout,
    ShopTLSError,
    ShopUnavailable,
    WebserviceDisabled,
)
from core.prestashop.models import Order, StateChange, StockAvailable

KEY = "ZK3Q9W7E5R1T8Y6U4I2O0PAS5DFGH7JK"
SHOP = "https://shop.example/"
TZ = ZoneInfo("Europe/Rome")
REAL = Path(__file__).parents[1] / "fixtures" / "prestashop" / "client" / "real-1.6.1.24"

PS_HEADERS = {"PSWS-Version": "1.6.1.25", "X-Powered-By": "PrestaShop Webservice"}


def jresp(status: int, body, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json", **PS_HEADERS,
                                   **(headers or {})})


def err(status: int, *errors: tuple[int, str], headers: dict | None = None) -> httpx.Response:
    return jresp(status, {"errors": [{"code": c, "message": m} for c, m in errors]}, headers)


def query(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(str(request.url)).query, keep_blank_values=True))


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_order(i: int, upd: str = "2026-01-10 10:00:00", state: int = 2) -> dict:
    return {
        "id": i, "reference": f"REF{i:06d}", "id_customer": str(1000 + i),
        "id_address_delivery": str(2000 + i), "id_address_invoice": str(2000 + i),
        "id_currency": "1", "id_carrier": "2", "current_state": str(state),
        "total_paid": "12.300000", "date_add": "2026-01-01 09:00:00", "date_upd": upd,
        "associations": {"order_rows": [{"id": str(i * 10), "product_id": "7",
                                         "product_attribute_id": "0",
                                         "product_quantity": "2",
                                         "unit_price_tax_incl": "6.150000"}]},
    }


class FakeShop:
    """A tiny JSON Webservice: orders and customers with filter/sort/limit like §5."""

    def __init__(self, orders: list[dict] | None = None) -> None:
        self.objects: dict[str, dict[int, dict]] = {
            "orders": {o["id"]: o for o in (orders or [])},
            "customers": {i: {"id": i, "email": f"c{i}@x.test", "lastname": "L"}
                          for i in range(1, 400)},
        }
        self.requests: list[httpx.Request] = []
        self.hook: Callable[[httpx.Request], httpx.Response | None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.hook and (answer := self.hook(request)) is not None:
            return answer
        path = request.url.path
        assert path.startswith("/api/")
        resource = path[len("/api/"):].strip("/")
        rows = list(self.objects[resource].values())
        q = query(request)
        for name, value in q.items():
            if not name.startswith("filter["):
                continue
            field = name[7:-1]
            if m := re.fullmatch(r">\[(.*)\]", value):
                rows = [r for r in rows if int(r[field]) > int(m.group(1))]
            elif m := re.fullmatch(r"\[([^,|]*),([^,|]*)\]", value):
                assert q.get("date") == "1" or field not in ("date_upd", "date_add")
                lo, hi = m.group(1), m.group(2)
                rows = [r for r in rows if lo <= str(r[field]) <= hi]
            elif m := re.fullmatch(r"\[(.*)\]", value):
                wanted = set(m.group(1).split("|"))
                rows = [r for r in rows if str(r[field]) in wanted]
            else:
                raise AssertionError(f"unsupported filter {value}")
        if q.get("sort") in ("[id_ASC]", "[id_DESC]"):
            rows.sort(key=lambda r: int(r["id"]), reverse=q["sort"] == "[id_DESC]")
        if "limit" in q:
            parts = [int(x) for x in q["limit"].split(",")]
            off, n = (0, parts[0]) if len(parts) == 1 else parts
            rows = rows[off:off + n]
        if not rows:
            return jresp(200, [])
        return jresp(200, {resource: rows})


def client_for(handler, **kw) -> PrestaShopClient:
    kw.setdefault("sleep", FakeSleep())
    return PrestaShopClient(SHOP, KEY, tz=TZ, transport=httpx.MockTransport(handler), **kw)


def assert_secret_free(exc: BaseException) -> None:
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 20:
        for text in (str(cur), repr(cur), *map(str, cur.args), *getattr(cur, "__notes__", [])):
            assert KEY not in text
        cur = cur.__cause__ or cur.__context__
        seen += 1
    assert exc.__cause__ is None and exc.__context__ is None


# ------------------------------------------------------------------ basics


async def test_key_goes_in_basic_auth_with_user_agent_never_in_url() -> None:
    shop = FakeShop([make_order(1)])
    async with client_for(shop) as client:
        orders = await client.list("orders")
    assert [o.id for o in orders] == [1]
    req = shop.requests[0]
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    assert req.headers["User-Agent"] == f"Sincro/{core.__version__}"
    assert KEY not in str(req.url)
    assert query(req)["output_format"] == "JSON"
    assert str(req.url).startswith("https://shop.example/api/orders?")


@pytest.mark.parametrize("url", [f"https://{KEY}@shop.example/", "ftp://shop.example/", "shop"])
def test_bad_base_urls_are_refused_without_echoing_the_key(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        PrestaShopClient(url, KEY, tz=TZ)
    assert KEY not in str(info.value)


def test_base_url_normalization_and_bad_ca_file(tmp_path: Path) -> None:
    c = PrestaShopClient("https://shop.example/sub/api/", KEY, tz=TZ)
    assert c.shop_url == "https://shop.example/sub/" and c.api_url == "https://shop.example/sub/api/"
    assert KEY not in repr(c)
    with pytest.raises(ConfigError):
        PrestaShopClient(SHOP, KEY, tz=TZ, ca_file=str(tmp_path / "missing.pem"))


async def test_pages_use_offset_limit_and_explicit_sort() -> None:
    shop = FakeShop([make_order(i) for i in range(1, 251)])
    async with client_for(shop, page_size=100) as client:
        pages = [page async for page in client.pages("orders")]
    assert [len(p) for p in pages] == [100, 100, 50]
    assert [query(r)["limit"] for r in shop.requests] == ["0,100", "100,100", "200,100"]
    assert all(query(r)["sort"] == "[id_ASC]" and query(r)["display"] == "full"
               for r in shop.requests)
    assert client.requests_made == 3
    order = pages[0][0]
    assert isinstance(order, Order) and order.total_paid == Decimal("12.300000")
    assert order.rows[0].quantity == 2 and order.date_upd.tzinfo is TZ


async def test_exact_multiple_of_page_size_ends_on_empty_json_list() -> None:
    shop = FakeShop([make_order(i) for i in range(1, 201)])
    async with client_for(shop, page_size=100) as client:
        orders = await client.list("orders")
    assert len(orders) == 200 and len(shop.requests) == 3  # third answer is []


async def test_incremental_by_id_uses_the_gt_form_that_works() -> None:
    shop = FakeShop([make_order(i) for i in range(1, 26)])
    async with client_for(shop) as client:
        pages = [p async for p in client.orders_after_id(10, page_size=10)]
    assert [o.id for p in pages for o in p] == list(range(11, 26))
    values = [query(r)["filter[id]"] for r in shop.requests]
    assert values == [">[10]", ">[20]"]  # never "[>10]", which answers empty; short page ends
    assert all(query(r)["limit"] == "10" and query(r)["sort"] == "[id_ASC]"
               for r in shop.requests)


async def test_nothing_new_is_checked_once_against_the_highest_id() -> None:
    shop = FakeShop([make_order(i) for i in range(1, 6)])
    async with client_for(shop) as client:
        for _ in range(3):
            assert [p async for p in client.orders_after_id(5)] == []
    assert len(shop.requests) == 4  # 3 polls + one probe (sort=[id_DESC], limit=1)
    assert query(shop.requests[1])["sort"] == "[id_DESC]"


async def test_a_shop_that_ignores_the_id_filter_form_is_caught() -> None:
    shop = FakeShop([make_order(i) for i in range(1, 6)])
    shop.hook = lambda r: jresp(200, []) if "filter[id]" in query(r) else None
    async with client_for(shop) as client:
        with pytest.raises(ShopBadRequest) as info:
            [p async for p in client.orders_after_id(2)]
    assert "id 5 exists" in str(info.value)


async def test_head_401_cannot_tell_wrong_from_missing_key() -> None:
    async with client_for(lambda r: httpx.Response(401, headers=PS_HEADERS)) as client:
        with pytest.raises(ShopAuthError) as info:
            await client.ping()
    assert "refused" in str(info.value) and "CGI" in info.value.hint


async def test_date_windows_are_shop_local_overlapping_and_deduplicated() -> None:
    orders = [make_order(i, f"2026-01-10 10:{i:02d}:00") for i in range(1, 41)]
    shop = FakeShop(orders)
    since = datetime(2026, 1, 10, 9, 10, tzinfo=ZoneInfo("UTC"))  # 10:10 in Rome
    until = datetime(2026, 1, 10, 10, 30, tzinfo=TZ)
    async with client_for(shop, page_size=7) as client:
        got = await client.orders_updated(since, until, window=timedelta(minutes=6),
                                          overlap=timedelta(seconds=30))
    assert [o.id for o in got] == list(range(10, 31))
    windows = sorted({query(r)["filter[date_upd]"] for r in shop.requests})
    assert windows[0] == "[2026-01-10 10:09:30,2026-01-10 10:15:30]"
    assert "[2026-01-10 10:15:00,2026-01-10 10:21:00]" in windows  # 30 s overlap
    assert all(query(r)["date"] == "1" for r in shop.requests)


async def test_get_many_batches_ids_bounded_by_count_and_url_length() -> None:
    shop = FakeShop()
    ids = list(range(1, 300)) + [5000]  # 5000 does not exist
    async with client_for(shop, batch_size=100) as client:
        found = await client.customers(ids)
    assert len(shop.requests) == 3
    assert set(found) == set(range(1, 300)) and found[7].email == "c7@x.test"
    first = query(shop.requests[0])["filter[id]"]
    assert first.startswith("[1|2|3|") and first.endswith("|100]")
    shop.requests.clear()
    async with client_for(shop, batch_size=100, max_url_length=300) as client:
        await client.customers(range(1, 300))
    assert len(shop.requests) > 3
    assert all(len(str(r.url)) <= 300 for r in shop.requests)


async def test_get_one_reads_through_a_list_and_missing_is_none() -> None:
    shop = FakeShop([make_order(3)])
    async with client_for(shop) as client:
        assert (await client.get("orders", 3)).reference == "REF000003"
        assert await client.get("orders", 4) is None
    assert query(shop.requests[0])["filter[id]"] == "[3]"


async def test_auto_format_falls_back_to_xml_when_json_is_unusable() -> None:
    xml = (REAL / "orders_full_xml.body").read_bytes()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(query(request).get("output_format"))
        if query(request).get("output_format") == "JSON":
            return httpx.Response(200, content=b'{"orders":[{"id":1,', headers=PS_HEADERS)
        return httpx.Response(200, content=xml, headers={"Content-Type": "text/xml", **PS_HEADERS})

    async with client_for(handler) as client:
        first = await client.list_raw("orders")
        second = await client.list_raw("orders")
        assert client.read_format == "XML"
    assert calls == ["JSON", None, None] and len(first) == len(second) == 5


async def test_info_reads_the_xml_index_and_version() -> None:
    body = (REAL / "root_xml.body").read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/" and "output_format" not in query(request)
        return httpx.Response(200, content=body, headers={"Content-Type": "text/xml",
                                                          **PS_HEADERS})

    async with client_for(handler) as client:
        info = await client.info()
    assert info.version == "1.6.1.25" and not info.supports_patch
    assert info.allows("orders", "GET") and info.allows("orders", "DELETE")
    assert not info.allows("orders", "PATCH")


# ------------------------------------------------------------------ errors

ERROR_CASES = [
    # (answer, exception type, fragments expected in str(exc))
    (lambda r: httpx.Response(401, content=b"401 Unauthorized", headers={
        "Content-Type": "text/html; charset=utf-8", "WWW-Authenticate": 'Basic realm="x"'}),
     ShopAuthError, ["no key", "CGI"]),
    (lambda r: err(401, (20, "Authentification key is not active"),
                   (21, "No permission for this authentication key")),
     ShopAuthError, ["wrong or disabled", "Advanced Parameters > Webservice"]),
    (lambda r: err(401, (18, "Invalid authentication key format")), ShopAuthError, ["32"]),
    (lambda r: err(401, (26, 'Resource of type "orders" is not allowed with this authentication key')),
     ShopPermissionError, ['"orders"', "View (GET)", "Advanced Parameters > Webservice"]),
    (lambda r: err(403, (132, "No permission for this key on this shop")),
     ShopPermissionError, ["not allowed on this shop"]),
    (lambda r: err(503, (22, "The PrestaShop webservice is disabled. Please activate it")),
     WebserviceDisabled, ["disabled", "Enable PrestaShop's webservice"]),
    (lambda r: httpx.Response(404, headers={"Content-Type": "", **PS_HEADERS}),
     ShopNotFound, ["404 with an empty body"]),
    (lambda r: err(405, (23, "Method GET is not valid")), ShopMethodNotAllowed, ["not valid"]),
    (lambda r: err(400, (32, 'This filter does not exist. Did you mean: "gift"?')),
     ShopBadRequest, ["[32]", "filter"]),
    (lambda r: err(500, (32, "This filter does not exist."),
                   (3, "[PHP Warning #2] Trying to access array offset")),
     ShopBadRequest, ["[32]"]),
    (lambda r: err(500, (8, "[PHP Notice #8] Undefined index: foo (/var/www/x.php, line 3)")),
     ShopServerError, ["PHP errors", "Undefined index"]),
    (lambda r: httpx.Response(503, content=b"<!DOCTYPE html><html><body><h1>We are currently "
                                           b"updating our shop (maintenance)</h1></body></html>",
                              headers={"Content-Type": "text/html"}),
     ShopNotWebservice, ["maintenance"]),
    (lambda r: httpx.Response(200, content=b"<!DOCTYPE html><html><body><form><input "
                                           b"type='password' name='passwd'></form></body></html>",
                              headers={"Content-Type": "text/html"}),
     ShopNotWebservice, ["login page"]),
    (lambda r: httpx.Response(404, content=b"<html><body>Page not found</body></html>",
                              headers={"Content-Type": "text/html"}),
     ShopNotWebservice, ["HTML page", "/api/"]),
    (lambda r: httpx.Response(301, headers={"Location": "https://www.shop.example/api/orders?x=1"}),
     ShopRedirect, ["https://www.shop.example/"]),
    (lambda r: httpx.Response(200, content=b'{"orders":[{"id":1,', headers={
        "Content-Type": "application/json", **PS_HEADERS}),
     ShopMalformedResponse, ["invalid JSON"]),
    (lambda r: httpx.Response(200, content=b"<br />\n<b>Notice</b>:  Undefined index: x in "
                              b"/var/www/classes/Foo.php on line 3<br />\n{\"orders\":[]}",
                              headers={"Content-Type": "application/json"}),
     ShopMalformedResponse, ["display_errors"]),
    (lambda r: err(429, (0, "slow down"), headers={"Retry-After": "1"}), ShopRateLimited,
     ["429"]),
    (lambda r: httpx.Response(502, content=b"<html><body>Bad gateway</body></html>",
                              headers={"Content-Type": "text/html"}), ShopUnavailable, ["502"]),
]


@pytest.mark.parametrize("answer,exc_type,fragments", ERROR_CASES,
                         ids=[c[1].__name__ + str(i) for i, c in enumerate(ERROR_CASES)])
async def test_errors_are_typed_one_line_with_hint_and_secret_free(answer, exc_type, fragments) -> None:
    async with client_for(answer, output="JSON", retries=1) as client:
        with pytest.raises(exc_type) as info:
            await client.list("orders")
    exc = info.value
    assert isinstance(exc, ShopError) and isinstance(exc, SincroError)
    text = str(exc)
    assert "\n" not in text
    assert SHOP in text and "orders" in text
    assert exc.hint, "every error says how to fix it"
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert_secret_free(exc)


async def test_error_attributes_carry_status_code_and_shop_message() -> None:
    answer = lambda r: err(401, (26, 'Resource of type "order_histories" is not allowed with this authentication key'))  # noqa: E731
    async with client_for(answer) as client:
        with pytest.raises(ShopPermissionError) as info:
            await client.set_order_state(5, 3)
    exc = info.value
    assert (exc.status, exc.code) == (401, 26)
    assert "order_histories" in exc.shop_message and "Add (POST)" in exc.hint


async def test_redirect_is_not_followed_and_names_the_canonical_url() -> None:
    shop = []

    def handler(request):
        shop.append(request)
        return httpx.Response(302, headers={"Location": "https://canonical.example/shop/api/orders"})

    async with client_for(handler) as client:
        with pytest.raises(ShopRedirect) as info:
            await client.list_raw("orders")
    assert len(shop) == 1
    assert "https://canonical.example/shop/" in info.value.hint
    assert_secret_free(info.value)


async def test_tls_failure_is_not_retried_and_says_how_to_fix() -> None:
    calls = []

    def handler(request):
        calls.append(1)
        try:
            raise ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
        except ssl.SSLError as inner:
            raise httpx.ConnectError(f"{inner} {KEY}", request=request) from inner

    async with client_for(handler) as client:
        with pytest.raises(ShopTLSError) as info:
            await client.list_raw("orders")
    assert calls == [1]
    assert "CA file" in info.value.hint
    assert_secret_free(info.value)


async def test_timeouts_and_connection_errors_are_retried_then_typed() -> None:
    for exc_cls, expected in ((httpx.ReadTimeout, ShopTimeout),
                              (httpx.ConnectError, ShopConnectionError)):
        calls = []

        def handler(request, exc_cls=exc_cls, calls=calls):
            calls.append(1)
            raise exc_cls("boom", request=request)

        sleep = FakeSleep()
        async with client_for(handler, retries=3, sleep=sleep) as client:
            with pytest.raises(expected) as info:
                await client.list_raw("orders")
        assert len(calls) == 4 and len(sleep.calls) == 3
        assert "4 attempts" in str(info.value)
        assert_secret_free(info.value)


# ------------------------------------------------------------------ retries


async def test_retry_after_seconds_is_honoured() -> None:
    answers = [err(503, (0, "busy"), headers={"Retry-After": "7"}),
               err(429, (0, "slow"), headers={"Retry-After": "2"}),
               jresp(200, {"orders": [make_order(1)]})]
    sleep = FakeSleep()
    async with client_for(lambda r: answers.pop(0), sleep=sleep) as client:
        orders = await client.list_raw("orders")
    assert len(orders) == 1 and sleep.calls == [7.0, 2.0] and client.requests_made == 3


async def test_retry_after_http_date_and_cap() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    answers = [jresp(503, {}, {"Retry-After": date}),
               jresp(504, {}, {"Retry-After": "99999"}),
               jresp(200, [])]
    sleep = FakeSleep()
    async with client_for(lambda r: answers.pop(0), sleep=sleep, wall_clock=lambda: now,
                          retry_after_cap=60) as client:
        assert await client.list_raw("orders") == []
    assert sleep.calls == [30.0, 60.0]


async def test_backoff_is_exponential_with_jitter_and_attempts_are_bounded() -> None:
    sleep = FakeSleep()
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(502)

    async with client_for(handler, sleep=sleep, retries=4, backoff_base=1.0) as client:
        with pytest.raises(ShopUnavailable) as info:
            await client.list_raw("orders")
    assert len(calls) == 5
    for attempt, delay in enumerate(sleep.calls, start=1):
        full = 2 ** (attempt - 1)
        assert full / 2 <= delay <= full
    assert info.value.retryable and "5 attempts" in str(info.value)


async def test_webservice_disabled_is_not_retried() -> None:
    calls = []

    def handler(request):
        calls.append(1)
        return err(503, (22, "The PrestaShop webservice is disabled."))

    async with client_for(handler) as client:
        with pytest.raises(WebserviceDisabled):
            await client.list_raw("orders")
    assert calls == [1]


# ------------------------------------------------------------------ order state (POST)


def history_xml(order_id: int, state: int) -> httpx.Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?><prestashop><order_history>'
            f"<id>9</id><id_employee></id_employee><id_order_state>{state}</id_order_state>"
            f"<id_order>{order_id}</id_order><date_add>2026-11-28 05:04:44</date_add>"
            f"</order_history></prestashop>")
    return httpx.Response(201, content=body.encode(), headers={"Content-Type": "text/xml",
                                                               **PS_HEADERS})


class StateShop:
    def __init__(self, post_answers: list, state: int = 1) -> None:
        self.post_answers = post_answers
        self.state = state
        self.posts: list[httpx.Request] = []
        self.reads = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            assert request.url.path == "/api/order_histories"
            self.posts.append(request)
            doc = fromstring(request.content)
            target = int(doc.find("order_history/id_order_state").text)
            answer = self.post_answers.pop(0)
            if answer == "ok":
                self.state = target
                return history_xml(int(doc.find("order_history/id_order").text), target)
            if answer == "mail-fails":  # 1.6 recorded: state changed, then 500/46
                self.state = target
                return err(500, (46, "Unable to save resource"))
            if answer == "drop":
                raise httpx.ReadTimeout("timed out", request=request)
            return answer
        self.reads += 1
        assert query(request)["filter[id]"] == "[5]"
        return jresp(200, {"orders": [{"id": 5, "current_state": str(self.state)}]})


async def test_order_state_post_success() -> None:
    shop = StateShop(["ok"])
    async with client_for(shop) as client:
        result = await client.set_order_state(5, 4, send_email=True)
    assert isinstance(result, StateChange) and result.history.id == 9 and not result.verified
    req = shop.posts[0]
    assert query(req) == {"sendemail": "1"} and req.headers["Content-Type"].startswith("text/xml")
    assert b"<id_order>5</id_order>" in req.content and shop.reads == 0


async def test_order_state_500_46_after_change_is_verified_not_retried() -> None:
    shop = StateShop(["mail-fails"])
    async with client_for(shop) as client:
        result = await client.set_order_state(5, 4, send_email=True)
    assert len(shop.posts) == 1 and shop.reads == 1
    assert result.verified and "Unable to save resource" in result.warning


async def test_order_state_failure_without_change_is_raised_not_retried() -> None:
    shop = StateShop([err(500, (46, "Unable to save resource"))])
    async with client_for(shop) as client:
        with pytest.raises(ShopServerError) as info:
            await client.set_order_state(5, 4)
    assert len(shop.posts) == 1 and shop.reads == 1
    assert_secret_free(info.value)


async def test_order_state_lost_answer_rereads_before_posting_again() -> None:
    shop = StateShop(["drop", "ok"])
    sleep = FakeSleep()
    async with client_for(shop, sleep=sleep) as client:
        result = await client.set_order_state(5, 4)
    assert len(shop.posts) == 2 and shop.reads == 1 and result.history is not None


async def test_order_state_lost_answer_after_change_posts_once() -> None:
    class Dropped(StateShop):
        def __call__(self, request):
            if request.method == "POST":
                self.posts.append(request)
                self.state = 4
                raise httpx.ReadTimeout("answer lost", request=request)
            return super().__call__(request)

    shop = Dropped([])
    async with client_for(shop) as client:
        result = await client.set_order_state(5, 4)
    assert len(shop.posts) == 1 and result.verified


# ------------------------------------------------------------------ limits


async def test_concurrency_is_bounded() -> None:
    state = {"now": 0, "max": 0}

    async def handler(request: httpx.Request) -> httpx.Response:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        for _ in range(5):
            await asyncio.sleep(0)
        state["now"] -= 1
        ids = query(request)["filter[id]"].strip("[]").split("|")
        return jresp(200, {"customers": [{"id": int(i)} for i in ids]})

    async with client_for(handler, max_in_flight=3, batch_size=10) as client:
        found = await client.customers(range(1, 201))
    assert len(found) == 200 and state["max"] == 3 and client.requests_made == 20


async def test_requests_per_minute_budget() -> None:
    sleep = FakeSleep()
    shop = FakeShop()
    async with client_for(shop, sleep=sleep, rpm=60, max_in_flight=1,
                          clock=lambda: 100.0) as client:
        for _ in range(3):
            await client.list_raw("customers", limit="1")
    assert sleep.calls == [1.0, 2.0]


# ------------------------------------------------------------------ writes


async def test_update_product_patch_from_8() -> None:
    seen = []

    def handler(request):
        seen.append(request)
        body = (b'<?xml version="1.0"?><prestashop><product><id>3</id><active>0</active>'
                b"<price>12.5</price></product></prestashop>")
        return httpx.Response(200, content=body, headers={"PSWS-Version": "8.1.2",
                                                          "Content-Type": "text/xml"})

    async with client_for(handler) as client:
        client.version = "8.1.2"
        product = await client.update_product(3, active=False, price=Decimal("12.50"))
    (req,) = seen
    assert req.method == "PATCH" and req.url.path == "/api/products"
    doc = fromstring(req.content)
    assert [c.tag for c in doc.find("product")] == ["id", "active", "price"]
    assert doc.find("product/price").text == "12.50"
    assert product.active is False


async def test_update_product_put_full_document_before_8() -> None:
    product_xml = (REAL / "product_1_xml.body").read_bytes()
    listed = product_xml.replace(b"<product>", b"<products><product>").replace(
        b"</product>", b"</product></products>")
    seen = []

    def handler(request):
        seen.append(request)
        if request.method == "GET":
            assert query(request)["filter[id]"] == "[1]" and "output_format" not in query(request)
            return httpx.Response(200, content=listed, headers={"Content-Type": "text/xml",
                                                                **PS_HEADERS})
        return httpx.Response(200, content=product_xml, headers={"Content-Type": "text/xml",
                                                                 **PS_HEADERS})

    async with client_for(handler) as client:
        client.version = "1.6.1.25"
        await client.update_product(1, active=False)
    put = seen[-1]
    assert put.method == "PUT"
    doc = fromstring(put.content).find("product")
    tags = {c.tag for c in doc}
    assert "manufacturer_name" not in tags and "quantity" not in tags
    assert "associations" not in tags
    assert doc.find("active").text == "0" and doc.find("price").text == "16.510000"
    names = doc.find("name")
    assert names.find("language").get("id") == "1" and names.find("language").text


async def test_set_stock_puts_the_full_row() -> None:
    seen = []

    def handler(request):
        seen.append(request)
        if request.method == "GET":
            return jresp(200, {"stock_availables": [{
                "id": 8, "id_product": "1", "id_product_attribute": "1", "id_shop": "1",
                "id_shop_group": "0", "quantity": "299", "depends_on_stock": "0",
                "out_of_stock": "2"}]})
        return httpx.Response(200, content=(REAL / "write_put_stock_available_xml.body").read_bytes(),
                              headers={"Content-Type": "text/xml", **PS_HEADERS})

    async with client_for(handler) as client:
        stock = await client.set_stock(8, 42)
    put = seen[-1]
    assert put.method == "PUT" and put.url.path == "/api/stock_availables"
    doc = fromstring(put.content).find("stock_available")
    assert doc.find("quantity").text == "42" and doc.find("id").text == "8"
    assert doc.find("out_of_stock").text == "2" and doc.find("id_product_attribute").text == "1"
    assert stock.quantity == 42


async def test_tracking_number_put_on_order_carriers() -> None:
    seen = []

    def handler(request):
        seen.append(request)
        if request.method == "GET":
            return jresp(200, {"order_carriers": [{
                "id": 2, "id_order": "5", "id_carrier": "2", "id_order_invoice": "0",
                "weight": "0.000000", "shipping_cost_tax_excl": "2.000000",
                "shipping_cost_tax_incl": "2.000000", "tracking_number": "",
                "date_add": "2026-01-01 00:00:00"}]})
        return httpx.Response(200, content=request.content.replace(b"order_carrier>", b"order_carrier>"),
                              headers={"Content-Type": "text/xml", **PS_HEADERS})

    async with client_for(handler) as client:
        oc = await client.set_tracking_number(5, "TRACK123", send_email=True)
    put = seen[-1]
    assert put.method == "PUT" and query(put) == {"sendemail": "1"}
    assert oc.tracking_number == "TRACK123" and oc.id == 2


# ------------------------------------------------------------------ secrets in logs


async def test_key_never_in_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        err(503, (0, "busy"), headers={"Retry-After": "1"}),
        jresp(200, {"orders": [make_order(1)]}),
        err(401, (20, "Authentification key is not active")),
        err(500, (46, "Unable to save resource")),
        jresp(200, {"orders": [{"id": 5, "current_state": "1"}]}),
    ]
    async with client_for(lambda r: answers.pop(0)) as client:
        await client.list_raw("orders")
        with pytest.raises(ShopAuthError):
            await client.list_raw("orders")
        with pytest.raises(ShopServerError):
            await client.set_order_state(5, 2)
    lines = [r.getMessage() for r in caplog.records]
    mine = [r for r in caplog.records if r.name == "sincro.prestashop"]
    assert mine and any("GET /api/orders?" in r.getMessage() and "-> 200" in r.getMessage()
                        and "ms" in r.getMessage() for r in mine)
    for line in lines:
        assert KEY not in line
        assert base64.b64encode(f"{KEY}:".encode()).decode() not in line


async def test_put_is_retried_but_other_posts_never_are() -> None:
    answers = [httpx.Response(503), httpx.Response(
        200, content=(REAL / "write_put_stock_available_xml.body").read_bytes(),
        headers={"Content-Type": "text/xml", **PS_HEADERS})]
    methods = []

    def handler(request):
        methods.append(request.method)
        return answers.pop(0)

    row = {"id": 1, "id_product": "1", "id_product_attribute": "0", "id_shop": "1",
           "id_shop_group": "0", "quantity": "5", "depends_on_stock": "0", "out_of_stock": "2"}
    async with client_for(handler) as client:
        stock = await client.set_stock(StockAvailable.from_dict(row, TZ), 42)
        assert stock.quantity == 42 and methods == ["PUT", "PUT"]
        methods.clear()
        answers[:] = [httpx.Response(503)]
        with pytest.raises(ShopUnavailable) as info:
            await client._write("POST", "customers", b"<prestashop/>")
    assert methods == ["POST"] and "attempts" not in str(info.value)
