"""Fault injection for the emulator (hosting-layer failures and real-shop misbehaviour).

A :class:`Fault` matches requests on ``/api/`` by method and resource and fires at most ``count``
times (``None`` = forever), with probability ``rate`` (seeded RNG of the :class:`FaultSet`).

Kinds:

* ``latency``   — ``await asyncio.sleep(seconds)`` then answer normally (does not consume the
  request: other faults still apply);
* ``status``    — answer ``status`` (500/502/503/504...) with ``body`` (default: the hosting
  layer's HTML error page, or PrestaShop's empty 500 for status 500);
* ``rate_limit``— 429 with ``Retry-After: retry_after``;
* ``timeout``   — hold the response ``seconds`` (default 30) then answer normally; released
  early when the server stops;
* ``hold``      — hold the response until the fault is removed (``FaultSet.remove`` /
  ``clear``, or ``DELETE /_emulator/faults``) or the server stops, then answer normally; a
  test awaits ``fault.reached`` to know a request is held (a run is then surely under way);
* ``truncate``  — the real response body cut to half its length (headers unchanged);
* ``malformed`` — a 200 with a broken body (``<prestashop><orders><order id=`` / ``{"orders":[{``);
* ``maintenance`` — 503 with PrestaShop's HTML maintenance page;
* ``redirect``  — 302 to ``location`` (default ``http://other-host.invalid/api/...``);
* ``code46``    — for ``POST order_histories``: perform the state change, then answer
  500 ``{"errors":[{"code":46,"message":"Unable to save resource"}]}`` (real 1.6 behaviour when
  mail sending fails).

Hostile answers (bounds on what a client reads; each streamed, never built whole in memory):

* ``retry_after`` — answer ``status`` (503, or 429...) with ``Retry-After: retry_after`` seconds
  (86400 asks for a day) and the hosting layer's HTML page; the shop does nothing;
* ``huge_body`` — a 200 with a well-formed JSON/XML body of ``size`` bytes (default 200 MB),
  generated as it is sent (mostly whitespace), without ``Content-Length`` unless
  ``length_header``; the shop does nothing;
* ``oversized_page`` — the shop's real list answer stretched to ``entries`` entries (default
  204,801, whatever ``limit`` asked for): the real ones, then copies with new ids;
* ``duplicate`` — the shop's real list answer with its first entry repeated at the end;
* ``slow_drip`` — the shop's real answer sent ``chunk`` bytes (default 1) every ``interval``
  seconds (default 2), which keeps a per-read timeout happy for ever.

The first two replace the answer (:meth:`Fault.early_response`), the last three reshape the
shop's own (:meth:`Fault.shape`); all stop early when the server stops.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

KINDS = frozenset({"latency", "status", "rate_limit", "timeout", "hold", "truncate", "malformed",
                   "maintenance", "redirect", "code46", "retry_after", "huge_body",
                   "oversized_page", "duplicate", "slow_drip"})
EARLY_KINDS = frozenset({"retry_after", "huge_body"})
SHAPING_KINDS = frozenset({"oversized_page", "duplicate", "slow_drip"})
XLINK = "http://www.w3.org/1999/xlink"
BLOCK = 64 * 1024


@dataclass
class Fault:
    kind: str
    resource: str | None = None  # None = any (use "" for the /api/ root)
    method: str | None = None  # None = any
    count: int | None = None  # remaining firings, None = unlimited
    rate: float = 1.0
    seconds: float = 0.0
    status: int = 503
    retry_after: int = 1
    location: str | None = None
    body: str | None = None
    size: int = 200 * 1024 * 1024  # huge_body: bytes
    length_header: bool = False  # huge_body: announce the size in Content-Length
    entries: int = 204_801  # oversized_page: entries in the answer
    interval: float = 2.0  # slow_drip: seconds between chunks
    chunk: int = 1  # slow_drip: bytes per chunk
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(KINDS)}")
        if self.method:
            self.method = self.method.upper()
        # "hold": set when a request is held, and when the fault is removed (not fields:
        # they are not part of what the side channel shows)
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    async def hold(self, stop: asyncio.Event | None) -> None:
        """Hold a request until this fault is removed or the server stops."""
        self.reached.set()
        waits = [asyncio.ensure_future(self.released.wait())]
        if stop is not None:
            waits.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    def matches(self, method: str, resource: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.resource is None or self.resource == resource

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # -- hostile answers (kinds defined here; the app calls these two hooks) ----------
    def early_response(self, request: Request, resource: str,
                       stop: asyncio.Event | None = None) -> Response | None:
        """The answer that replaces the shop's for the kinds in ``EARLY_KINDS``, else None."""
        if self.kind == "retry_after":
            reason = REASONS.get(self.status, "Error")
            return Response(GATEWAY_HTML.format(status=self.status, reason=reason).encode(),
                            self.status, headers={"Retry-After": str(self.retry_after),
                                                  "Content-Type": "text/html; charset=utf-8"})
        if self.kind == "huge_body":
            as_json = _wants_json(request)
            name = (resource or "orders").encode()
            if as_json:
                head, tail = b'{"' + name + b'":[', b"]}"
            else:
                head = (b'<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="'
                        + XLINK.encode() + b'">\n<' + name + b">")
                tail = b"</" + name + b">\n</prestashop>\n"
            size = max(self.size, len(head) + len(tail))
            headers = {"Content-Type": "application/json" if as_json else "text/xml;charset=utf-8"}
            if self.length_header:
                headers["Content-Length"] = str(size)
            return StreamingResponse(_padded(head, tail, size, stop), 200, headers=headers)
        return None

    def shape(self, response: Response, stop: asyncio.Event | None = None) -> Response:
        """The shop's own answer reshaped for the kinds in ``SHAPING_KINDS``; else as is."""
        if self.kind not in SHAPING_KINDS or not getattr(response, "body", b""):
            return response
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-sha1")}
        if self.kind == "slow_drip":
            headers["Content-Length"] = str(len(response.body))
            return StreamingResponse(_drip(bytes(response.body), max(1, self.chunk), self.interval, stop),
                                     response.status_code, headers=headers)
        listing = _relist(bytes(response.body), self.kind, self.entries)
        if listing is None:
            return response
        return StreamingResponse(listing, response.status_code, headers=headers)


