"""The client's bounds against httpx.MockTransport: answer size, oversized pages, the
per-request deadline, the run's time for the shop, Retry-After capped and told."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from zoneinfo import ZoneInfo

import httpx
import pytest

from core.accounts import DEFAULT_OPTIONS, Account
from core.errors import ConfigError
from core.prestashop.client import PrestaShopClient
from core.prestashop.errors import (
    ShopMalformedResponse,
    ShopOversizedPage,
    ShopRateLimited,
    ShopResponseTooLarge,
    ShopTimeLimit,
    ShopTimeout,
    ShopUnavailable,
)
from core.prestashop.limits import LIMITS, client_options

KEY = "ZK3Q9W7E5R1T8Y6U4I2O0PAS5DFGH7JK"
SHOP = "https://shop.example/"
TZ = ZoneInfo("Europe/Rome")
MB = 1024 * 1024


class FakeTime:
    """A clock that only the client's own waits move."""

    def __init__(self) -> None:
        self.now = 0.0
        self.calls: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds


def client_for(handler, **kw) -> PrestaShopClient:
    time = kw.pop("time", None) or FakeTime()
    kw.setdefault("sleep", time.sleep)
    kw.setdefault("clock", time.clock)
    return PrestaShopClient(SHOP, KEY, tz=TZ, transport=httpx.MockTransport(handler), **kw)


def jresp(status: int, body, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"Content-Type": "application/json", **(headers or {})})


def assert_one_clean_line(exc: BaseException) -> None:
    text = str(exc)
    assert "\n" not in text and KEY not in text and "Traceback" not in text
    assert exc.__cause__ is None and exc.__context__ is None


# ------------------------------------------------------------------ size


async def test_a_body_past_the_limit_stops_the_read_and_keeps_no_copy() -> None:
    sent = []

    async def endless():
        block = b" " * 65536
        yield b'{"orders":['
        for _ in range(1024):  # 64 MB if it were all read
            sent.append(len(block))
            yield block

    tracemalloc.start()
    try:
        async with client_for(lambda r: httpx.Response(200, content=endless()),
                              max_response_bytes=1 * MB, account="shop1") as client:
            with pytest.raises(ShopResponseTooLarge) as info:
                await client.list_raw("orders")
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(sent) < 2 * MB, "reading stopped near the limit"
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB"
    exc = info.value
    assert_one_clean_line(exc)
    assert "shop.example" in str(exc) and "orders" in str(exc) and "1 MB" in str(exc)
    assert "max_response_mb" in str(exc) and "sincro account edit shop1 --max-response-mb" in exc.hint
    assert client.requests_made == 1, "a too large answer is not asked again"


async def test_an_announced_length_past_the_limit_is_refused_unread() -> None:
    read = []

    async def body():
        read.append(1)
        yield b"{}"

    def handler(request):
        return httpx.Response(200, content=body(), headers={"Content-Length": str(300 * MB)})

    async with client_for(handler) as client:
        with pytest.raises(ShopResponseTooLarge) as info:
            await client.list_raw("orders")
    assert read == [] and "314,572,800 bytes" in str(info.value)
    assert "32 MB" in str(info.value)  # the default


async def test_a_body_within_the_limit_reads_as_before() -> None:
    orders = [{"id": i, "reference": "R"} for i in range(1, 51)]
    async with client_for(lambda r: jresp(200, {"orders": orders}),
                          max_response_bytes=64 * 1024) as client:
        assert [o["id"] for o in await client.list_raw("orders", limit="0,100")] == \
            list(range(1, 51))


# ------------------------------------------------------------------ oversized pages


@pytest.mark.parametrize("limit,count", [("0,100", 101), ("200,100", 204_801), ("5", 6)])
async def test_a_page_with_more_entries_than_asked_is_refused(limit, count) -> None:
    items = [{"id": i} for i in range(1, count + 1)]
    async with client_for(lambda r: jresp(200, {"orders": items})) as client:
        with pytest.raises(ShopOversizedPage) as info:
            await client.list_raw("orders", limit=limit)
    text = str(info.value)
    assert_one_clean_line(info.value)
    assert isinstance(info.value, ShopMalformedResponse)
    assert "shop.example" in text and f"{count:,} entries" in text and f"limit={limit}" in text


async def test_an_id_batch_answered_with_other_objects_is_refused() -> None:
    items = [{"id": i, "email": f"c{i}@x.test"} for i in range(1, 6)]
    async with client_for(lambda r: jresp(200, {"customers": items})) as client:
        with pytest.raises(ShopOversizedPage) as info:
            await client.get_many_raw("customers", [1, 2, 3])
    assert "5 entries where at most 3" in str(info.value) and "3 ids" in str(info.value)


# ------------------------------------------------------------------ time


def dripping(forever: asyncio.Event):
    """An answer that sends its first bytes, then nothing more until ``forever`` is set."""

    async def body():
        yield b'{"orders":['
        await forever.wait()
        yield b"]}"

    return lambda request: httpx.Response(200, content=body(),
                                          headers={"Content-Type": "application/json"})


async def test_a_slow_body_is_cut_at_the_request_deadline_and_each_retry_is_told() -> None:
    lines: list[str] = []
    never = asyncio.Event()
    async with client_for(dripping(never), timeout=0.05, retries=2, report=lines.append,
                          account="shop1") as client:
        with pytest.raises(ShopTimeout) as info:
            await client.list_raw("orders")
    text = str(info.value)
    assert_one_clean_line(info.value)
    assert "no complete answer within 0.05 s (request_timeout) after 3 attempts" in text
    assert "sincro account edit shop1 --request-timeout" in info.value.hint
    assert len(lines) == 2 and all("request_timeout" in line and "waiting" in line
                                   for line in lines)
    assert lines[-1].endswith("then attempt 3 of 3")


