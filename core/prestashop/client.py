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

Bounds (``core.prestashop.limits``, account options): every answer is streamed and
reading stops past ``max_response_bytes``; each request, from sending to its last
byte, ends within ``timeout`` seconds of wall clock (httpx's own timeouts are per
read, so a shop dripping a byte every few seconds would satisfy them for ever);
``run_timeout`` bounds the time the client spends on the shop in all (requests and
the waits between attempts), and a list answer holding more entries than were asked
for is refused whole. Each wait before a retry is told through ``report`` (the run
log), saying how long and why.
"""

from __future__ import annotations

import asyncio
import builtins
import email.utils
import logging
import random
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Literal, TypeVar
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element, SubElement, tostring

import httpx

from core import __version__
from core.errors import ConfigError
from core.prestashop.errors import (
    ShopAuthError,
    ShopBadRequest,
    ShopConnectionError,
    ShopError,
    ShopMalformedResponse,
    ShopMethodNotAllowed,
    ShopNotFound,
    ShopNotWebservice,
    ShopOversizedPage,
    ShopPermissionError,
    ShopRateLimited,
    ShopRedirect,
    ShopResponseTooLarge,
    ShopServerError,
    ShopTimeLimit,
    ShopTimeout,
    ShopTLSError,
    ShopUnavailable,
    WebserviceDisabled,
    one_line,
)
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
    ApiError,
    BodyError,
    Multilang,
    decode_body,
    errors_of,
    items_of,
    looks_like_html,
    parse_api_index,
    to_str,
    xml_to_data,
)

__all__ = ["PrestaShopClient"]

log = logging.getLogger("sincro.prestashop")
BIG_BODY = 64 * 1024  # bytes: parse bodies larger than this on a thread
MB = 1024 * 1024

M = TypeVar("M", bound=Model)

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Fields a GET document carries that a PUT must not send back (setter false or
# virtual getter fields, docs/prestashop/PROTOCOL.md §6.2/§7.8): sending them gives 400/93.
PRODUCT_READ_ONLY = frozenset({
    "manufacturer_name", "quantity", "position_in_category", "id_default_image",
    "id_default_combination", "type", "associations",
})
PERMISSION_NAMES = {
    "GET": "View (GET)", "PUT": "Modify (PUT)", "POST": "Add (POST)",
    "DELETE": "Delete (DELETE)", "HEAD": "Fast view (HEAD)", "PATCH": "Modify (PATCH)",
}
_SINGULAR = {
    "addresses": "address", "order_histories": "order_history", "countries": "country",
    "currencies": "currency", "categories": "category", "taxes": "tax", "order_slip": "order_slip",
    "content_management_system": "content", "search": "search",
}
WS = "Advanced Parameters > Webservice"


def _singular(resource: str) -> str:
    if resource in _SINGULAR:
        return _SINGULAR[resource]
    if resource.endswith("ies"):
        return resource[:-3] + "y"
    return resource[:-1] if resource.endswith("s") else resource


class _RateLimiter:
    """Requests-per-minute budget (GCRA token bucket, burst ``burst``)."""

    def __init__(self, rpm: float, burst: int, sleep: Callable[[float], Awaitable[Any]],
                 clock: Callable[[], float]) -> None:
        if rpm <= 0:
            raise ConfigError("rpm must be positive", hint="leave it unset for no budget")
        self.interval = 60.0 / rpm
        self.tolerance = self.interval * (max(1, burst) - 1)
        self._tat = float("-inf")
        self._sleep = sleep
        self._clock = clock

    async def take(self) -> None:
        now = self._clock()
        tat = max(self._tat, now)
        self._tat = tat + self.interval
        wait = tat - self.tolerance - now
        if wait > 0:
            await self._sleep(wait)


class _SwitchToXml(Exception):
    """Internal: a JSON request got a body that is not JSON; retry in XML."""


class _Deadline(Exception):
    """Internal: one request's wall-clock time was up before its answer was read whole."""