@dataclass
class FaultSet:
    seed: int = 0
    faults: list[Fault] = field(default_factory=list)
    _next: int = 1

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def add(self, fault: Fault | None = None, **kw: Any) -> Fault:
        f = fault or Fault(**kw)
        f.id = self._next
        self._next += 1
        self.faults.append(f)
        return f

    def clear(self) -> None:
        for f in self.faults:
            f.released.set()
        self.faults.clear()

    def remove(self, fault_id: int) -> bool:
        gone = [f for f in self.faults if f.id == fault_id]
        for f in gone:
            f.released.set()
        self.faults = [f for f in self.faults if f.id != fault_id]
        return bool(gone)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def pick(self, method: str, resource: str) -> tuple[float, Fault | None]:
        """Total latency to inject and the first non-latency fault that fires (consumed)."""
        latency = 0.0
        chosen: Fault | None = None
        for f in self.faults:
            if not f.matches(method, resource):
                continue
            if f.rate < 1.0 and self.rng.random() >= f.rate:
                continue
            if f.kind == "latency":
                latency += f.seconds
                self._consume(f)
            elif chosen is None:
                chosen = f
                self._consume(f)
        return latency, chosen

    @staticmethod
    def _consume(f: Fault) -> None:
        f.fired += 1
        if f.count is not None:
            f.count -= 1


MAINTENANCE_HTML = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Maintenance mode</title>
</head>
<body id="maintenance">
  <section id="wrapper"><div class="container">
    <h1>We are currently updating our shop and will be back really soon.</h1>
    <p>Thanks for your patience.</p>
  </div></section>
