"""Tryton's JSON-RPC: the codec of its typed values and a session client over httpx.

``enc`` / ``dec`` turn Decimal, date and datetime into Tryton's ``{"__class__": ...}``
objects and back (datetimes in UTC). ``TrytonRpc`` logs in once (``common.db.login``),
sends the session with every call and logs in again when the session expires; an error
Tryton answers is a ``TrytonRpcError``, an unreachable server or a refused login an
``ErpError`` with a hint. It knows nothing of Sincro's documents: the connector
(core/erp/tryton.py) maps them onto Tryton's models (docs/ARCHITECTURE.md).
The password is kept only in memory and never appears in errors or reprs.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import httpx

from core.erp.port import ErpError


class Login(Protocol):
    """Where and as whom a session logs in (``TrytonSettings`` is one); the password
    itself is passed apart, and only the name of its environment variable is here."""

    @property
    def url(self) -> str: ...

    @property
    def db(self) -> str: ...

    @property
    def user(self) -> str: ...

    @property
    def password_env(self) -> str: ...


def enc(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, datetime):
        v = value.astimezone(UTC) if value.tzinfo else value
        return {"__class__": "datetime", "year": v.year, "month": v.month, "day": v.day,
                "hour": v.hour, "minute": v.minute, "second": v.second,
                "microsecond": v.microsecond}
    if isinstance(value, date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, dict):
        return {k: enc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [enc(v) for v in value]
    return value


def dec(value: Any) -> Any:
    if isinstance(value, dict):
        cls = value.get("__class__")
        if cls == "Decimal":
            return Decimal(value["decimal"])
        if cls == "date":
            return date(value["year"], value["month"], value["day"])
        if cls == "datetime":
            return datetime(value["year"], value["month"], value["day"], value.get("hour", 0),
                            value.get("minute", 0), value.get("second", 0),
                            value.get("microsecond", 0), tzinfo=UTC)
        return {k: dec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dec(v) for v in value]
    return value


class TrytonRpcError(ErpError):
    """Tryton answered with an error (UserError, AccessError, ...)."""

    def __init__(self, kind: str, message: str, **kw: Any) -> None:
        super().__init__(f"Tryton {kind}: {message}", **kw)
        self.kind = kind
        self.tryton_message = message


class TrytonRpc:
    """A JSON-RPC session: log in once, again when the session expires."""

    def __init__(self, settings: Login, password: str, *, timeout: float = 300) -> None:
        self.settings = settings
        self._password = password
        self._http = httpx.AsyncClient(timeout=timeout)
        self._id = 0
        self._auth: str | None = None
        self._login_lock = asyncio.Lock()
        self.context: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"TrytonRpc({self.settings.url!r}, db={self.settings.db!r})"

    @property
    def db_url(self) -> str:
        return f"{self.settings.url.rstrip('/')}/{self.settings.db}/rpc/"

    async def close(self) -> None:
        await self._http.aclose()

    async def _post(self, url: str, method: str, params: list, auth: bool) -> Any:
        self._id += 1
        headers = {"Authorization": self._auth} if auth and self._auth else {}
        try:
            r = await self._http.post(url, json={"id": self._id, "method": method,
                                                 "params": enc(params)}, headers=headers)
        except httpx.HTTPError as exc:
            raise ErpError(f"cannot reach Tryton at {self.settings.url}: "
                           f"{type(exc).__name__}",
                           hint="is the server running? check the URL with: sincro erp check"
                           ) from None
        if r.status_code == 401:
            raise _Unauthorized()
        if r.status_code == 403:
            raise ErpError(f"Tryton refused {method} (HTTP 403: not allowed)")
        if r.status_code != 200:
            raise ErpError(f"Tryton answered HTTP {r.status_code} to {method}")
        body = r.json()
        if body.get("error"):
            err = body["error"]
            kind, msg = (err[0], err[1]) if isinstance(err, list) and len(err) > 1 else ("error", err)
            if isinstance(msg, list):
                msg = msg[0] if msg else ""
            raise TrytonRpcError(str(kind), str(msg))
        return dec(body.get("result"))

    async def login(self) -> None:
        async with self._login_lock:
            try:
                res = await self._post(self.db_url, "common.db.login",
                                       [self.settings.user, {"password": self._password}, "en"],
                                       auth=False)
            except _Unauthorized:
                raise ErpError(f"Tryton login refused for user {self.settings.user!r} "
                               f"on database {self.settings.db!r}",
                               hint=f"check the user and the password in "
                               f"${self.settings.password_env}") from None
            uid, token = res[0], res[1]
            raw = f"{self.settings.user}:{uid}:{token}".encode()
            self._auth = "Session " + base64.b64encode(raw).decode()

    async def version(self) -> str:
        return await self._post(f"{self.settings.url.rstrip('/')}/rpc/",
                                "common.server.version", [], auth=False)

    async def call(self, method: str, *params: Any) -> Any:
        if self._auth is None:
            await self.login()
        try:
            return await self._post(self.db_url, method, list(params), auth=True)
        except _Unauthorized:
            await self.login()  # the session expired: once more
            try:
                return await self._post(self.db_url, method, list(params), auth=True)
            except _Unauthorized:
                raise ErpError(f"Tryton refused the session for {method}") from None

    async def model(self, model: str, method: str, *params: Any) -> Any:
        return await self.call(f"model.{model}.{method}", *params, self.context)

    async def search_read(self, model: str, domain: list, fields: list[str],
                          order: list | None = None, limit: int | None = None) -> list[dict]:
        return await self.model(model, "search_read", domain, 0, limit, order, fields)


class _Unauthorized(Exception):
    pass
