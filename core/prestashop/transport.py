"""Transport: one shop account's requests sent, within its bounds, and retried.

* The key goes in HTTP Basic (user = key, empty password), never in a URL; no
  redirects are followed (docs/prestashop/PROTOCOL.md §10).
* At most ``max_in_flight`` requests at a time, and with ``rpm`` a requests-per-minute
  budget (``RateLimiter``).
* Retries (exponential backoff with jitter, ``Retry-After`` honoured up to
  ``retry_after_cap``) for GET/HEAD/PUT/PATCH only, unless the caller decides.
* Every answer is streamed and reading stops past ``max_response_bytes``; each
  request, from sending to its last byte, ends within ``timeout`` seconds of wall
  clock (httpx's own timeouts are per read, so a shop dripping a byte every few
  seconds would satisfy them for ever); ``run_timeout`` bounds the time spent on the
  shop in all (requests and the waits between attempts). The bounds are account
  options (``core.prestashop.limits``).
* Each wait before a retry is told through ``report`` (the run log), saying how
  long and why; without one it is logged.

Failures become ``ShopError`` through ``core.prestashop.diagnosis``; answers of any
HTTP status are returned for the client to read.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC
from typing import Any

import httpx

from core import __version__
from core.errors import ConfigError
from core.prestashop.diagnosis import (
    IDEMPOTENT,
    RETRY_STATUSES,
    Diagnosis,
    is_disabled,
    secs,
)
from core.prestashop.errors import (
    ShopError,
    ShopMalformedResponse,
    ShopTLSError,
    one_line,
)

__all__ = ["RateLimiter", "Transport"]

log = logging.getLogger("sincro.prestashop")


class RateLimiter:
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


class _Deadline(Exception):
    """Internal: one request's wall-clock time was up before its answer was read whole."""


