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
* ``truncate``  — the real response body cut to half its length (headers unchanged);
* ``malformed`` — a 200 with a broken body (``<prestashop><orders><order id=`` / ``{"orders":[{``);
* ``maintenance`` — 503 with PrestaShop's HTML maintenance page;
* ``redirect``  — 302 to ``location`` (default ``http://other-host.invalid/api/...``);
* ``code46``    — for ``POST order_histories``: perform the state change, then answer
  500 ``{"errors":[{"code":46,"message":"Unable to save resource"}]}`` (real 1.6 behaviour when
  mail sending fails).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = frozenset({"latency", "status", "rate_limit", "timeout", "truncate", "malformed",
                   "maintenance", "redirect", "code46"})


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
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(KINDS)}")
        if self.method:
            self.method = self.method.upper()

    def matches(self, method: str, resource: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.resource is None or self.resource == resource

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        self.faults.clear()

    def remove(self, fault_id: int) -> bool:
        n = len(self.faults)
        self.faults = [f for f in self.faults if f.id != fault_id]
        return len(self.faults) != n

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