def _secs(seconds: float) -> str:
    """``86400 s``, ``60 s``, ``1.2 s``, ``0.05 s``."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.2g} s"


class PrestaShopClient:
    """One shop account's Webservice client (async context manager).

    ``base_url`` is the shop root (``https://shop.example/`` or with a subfolder);
    ``/api/`` is appended. ``tz`` is the shop's time zone (PrestaShop dates are
    shop-local without offset). ``requests_made`` counts HTTP requests sent.
    """

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
        self.retries = retries
        self.page_size = page_size
        self.batch_size = batch_size
        self.max_url_length = max_url_length
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.max_response_bytes = int(max_response_bytes)
        self.run_timeout = run_timeout
        self.account = account
        self.report = report  # one line per wait before a retry (the run log); else logged
        self._clock = clock
        self._active = 0  # requests under way (busy time is counted while > 0)
        self._busy_since = 0.0
        self._busy_total = 0.0
        self._told: dict[str, float] = {}  # wait lines told, until when their wait lasts
        self.version: str | None = None
        self._gt_checked: set[str] = set()
        self.requests_made = 0
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self._sem = asyncio.Semaphore(max_in_flight)
        self._limiter = (
            _RateLimiter(rpm, min(max_in_flight, max(1, int(rpm))), sleep, clock) if rpm else None
        )
        verify: ssl.SSLContext | bool = True
        if ca_file:
            try:
                verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"cannot load the CA file {ca_file}: {one_line(str(exc), 120)}",
                    hint="give a PEM file with the certificate authority of the shop",
                ) from None
        self._http = httpx.AsyncClient(
            base_url=api_url,
            auth=httpx.BasicAuth(self._key, ""),
            headers={"User-Agent": f"Sincro/{__version__}"},
            timeout=httpx.Timeout(timeout),
            verify=verify,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )
        self.api_url = api_url
        self.host = urlsplit(self.shop_url).netloc

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
        await self._http.aclose()

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and text else text

    def _error(self, cls: type[ShopError], method: str, resource: str, what: str, *,
               hint: str | None = None, status: int | None = None,
               errors: list[ApiError] | None = None, **kwargs: Any) -> ShopError:
        errors = errors or []
        code = errors[0].code if errors else None
        shop_message = "; ".join(
            (f"[{e.code}] " if e.code is not None else "") + one_line(e.message, 200)
            for e in errors
        ) or None
        where = resource or "/api/"
        text = f"{self.shop_url}: {method} {where}: {what}"
        if shop_message and shop_message not in what:
            text += f" (shop said: {shop_message})"
        return cls(
            self._scrub(text),
            hint=self._scrub(hint) if hint else None,
            status=status,
            code=code,
            shop_message=self._scrub(shop_message) if shop_message else None,
            shop_url=self.shop_url,
            method=method,
            resource=resource,
            **kwargs,
        )

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return delay / 2 + self._rng.uniform(0, delay / 2)

    def _edit_hint(self, flag: str) -> str:
        """The command that changes one of this account's bounds."""
        return f"'sincro account edit {self.account or 'NAME'} {flag}'"

    def _retry_after_asked(self, response: httpx.Response) -> float | None:
        """The seconds the shop's ``Retry-After`` asks for (not capped), or None."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            if when is None:
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = when.timestamp() - self._wall_clock()
        if seconds != seconds:  # NaN
            return None
        return max(0.0, seconds)

    def _retry_after(self, response: httpx.Response) -> float | None:
        asked = self._retry_after_asked(response)
        return None if asked is None else min(asked, self.retry_after_cap)

    def _timeout_error(self, method: str, resource: str, attempts: int) -> ShopError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        return self._error(
            ShopTimeout, method, resource,
            f"no complete answer within {_secs(self.timeout)} (request_timeout){tries}",
            hint="the shop is slow or unreachable: check it, or allow more time per request "
                 f"with {self._edit_hint('--request-timeout SECONDS')}",
        )

    def _time_limit_error(self, method: str, resource: str, why: str = "") -> ShopError:
        limit = _secs(self.run_timeout or 0)
        return self._error(
            ShopTimeLimit, method, resource,
            f"this run's time for the shop ({limit}, run_timeout) is used up"
            + (f": {why}" if why else ""),
            hint="the shop is too slow for one run: check it, or allow more time with "
                 f"{self._edit_hint('--run-timeout SECONDS')}",
        )

    def _too_large(self, method: str, resource: str, announced: int | None = None) -> ShopError:
        limit = f"{self.max_response_bytes / MB:g} MB"
        what = (f"the answer announces {announced:,} bytes, over the {limit} limit"
                if announced is not None else f"the answer grew past the {limit} limit")
        return self._error(
            ShopResponseTooLarge, method, resource,
            f"{what} (max_response_mb); reading stopped and none of it was used",
            hint="answers this large are not normal for one page: check the shop (a module "
                 "adding data, a proxy); if they really are that large, allow more with "
                 f"{self._edit_hint('--max-response-mb MB')}",
        )

    def _transport_error(self, exc: httpx.TransportError, method: str, resource: str,
                         attempts: int) -> ShopError:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if isinstance(exc, httpx.TimeoutException):
            return self._timeout_error(method, resource, attempts)
        chain: list[BaseException] = []
        cur: BaseException | None = exc
        while cur is not None and len(chain) < 10:
            chain.append(cur)
            cur = cur.__cause__ or cur.__context__
        texts = " ".join(str(e) for e in chain)
        if any(isinstance(e, ssl.SSLError) for e in chain) or re.search(
            r"CERTIFICATE_VERIFY_FAILED|SSL|TLS|certificate", texts
        ):
            return self._error(
                ShopTLSError, method, resource,
                f"TLS failure: {one_line(str(exc) or type(exc).__name__, 160)}",
                hint="the shop's certificate could not be verified: install on the shop a valid "
                     "certificate from a public authority (Sincro checks it against the public "
                     "CA file it ships); verification cannot be turned off",
            )
        return self._error(
            ShopConnectionError, method, resource,
            f"cannot reach the shop{tries}: {one_line(str(exc) or type(exc).__name__, 160)}",
            hint="check the shop URL, DNS and that the shop is online",
        )

    # time spent on the shop: counted while at least one request is under way
    def _run_left(self) -> float | None:
        if self.run_timeout is None:
            return None
        used = self._busy_total + (self._clock() - self._busy_since if self._active else 0.0)
        return self.run_timeout - used

    def _tell(self, line: str) -> None:
        line = self._scrub(line)
        if self.report is not None:
            self.report(line)
        else:
            log.warning("%s", line)

    async def _wait(self, delay: float, why: str, method: str, resource: str, attempt: int,
                    max_attempts: int, note: str = "") -> None:
        """Wait before attempt ``attempt + 1``, saying so; never past the run's time."""
        left = self._run_left()
        if left is not None and delay >= left:
            raise self._time_limit_error(method, resource,
                                         f"{why}, and waiting {_secs(delay)} would pass it")
        line = f"{why}; waiting {_secs(delay)}{note}, then attempt {attempt + 1} of {max_attempts}"
        now = self._clock()
        if self._told.get(line, now) <= now:  # requests waiting alike are told once
            self._told = {k: t for k, t in self._told.items() if t > now}
            self._told[line] = now + delay
            self._tell(line)
        await self._sleep(delay)

    async def _send(
        self,
        method: str,
        resource: str,
        *,
        path: str | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        retry: bool | None = None,
    ) -> httpx.Response:
        """Send one request (with retries when idempotent); return any HTTP answer, its body
        read whole within the size and time bounds."""
        if self._active == 0:
            self._busy_since = self._clock()
        self._active += 1
        try:
            return await self._attempts(method, resource, path, params, content, retry)
        finally:
            self._active -= 1
            if self._active == 0:
                self._busy_total += self._clock() - self._busy_since

    async def _attempts(self, method: str, resource: str, path: str | None,
                        params: Mapping[str, str] | None, content: bytes | None,
                        retry: bool | None) -> httpx.Response:
        retryable = (method in IDEMPOTENT) if retry is None else retry
        max_attempts = self.retries + 1 if retryable else 1
        headers = {"Content-Type": "text/xml; charset=utf-8"} if content is not None else None
        url = path if path is not None else resource
        attempt = 0
        while True:
            attempt += 1
            failure: ShopError | None = None
            why = ""  # the failure as a wait line says it
            response: httpx.Response | None = None
            if self._limiter is not None:
                await self._limiter.take()
            async with self._sem:
                left = self._run_left()
                if left is not None and left <= 0:
                    raise self._time_limit_error(method, resource)
                budget = self.timeout if left is None else min(self.timeout, left)
                self.requests_made += 1
                started = time.perf_counter()
                try:
                    response = await self._exchange(method, url, resource, budget, params=params,
                                                     content=content, headers=headers)
                except httpx.TransportError as exc:
                    failure = self._transport_error(exc, method, resource, attempt)
                    if not isinstance(failure, ShopTLSError):
                        why = self._transport_error(exc, method, resource, 1).message
                except httpx.DecodingError as exc:
                    failure = self._error(
                        ShopMalformedResponse, method, resource,
                        f"the answer's compression is broken: {one_line(str(exc), 120)}",
                        hint="a proxy or module in front of the shop mangles its answers")
                except _Deadline:
                    if budget < self.timeout:
                        failure = self._time_limit_error(method, resource,
                                                         "cut while waiting for an answer")
                    else:
                        failure = self._timeout_error(method, resource, attempt)
                        why = self._timeout_error(method, resource, 1).message
                elapsed_ms = (time.perf_counter() - started) * 1000
            target = self._log_target(response, url, params)
            if response is not None:
                log.debug("%s %s -> %d in %.1f ms (attempt %d)", method, target,
                          response.status_code, elapsed_ms, attempt)
            else:
                assert failure is not None
                log.debug("%s %s -> %s in %.1f ms (attempt %d)", method, target,
                          type(failure).__name__, elapsed_ms, attempt)
            if failure is not None:
                if not why or attempt >= max_attempts:
                    raise failure  # TLS, broken compression, run time: not retried
                await self._wait(self._backoff(attempt), why, method, resource, attempt,
                                 max_attempts)
                continue
            assert response is not None
            if (
                response.status_code in RETRY_STATUSES
                and attempt < max_attempts
                and not self._is_disabled(response)
            ):
                why = f"{self.host} answered {response.status_code} to {method} {resource or '/api/'}"
                asked = self._retry_after_asked(response)
                if asked is None:
                    await self._wait(self._backoff(attempt), why, method, resource, attempt,
                                     max_attempts)
                elif asked > self.retry_after_cap:
                    await self._wait(self.retry_after_cap,
                                     f"{why} with Retry-After {_secs(asked)}", method, resource,
                                     attempt, max_attempts, " (cap, option retry_after_cap)")
                else:
                    await self._wait(asked, f"{why} with Retry-After {_secs(asked)}", method,
                                     resource, attempt, max_attempts)
                continue
            return response

    async def _exchange(self, method: str, url: str, resource: str, budget: float,
                        **kwargs: Any) -> httpx.Response:
        """One HTTP exchange, its body streamed and read whole within ``budget`` seconds of
        wall clock (raises ``_Deadline``) and ``max_response_bytes``."""
        try:
            async with asyncio.timeout(budget) as deadline:
                async with self._http.stream(method, url, **kwargs) as response:
                    await self._read_body(response, method, resource)
        except TimeoutError:
            if deadline.expired():
                raise _Deadline from None
            raise
        return response

    async def _read_body(self, response: httpx.Response, method: str, resource: str) -> None:
        limit = self.max_response_bytes
        announced = response.headers.get("Content-Length", "").strip()
        if announced.isdigit() and int(announced) > limit:
            raise self._too_large(method, resource, int(announced))
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                chunks.clear()  # the traceback keeps this frame: keep no part of the body
                del chunk
                raise self._too_large(method, resource)
            chunks.append(chunk)
        response._content = b"".join(chunks)  # where httpx's own aread() keeps the body

    def _log_target(self, response: httpx.Response | None, url: str,
                    params: Mapping[str, str] | None) -> str:
        if response is not None:
            req = response.request
            target = req.url.raw_path.decode("ascii", "replace")
        else:
            target = str(httpx.URL(self.api_url + url, params=params or {}).raw_path,
                         "ascii", "replace")
        return self._scrub(target)

    @staticmethod
    def _is_disabled(response: httpx.Response) -> bool:
        if response.status_code != 503:
            return False
        try:
            return any(e.code == 22 for e in errors_of(decode_body(response.content)))
        except BodyError:
            return False

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
                raise self._html_error(response, method, resource)
            try:
                return decode_body(text, ctype)
            except BodyError as exc:
                problem = exc
            raise self._malformed(response, method, resource, problem)
        raise self._status_error(response, method, resource)

    def _malformed(self, response: httpx.Response, method: str, resource: str,
                   exc: BodyError) -> ShopError:
        text = response.content[:4096].decode("utf-8", "replace")
        if re.search(r"(Notice|Warning|Deprecated|Fatal error|Parse error)\b.*?:", text):
            hint = ("PHP notices are printed into the Webservice answer: turn display_errors off "
                    "on the shop (Advanced Parameters > Performance > Debug mode off) or fix the module")
        else:
            hint = ("the answer is cut or not the Webservice's: check proxies/caches in front "
                    "of the shop and its PHP error log")
        return self._error(ShopMalformedResponse, method, resource,
                           f"malformed answer (HTTP {response.status_code}): {exc}",
                           hint=hint, status=response.status_code)

    def _html_error(self, response: httpx.Response, method: str, resource: str) -> ShopError:
        text = response.content[:20000].decode("utf-8", "replace").lower()
        status = response.status_code
        if "maintenance" in text:
            what = f"the shop answers with its maintenance page (HTTP {status})"
            hint = ("the shop is in maintenance mode (Shop Parameters > General > Maintenance): "
                    "wait for it to end, or add this machine's IP to the maintenance IPs")
        elif re.search(r"type=[\"']?password|login|log in|sign in|connexion", text):
            what = f"an HTML login page instead of the Webservice (HTTP {status})"
            hint = ("a password protection or firewall stands in front of the shop: "
                    "let /api/ through it")
        else:
            what = f"an HTML page instead of Webservice XML/JSON (HTTP {status})"
            hint = (f"check the shop URL (the shop root; /api/ is added): {self.shop_url}api/ "
                    "must reach PrestaShop's webservice (URL rewriting on, Webservice enabled)")
        return self._error(ShopNotWebservice, method, resource, what, hint=hint, status=status)

    def _status_error(self, response: httpx.Response, method: str, resource: str) -> ShopError:
        status = response.status_code
        body = response.content
        if 300 <= status < 400:
            return self._redirect_error(response, method, resource)
        data: Any = None
        decoded = False
        if body.strip():
            try:
                data = decode_body(body, response.headers.get("Content-Type", ""))
                decoded = True
            except BodyError:
                decoded = False
        errors = errors_of(data)
        codes = {e.code for e in errors if e.code is not None}
        # PHP warnings (codes 2-15) often accompany the real error: name the real one first
        errors.sort(key=lambda e: 1 if e.code is not None and 2 <= e.code <= 15 else 0)
        err = lambda cls, what, hint=None: self._error(  # noqa: E731
            cls, method, resource, what, hint=hint, status=status, errors=errors)

        if status == 401:
            if 26 in codes:
                res = resource
                for e in errors:
                    if e.code == 26 and (m := re.search(r'type "([^"]+)"', e.message)):
                        res = m.group(1)
                perm = PERMISSION_NAMES.get(method, method)
                return err(ShopPermissionError, f'the key may not use the resource "{res}"',
                           f'in the shop\'s back office, {WS}, edit this key and tick '
                           f'"{perm}" for "{res}"')
            if not decoded and method == "HEAD":
                return err(ShopAuthError, "the key was refused (HTTP 401)",
                           f"check the key in {WS} (enabled, 32 characters); if it is right, the "
                           "web server drops the Authorization header: set \"Enable CGI mode for "
                           "PHP\" to Yes there")
            if not decoded:
                return err(ShopAuthError, "the shop received no key (HTTP 401 without a Webservice error)",
                           "the web server drops the Authorization header (PHP as CGI/FPM): in "
                           f"{WS} set \"Enable CGI mode for PHP\" to Yes, or pass HTTP_AUTHORIZATION "
                           "through in the web server's rewrite rules")
            if 18 in codes:
                return err(ShopAuthError, "the key is not in PrestaShop's format (32 characters)",
                           f"copy the key again from {WS}")
            if 17 in codes:
                return err(ShopAuthError, "the shop received an empty key",
                           "send the key as the Basic user name with an empty password")
            if 20 in codes:
                return err(ShopAuthError, "wrong or disabled Webservice key",
                           f"check the key in {WS}: it must exist there with Status enabled")
            if 21 in codes:
                return err(ShopPermissionError, "the key has no permission at all",
                           f"in {WS}, edit this key and tick the resources it needs")
            return err(ShopAuthError, "authentication refused (HTTP 401)",
                       f"check the key in {WS}")
        if status == 403:
            if 132 in codes:
                return err(ShopPermissionError, "the key is not allowed on this shop",
                           f"in {WS}, edit the key and tick this shop under its shop association")
            if looks_like_html(body[:2048].decode("utf-8", "replace")):
                return self._html_error(response, method, resource)
            return err(ShopPermissionError, "forbidden by the web server (HTTP 403)",
                       "a firewall or server rule blocks /api/: allow it for this machine")
        if status in (503, 502, 504, 429) and 22 in codes:
            return err(WebserviceDisabled, "the Webservice is disabled",
                       f"enable it in the shop's back office: {WS} > "
                       "\"Enable PrestaShop's webservice\" = Yes")
        html = body[:20000].decode("utf-8", "replace")
        if body.strip() and not decoded and looks_like_html(html) and not (
                status in RETRY_STATUSES and "maintenance" not in html.lower()):
            return self._html_error(response, method, resource)
        if status == 404:
            if not body.strip():
                if resource and "/" not in resource.strip("/"):
                    return err(ShopNotFound, "404 with an empty body",
                               f"{self.shop_url}api/{resource} is not served by PrestaShop's "
                               "webservice, or the object does not exist: check the shop URL "
                               "(subfolder?) and that URL rewriting for /api/ is active")
                return err(ShopNotFound, "not found (404 with an empty body)")
            if 131 in codes:
                return err(ShopNotFound, "the object does not exist on this shop")
            return err(ShopNotFound, "not found (HTTP 404)",
                       "check the shop URL and the object id")
        if status == 405:
            if 23 in codes:
                hint: str | None = ("PATCH needs PrestaShop 8.0 or later" if method == "PATCH"
                                    else "this PrestaShop does not support the method")
                return err(ShopMethodNotAllowed, f"method {method} is not valid here", hint)
            if 25 in codes:
                perm = PERMISSION_NAMES.get(method, method)
                return err(ShopPermissionError,
                           f'the key may not use {method} on "{resource}"',
                           f'in the shop\'s back office, {WS}, edit this key and tick '
                           f'"{perm}" for "{resource}"')
            return err(ShopMethodNotAllowed, f"method {method} is not allowed on {resource}",
                       "PrestaShop forbids this method for this resource")
        if status == 400 or (status == 500 and codes & set(range(27, 40))):
            hint = None
            if 27 in codes:
                hint = "the resource does not exist in this PrestaShop (or its module is missing)"
            elif codes & {32, 33, 34, 35, 36, 37, 38, 39}:
                hint = "the shop refused a list parameter; this PrestaShop may use other field names"
            return err(ShopBadRequest, f"request refused (HTTP {status})", hint)
        if status in (500, 501):
            php = [e for e in errors if (e.code is not None and 2 <= e.code <= 15)
                   or "PHP" in e.message or "Internal error" in e.message]
            if 46 in codes:
                return err(ShopServerError, f"the shop could not save the {_singular(resource)}",
                           "the change may be partly applied: re-read the object before retrying")
            if 133 in codes:
                return err(ShopServerError, "stock depends on advanced stock management",
                           "turn off advanced stock management for this product or set stock there")
            if 127 in codes:
                return err(ShopServerError, "the shop could not parse the XML sent",
                           "report this to Sincro's maintainers")
            if php or not errors:
                return err(ShopServerError, f"the shop failed with PHP errors (HTTP {status})",
                           "a module or the PHP version breaks the Webservice: see the shop's "
                           "PHP error log")
            return err(ShopServerError, f"the shop failed (HTTP {status})")
        tries = f" after {self.retries + 1} attempts" if (
            method in IDEMPOTENT and self.retries) else ""
        asked = self._retry_after_asked(response)
        wanted = f", asking to retry after {_secs(asked)}" if asked is not None else ""
        capped = (f"; Sincro waits at most {_secs(self.retry_after_cap)} of a Retry-After "
                  f"(retry_after_cap, {self._edit_hint('--retry-after-cap SECONDS')})"
                  if asked is not None and asked > self.retry_after_cap else "")
        if status == 429:
            return err(ShopRateLimited, f"rate limited (HTTP 429){tries}{wanted}",
                       "the shop's host limits how often it may be called: ask the host to "
                       "allow this machine, or sync this account less often" + capped)
        if status in (502, 503, 504):
            return err(ShopUnavailable, f"the shop is unavailable (HTTP {status}){tries}{wanted}",
                       "the shop or its host is down or overloaded; try again later" + capped)
        return err(ShopError, f"unexpected HTTP {status}")

    def _redirect_error(self, response: httpx.Response, method: str, resource: str) -> ShopError:
        location = response.headers.get("Location", "")
        target = urljoin(str(response.request.url), location) if location else ""
        parts = urlsplit(target)
        canonical = ""
        if parts.scheme and parts.netloc:
            path = parts.path
            idx = path.find("/api")
            root = path[:idx] if idx >= 0 else ""
            canonical = f"{parts.scheme}://{parts.netloc}{root.rstrip('/')}/"
        if canonical and canonical != self.shop_url:
            hint = (f"the shop's canonical URL is {canonical}: use it as the shop URL "
                    "(PrestaShop redirects other hosts and http to its configured domain)")
        else:
            hint = "the shop redirects /api/: check the shop URL and its SEO & URLs settings"
        return self._error(
            ShopRedirect, method, resource,
            f"redirected (HTTP {response.status_code}) to {canonical or 'another URL'}",
            hint=hint, status=response.status_code, location=self._scrub(target),
        )

    # ------------------------------------------------------------------ reads

    async def _get_data(self, resource: str, params: Mapping[str, str], *,
                        fmt: str | None = None) -> Any:
        fmt = fmt or self.read_format
        query = dict(params)
        if fmt == "JSON":
            query["output_format"] = "JSON"
        response = await self._send("GET", resource, params=query)
        try:
            return await self._checked(response, resource)
        except ShopMalformedResponse:
            if not (fmt == "JSON" and self.auto_format):
                raise
        log.warning("%s: JSON answer unusable, switching this shop to XML", self.shop_url)
        self.read_format = "XML"
        response = await self._send("GET", resource, params=dict(params))
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
        raise self._error(ShopMalformedResponse, "GET", resource, f"unexpected answer: {problem}")

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
            raise self._error(ShopMalformedResponse, "GET", resource,
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
        items = await self._items(resource, self._params(filters, display, sort, limit, date))
        asked = _asked_for(limit, filters)
        if asked is not None and len(items) > asked[0]:
            raise self._error(
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
            raise self._error(
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
            "?filter%5Bid%5D=%5B%5D&display=full&output_format=JSON")
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
        raise self._error(ShopNotFound, "GET", "orders", f"order {order_id} does not exist")

    async def info(self) -> ShopInfo:
        """Version (PSWS-Version) and what the key may do, from ``GET /api/`` in XML.

        Powers "test connection"; also fixes the read format in auto mode
        (XML for shops older than 1.6.0.9, which have no JSON output).
        """
        response = await self._send("GET", "", path="")
        data = self._check(response, "GET", "")
        try:
            shop_name, resources = parse_api_index(data)
        except BodyError:
            shop_name, resources = None, None
        if resources is None or shop_name is None:
            raise self._error(ShopMalformedResponse, "GET", "", "unexpected resource index")
        if self.auto_format and self.version and version_tuple(self.version) < (1, 6, 0, 9):
            self.read_format = "XML"
        return ShopInfo(version=self.version, shop_name=shop_name, resources=resources)

    async def ping(self) -> str | None:
        """``HEAD /api/``: raises the typed error on a bad key; returns the version."""
        response = await self._send("HEAD", "", path="")
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
        response = await self._send(method, resource, params=params, content=body, retry=retry)
        data = self._check(response, method, resource)
        try:
            return items_of(data)
        except BodyError as exc:
            problem = exc
        raise self._error(ShopMalformedResponse, method, resource, f"unexpected answer: {problem}")

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
            await self._wait(self._backoff(attempt), failure.message, "POST", "order_histories",
                             attempt, self.retries + 1)

    async def set_stock(self, stock: StockAvailable | int, quantity: int) -> StockAvailable:
        """``PUT stock_availables`` with the full row and the new quantity."""
        stock_id = stock if isinstance(stock, int) else stock.id
        raw = None if isinstance(stock, int) else dict(stock.raw)
        if not raw or len(raw) < 4:
            found = await self.get_many_raw("stock_availables", [stock_id])
            if stock_id not in found:
                raise self._error(ShopNotFound, "PUT", "stock_availables",
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
        response = await self._send("GET", "products",
                                    params={"filter[id]": f"[{pid}]", "display": "full"})
        self._check(response, "GET", "products")  # raises on errors
        item: list[dict[str, Any]] | None = None
        try:
            item = items_of(xml_to_data(response.content))
        except BodyError as exc:
            problem = exc
        if item is None:
            raise self._error(ShopMalformedResponse, "GET", "products", str(problem))
        if not item:
            raise self._error(ShopNotFound, "PUT", "products", f"product {pid} does not exist")
        fields = {k: v for k, v in item[0].items() if k not in PRODUCT_READ_ONLY}
        fields.update(changes)
        fields["id"] = pid
        return self._xml("product", fields)

    async def set_tracking_number(self, order_id: int, tracking_number: str, *,
                                  send_email: bool = False) -> OrderCarrier:
        """PUT the order's (latest) order_carrier row with ``tracking_number``."""
        rows = await self.list_raw("order_carriers", filters={"id_order": f"[{int(order_id)}]"})
        if not rows:
            raise self._error(ShopNotFound, "PUT", "order_carriers",
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