async def test_the_run_time_for_the_shop_bounds_requests_and_waits() -> None:
    time = FakeTime()
    answers = [jresp(503, {}, {"Retry-After": "30"}), jresp(503, {}, {"Retry-After": "30"}),
               jresp(200, {"orders": []})]
    async with client_for(lambda r: answers.pop(0), time=time, run_timeout=50,
                          account="shop1") as client:
        with pytest.raises(ShopTimeLimit) as info:
            await client.list_raw("orders")
    assert time.calls == [30.0], "the second wait would pass the run's time: not waited"
    text = str(info.value)
    assert "(50 s, run_timeout) is used up" in text and "Retry-After 30 s" in text
    assert "--run-timeout" in info.value.hint and not info.value.retryable


async def test_the_run_time_cuts_a_request_in_flight() -> None:
    never = asyncio.Event()
    async with PrestaShopClient(SHOP, KEY, tz=TZ, transport=httpx.MockTransport(dripping(never)),
                                run_timeout=0.05, timeout=60, retries=3) as client:
        with pytest.raises(ShopTimeLimit) as info:
            await client.list_raw("orders")
        assert client.requests_made == 1, "not retried"
        with pytest.raises(ShopTimeLimit):  # and every later request is refused at once
            await client.list_raw("customers")
        assert client.requests_made == 1
    assert "cut while waiting for an answer" in str(info.value)


@pytest.mark.parametrize("status,cls", [(503, ShopUnavailable), (429, ShopRateLimited)])
async def test_retry_after_is_capped_and_each_wait_is_a_line(status, cls) -> None:
    lines: list[str] = []
    time = FakeTime()
    async with client_for(lambda r: jresp(status, {}, {"Retry-After": "86400"}), time=time,
                          retries=2, retry_after_cap=60, report=lines.append,
                          account="shop1") as client:
        with pytest.raises(cls) as info:
            await client.list_raw("orders")
    assert time.calls == [60.0, 60.0]
    assert lines == [f"shop.example answered {status} to GET orders with Retry-After 86400 s; "
                     f"waiting 60 s (cap, option retry_after_cap), then attempt {n} of 3"
                     for n in (2, 3)]
    text = str(info.value)
    assert_one_clean_line(info.value)
    assert "after 3 attempts, asking to retry after 86400 s" in text
    assert "sincro account edit shop1 --retry-after-cap" in info.value.hint


async def test_a_short_retry_after_is_waited_as_asked() -> None:
    lines: list[str] = []
    answers = [jresp(503, {}, {"Retry-After": "7"}), jresp(200, [])]
    async with client_for(lambda r: answers.pop(0), report=lines.append) as client:
        assert await client.list_raw("orders") == []
    assert lines == ["shop.example answered 503 to GET orders with Retry-After 7 s; waiting 7 s, "
                     "then attempt 2 of 5"]


async def test_waits_without_a_report_go_to_the_log(caplog: pytest.LogCaptureFixture) -> None:
    answers = [jresp(502, {}), jresp(200, [])]
    async with client_for(lambda r: answers.pop(0)) as client:
        assert await client.list_raw("orders") == []
    assert any("answered 502 to GET orders; waiting" in r.getMessage() for r in caplog.records)


async def test_a_state_change_retried_after_reading_it_back_tells_its_wait() -> None:
    lines: list[str] = []
    posts = []

    def handler(request):
        if request.method == "POST":
            posts.append(1)
            if len(posts) == 1:
                return jresp(503, {})
            return httpx.Response(201, content=(
                b'<?xml version="1.0" encoding="UTF-8"?><prestashop><order_history><id>9</id>'
                b"<id_order_state>4</id_order_state><id_order>5</id_order></order_history>"
                b"</prestashop>"), headers={"Content-Type": "text/xml"})
        return jresp(200, {"orders": [{"id": 5, "current_state": "2"}]})  # not changed yet

    async with client_for(handler, retries=2, report=lines.append) as client:
        change = await client.set_order_state(5, 4)
    assert change.history is not None and len(posts) == 2
    assert len(lines) == 1 and "POST order_histories" in lines[0] and "(HTTP 503)" in lines[0]
    assert lines[0].endswith("then attempt 2 of 3")


# ------------------------------------------------------------------ options


def test_account_options_become_client_bounds() -> None:
    account = Account("shop1", SHOP, "Europe/Rome", key=KEY,
                      options={"max_response_mb": 2, "request_timeout": 0.5})
    opts = client_options(account)
    assert opts == {"account": "shop1", "max_response_bytes": 2 * MB, "timeout": 0.5,
                    "run_timeout": DEFAULT_OPTIONS["run_timeout"],
                    "retry_after_cap": DEFAULT_OPTIONS["retry_after_cap"]}
    for limit in LIMITS:
        assert limit.option in DEFAULT_OPTIONS, limit.option
        assert limit.check(DEFAULT_OPTIONS[limit.option]) == DEFAULT_OPTIONS[limit.option]


@pytest.mark.parametrize("raw", ["0", "-5", "abc", "", "nan", "inf", "1e400", "99999999", True])
def test_bad_limit_values_are_one_clear_error(raw) -> None:
    for limit in LIMITS:
        with pytest.raises(ConfigError) as info:
            limit.check(raw)
        text = str(info.value)
        assert limit.flag in text and "\n" not in text and "above 0" in text


def test_a_bad_stored_option_names_the_account_and_option() -> None:
    account = Account("shop1", SHOP, "Europe/Rome", key=KEY, options={"run_timeout": "soon"})
    with pytest.raises(ConfigError) as info:
        client_options(account)
    assert "account shop1: option run_timeout 'soon'" in str(info.value)