class Transport:
    """Sends one shop account's requests to ``api_url`` (the key in HTTP Basic).

    ``requests_made`` counts HTTP requests sent. The bounds and ``report`` are read
    at each use, so changing them applies to the next request or wait.
    """

    def __init__(
        self,
        api_url: str,
        key: str,
        diagnosis: Diagnosis,
        *,
        host: str,
        max_in_flight: int,
        rpm: float | None,
        timeout: float,
        ca_file: str | None,
        retries: int,
        sleep: Callable[[float], Awaitable[Any]],
        transport: httpx.AsyncBaseTransport | None,
        backoff_base: float,
        backoff_cap: float,
        retry_after_cap: float,
        rng: random.Random | None,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        max_response_bytes: int,
        run_timeout: float | None,
        report: Callable[[str], Any] | None,
    ) -> None:
        self.api_url = api_url
        self.host = host
        self.diagnosis = diagnosis
        self.retries = retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.retry_after_cap = retry_after_cap
        self.max_response_bytes = int(max_response_bytes)
        self.run_timeout = run_timeout
        self.report = report  # one line per wait before a retry (the run log); else logged
        # parameters every request carries: the shop context of an account bound to one shop
        # of a multishop install ({"id_shop": "2"}, docs/prestashop/PROTOCOL.md §5.5)
        self.context: dict[str, str] = {}
        self.clock = clock
        self._active = 0  # requests under way (busy time is counted while > 0)
        self._busy_since = 0.0
        self._busy_total = 0.0
        self._told: dict[str, float] = {}  # wait lines told, until when their wait lasts
        self.requests_made = 0
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.wall_clock = wall_clock
        self._sem = asyncio.Semaphore(max_in_flight)
        self._limiter = (
            RateLimiter(rpm, min(max_in_flight, max(1, int(rpm))), sleep, clock) if rpm else None
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
        self.http = httpx.AsyncClient(
            base_url=api_url,
            auth=httpx.BasicAuth(key, ""),
            headers={"User-Agent": f"Sincro/{__version__}"},
            timeout=httpx.Timeout(timeout),
            verify=verify,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"Transport({self.api_url!r})"

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ waits

    def backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2 ** (attempt - 1)))
        return delay / 2 + self.rng.uniform(0, delay / 2)

    def retry_after_asked(self, response: httpx.Response) -> float | None:
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
            seconds = when.timestamp() - self.wall_clock()
        if seconds != seconds:  # NaN
            return None
        return max(0.0, seconds)

    def retry_after(self, response: httpx.Response) -> float | None:
        asked = self.retry_after_asked(response)
        return None if asked is None else min(asked, self.retry_after_cap)

    # time spent on the shop: counted while at least one request is under way
    def run_left(self) -> float | None:
        if self.run_timeout is None:
            return None
        used = self._busy_total + (self.clock() - self._busy_since if self._active else 0.0)
        return self.run_timeout - used

    def tell(self, line: str) -> None:
        line = self.diagnosis.scrub(line)
        if self.report is not None:
            self.report(line)
        else:
            log.warning("%s", line)

    def time_limit_error(self, method: str, resource: str, why: str = "") -> ShopError:
        return self.diagnosis.time_limit_error(method, resource, self.run_timeout, why)

    def timeout_error(self, method: str, resource: str, attempts: int) -> ShopError:
        return self.diagnosis.timeout_error(method, resource, attempts, self.timeout)

    async def wait(self, delay: float, why: str, method: str, resource: str, attempt: int,
                   max_attempts: int, note: str = "") -> None:
        """Wait before attempt ``attempt + 1``, saying so; never past the run's time."""
        left = self.run_left()
        if left is not None and delay >= left:
            raise self.time_limit_error(method, resource,
                                        f"{why}, and waiting {secs(delay)} would pass it")
        line = f"{why}; waiting {secs(delay)}{note}, then attempt {attempt + 1} of {max_attempts}"
        now = self.clock()
        if self._told.get(line, now) <= now:  # requests waiting alike are told once
            self._told = {k: t for k, t in self._told.items() if t > now}
            self._told[line] = now + delay
            self.tell(line)
        await self.sleep(delay)

    # ------------------------------------------------------------------ requests

    async def send(
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
        if self.context:  # reads and writes alike, in the account's shop
            params = {**(params or {}), **self.context}
        if self._active == 0:
            self._busy_since = self.clock()
        self._active += 1
        try:
            return await self._attempts(method, resource, path, params, content, retry)
        finally:
            self._active -= 1
            if self._active == 0:
                self._busy_total += self.clock() - self._busy_since

    async def _attempts(self, method: str, resource: str, path: str | None,
                        params: Mapping[str, str] | None, content: bytes | None,
                        retry: bool | None) -> httpx.Response:
        retryable = (method in IDEMPOTENT) if retry is None else retry
        max_attempts = self.retries + 1 if retryable else 1
        headers = {"Content-Type": "text/xml; charset=utf-8"} if content is not None else None
        url = path if path is not None else resource
        diagnosis = self.diagnosis
        attempt = 0
        while True:
            attempt += 1
            failure: ShopError | None = None
            why = ""  # the failure as a wait line says it
            response: httpx.Response | None = None
            if self._limiter is not None:
                await self._limiter.take()
            async with self._sem:
                left = self.run_left()
                if left is not None and left <= 0:
                    raise self.time_limit_error(method, resource)
                budget = self.timeout if left is None else min(self.timeout, left)
                self.requests_made += 1
                started = time.perf_counter()
                try:
                    response = await self._exchange(method, url, resource, budget, params=params,
                                                     content=content, headers=headers)
                except httpx.TransportError as exc:
                    failure = diagnosis.transport_error(exc, method, resource, attempt,
                                                        self.timeout)
                    if not isinstance(failure, ShopTLSError):
                        why = diagnosis.transport_error(exc, method, resource, 1,
                                                        self.timeout).message
                except httpx.DecodingError as exc:
                    failure = diagnosis.error(
                        ShopMalformedResponse, method, resource,
                        f"the answer's compression is broken: {one_line(str(exc), 120)}",
                        hint="a proxy or module in front of the shop mangles its answers")
                except _Deadline:
                    if budget < self.timeout:
                        failure = self.time_limit_error(method, resource,
                                                        "cut while waiting for an answer")
                    else:
                        failure = self.timeout_error(method, resource, attempt)
                        why = self.timeout_error(method, resource, 1).message
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
                await self.wait(self.backoff(attempt), why, method, resource, attempt,
                                max_attempts)
                continue
            assert response is not None
            if (
                response.status_code in RETRY_STATUSES
                and attempt < max_attempts
                and not is_disabled(response)
            ):
                why = f"{self.host} answered {response.status_code} to {method} {resource or '/api/'}"
                asked = self.retry_after_asked(response)
                if asked is None:
                    await self.wait(self.backoff(attempt), why, method, resource, attempt,
                                    max_attempts)
                elif asked > self.retry_after_cap:
                    await self.wait(self.retry_after_cap,
                                    f"{why} with Retry-After {secs(asked)}", method, resource,
                                    attempt, max_attempts, " (cap, option retry_after_cap)")
                else:
                    await self.wait(asked, f"{why} with Retry-After {secs(asked)}", method,
                                    resource, attempt, max_attempts)
                continue
            return response

    async def _exchange(self, method: str, url: str, resource: str, budget: float,
                        **kwargs: Any) -> httpx.Response:
        """One HTTP exchange, its body streamed and read whole within ``budget`` seconds of
        wall clock (raises ``_Deadline``) and ``max_response_bytes``."""
        try:
            async with asyncio.timeout(budget) as deadline:
                async with self.http.stream(method, url, **kwargs) as response:
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
            raise self.diagnosis.too_large(method, resource, limit, int(announced))
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                chunks.clear()  # the traceback keeps this frame: keep no part of the body
                del chunk
                raise self.diagnosis.too_large(method, resource, limit)
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
        return self.diagnosis.scrub(target)