</body>
</html>
"""

GATEWAY_HTML = """<html>
<head><title>{status} {reason}</title></head>
<body>
<center><h1>{status} {reason}</h1></center>
<hr><center>nginx</center>
</body>
</html>
"""

REASONS = {429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def _wants_json(request: Request) -> bool:
    q = request.query_params
    return (request.headers.get("io-format") or request.headers.get("output-format")
            or q.get("output_format") or q.get("io_format")) == "JSON"


async def _pause(seconds: float, stop: asyncio.Event | None) -> bool:
    """Sleep; True when the server stops meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _padded(head: bytes, tail: bytes, size: int,
                  stop: asyncio.Event | None) -> AsyncIterator[bytes]:
    """``head``, whitespace, ``tail``: exactly ``size`` bytes, one reused block at a time."""
    yield head
    left = size - len(head) - len(tail)
    block = b" " * BLOCK
    while left > 0:
        if stop is not None and stop.is_set():
            return
        part = block if left >= BLOCK else block[:left]
        left -= len(part)
        yield part
        await asyncio.sleep(0)  # let the server notice a client that went away
    yield tail


async def _drip(body: bytes, chunk: int, interval: float,
                stop: asyncio.Event | None) -> AsyncIterator[bytes]:
    for i in range(0, len(body), chunk):
        yield body[i:i + chunk]
        if i + chunk < len(body) and await _pause(interval, stop):
            return


def _relist(body: bytes, kind: str, entries: int) -> AsyncIterator[bytes] | None:
    """The list in ``body`` with ``entries`` entries (copies renumbered after the highest id)
    for ``oversized_page``, or its first entry repeated for ``duplicate``; None when the body
    holds no list to stretch."""
    text = body.lstrip()
    if text.startswith(b"{"):
        try:
            data = json.loads(body)
        except ValueError:
            return None
        name = next((k for k, v in data.items() if isinstance(v, list) and v), None) \
            if isinstance(data, dict) else None
        if name is None:
            return None
        items = data[name]
        head, sep, tail = b'{"' + name.encode() + b'":[', b",", b"]}"

        def render(item: Any, new_id: int | None) -> bytes:
            if new_id is not None and isinstance(item, dict):
                item = {**item, "id": new_id}
            return json.dumps(item, ensure_ascii=False).encode()
    else:
        try:
            root = SafeET.fromstring(body)
        except (ET.ParseError, ValueError):  # not XML (defusedxml refusals are ValueErrors)
            return None
        container = root[0] if len(root) else None
        if container is None or not len(container):
            return None
        items = list(container)
        ET.register_namespace("xlink", XLINK)
        head = (b'<?xml version="1.0" encoding="UTF-8"?>\n<prestashop xmlns:xlink="'
                + XLINK.encode() + b'">\n<' + container.tag.encode() + b">\n")
        sep, tail = b"\n", b"\n</" + container.tag.encode() + b">\n</prestashop>\n"

        def render(item: Any, new_id: int | None) -> bytes:
            if new_id is not None:
                item = copy.deepcopy(item)
                if item.get("id") is not None:
                    item.set("id", str(new_id))
                node = item.find("id")
                if node is not None:
                    node.text = str(new_id)
            return ET.tostring(item, encoding="unicode").encode()

    def top_id() -> int:
        ids = []
        for item in items:
            raw = item.get("id") if isinstance(item, dict) else (
                item.get("id") or item.findtext("id"))
            try:
                ids.append(int(str(raw).strip()))
            except ValueError:
                continue
        return max(ids, default=0)

    total = len(items) + 1 if kind == "duplicate" else max(entries, 0)
    top = top_id()

    async def stream() -> AsyncIterator[bytes]:
        yield head
        buf: list[bytes] = []
        size = 0
        for n in range(total):
            item = items[n % len(items)]
            new_id = None if n < len(items) or kind == "duplicate" else top + n - len(items) + 1
            part = (sep if n else b"") + render(item, new_id)
            buf.append(part)
            size += len(part)
            if size >= BLOCK:
                yield b"".join(buf)
                buf, size = [], 0
                await asyncio.sleep(0)
        yield b"".join(buf) + tail

    return stream()
