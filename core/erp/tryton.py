"""Tryton (trytond 8.0 LTS) as Sincro's ERP, over its JSON-RPC API with httpx.

Mapping:
- customer -> ``party.party``; the Sincro external reference is a party
  identifier (no type) ``sincro:<ref>``; e-mail and phone are contact
  mechanisms; VAT number / tax code are identifiers too. The customer code is
  the party's code.
- destination -> ``party.address`` of the party (same text -> same address);
  its code is the address id.
- article -> ``product.template`` + one ``product.product`` whose code is the
  Sincro article code; stock is the product's quantity (or forecast quantity)
  in the configured warehouse.
- order document -> ``sale.sale``: ``reference`` = the shop order reference,
  ``description`` = the external reference (the idempotency key); quoted and
  confirmed (or left as a quotation). Document number = the sale number.

Calls are batched (one create / read / button call for a whole list). One RPC
call is one Tryton transaction, so a bulk method is all or nothing per step.
The password is kept only in memory and never appears in errors or reprs.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from core.erp.port import (
    ArticleData,
    Capability,
    CustomerData,
    DestinationData,
    ErpArticle,
    ErpCustomer,
    ErpDestination,
    ErpDocument,
    ErpDocumentLine,
    ErpError,
    ErpNotFound,
    InsertResult,
    OrderDocumentData,
    Outcome,
    StateChange,
)
from core.errors import ConfigError

REF_PREFIX = "sincro:"
VAT_PREFIX = "VAT "
TAX_CODE_PREFIX = "CF "
DONE_STATES = ("confirmed", "processing", "done")


@dataclass(frozen=True)
class TrytonSettings:
    """What ``sincro erp use tryton`` stores (the password only as an env var name)."""

    url: str
    db: str
    user: str
    password_env: str
    confirm: bool = True  # False: leave sales as quotations
    stock: str = "quantity"  # or "forecast_quantity"
    warehouse: str | None = None  # stock.location code; None: the first warehouse
    account_category: str | None = None  # product.category name; None: first accounting one

    def to_json(self) -> dict[str, Any]:
        return {"kind": "tryton", "url": self.url, "db": self.db, "user": self.user,
                "password_env": self.password_env, "confirm": self.confirm,
                "stock": self.stock, "warehouse": self.warehouse,
                "account_category": self.account_category}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrytonSettings:
        return cls(url=data["url"], db=data["db"], user=data["user"],
                   password_env=data["password_env"], confirm=data.get("confirm", True),
                   stock=data.get("stock", "quantity"), warehouse=data.get("warehouse"),
                   account_category=data.get("account_category"))

    def password(self) -> str:
        pw = os.environ.get(self.password_env)
        if not pw:
            raise ConfigError(f"the environment variable {self.password_env} is not set",
                              hint=f"export {self.password_env}=... (the Tryton password)")
        return pw


# -- JSON-RPC encoding ------------------------------------------------------
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

    def __init__(self, settings: TrytonSettings, password: str, *,
                 timeout: float = 300) -> None:
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


def _q4(value: Decimal) -> Decimal:
    """Tryton's prices have 4 decimals and refuse more digits (even zeros)."""
    return Decimal(value).quantize(Decimal("0.0001"))


def _chunks(items: list, n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


# -- the connector ------------------------------------------------------------
class TrytonErp:
    """``ErpConnector`` over a Tryton server. Open with ``await TrytonErp.open(settings)``."""

    def __init__(self, settings: TrytonSettings, rpc: TrytonRpc) -> None:
        self.settings = settings
        self.rpc = rpc
        self._uom: int | None = None
        self._category: int | None = None
        self._warehouse: int | None = None
        self._countries: dict[str, int] = {}
        self._currencies: dict[str, int] = {}

    @classmethod
    async def open(cls, settings: TrytonSettings, password: str | None = None) -> TrytonErp:
        rpc = TrytonRpc(settings, password if password is not None else settings.password())
        try:
            await rpc.login()
            prefs = await rpc.call("model.res.user.get_preferences", True, {})
            company = prefs.get("company")
            if not company:
                raise ErpError("the Tryton user has no company",
                               hint="set up a company in Tryton and select it for the user")
            rpc.context = {"company": company, "language": prefs.get("language") or "en"}
        except BaseException:
            await rpc.close()
            raise
        return cls(settings, rpc)

    @property
    def name(self) -> str:
        return "tryton"

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.CUSTOMERS, Capability.DESTINATIONS, Capability.ARTICLES,
                          Capability.CREATE_ARTICLES, Capability.ORDERS,
                          Capability.STATE_CHANGES, Capability.STOCK_PRICE})

    async def close(self) -> None:
        await self.rpc.close()

    async def __aenter__(self) -> TrytonErp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- check ------------------------------------------------------------
    async def check(self) -> dict[str, Any]:
        version = await self.rpc.version()
        mods = await self.rpc.search_read("ir.module", [["state", "=", "activated"]], ["name"])
        names = sorted(m["name"] for m in mods)
        return {"version": version, "modules": names, "company": self.rpc.context["company"]}

    # -- customers ----------------------------------------------------------
    _PARTY_FIELDS = ["code", "name", "identifiers", "contact_mechanisms"]

    async def _parties(self, domain: list) -> list[dict]:
        parties = await self.rpc.search_read("party.party", domain, self._PARTY_FIELDS,
                                             order=[["id", "ASC"]])
        ident_ids = [i for p in parties for i in p["identifiers"]]
        mech_ids = [i for p in parties for i in p["contact_mechanisms"]]
        idents = {r["id"]: r for r in await self._read("party.identifier", ident_ids,
                                                       ["type", "code"])}
        mechs = {r["id"]: r for r in await self._read("party.contact_mechanism", mech_ids,
                                                      ["type", "value"])}
        for p in parties:
            p["_idents"] = [idents[i] for i in p["identifiers"] if i in idents]
            p["_mechs"] = [mechs[i] for i in p["contact_mechanisms"] if i in mechs]
        return parties

    async def _read(self, model: str, ids: list[int], fields: list[str]) -> list[dict]:
        out: list[dict] = []
        for chunk in _chunks(list(dict.fromkeys(ids))):
            out.extend(await self.rpc.model(model, "read", chunk, fields))
        return out

    @staticmethod
    def _customer(p: dict, outcome: Outcome | None = None) -> ErpCustomer:
        def ident(prefix: str) -> str | None:
            for i in p["_idents"]:
                if not i["type"] and (i["code"] or "").startswith(prefix):
                    return i["code"][len(prefix):]
            return None

        def mech(kind: str) -> str | None:
            return next((m["value"] for m in p["_mechs"] if m["type"] == kind), None)

        return ErpCustomer(code=p["code"], name=p["name"], company=None,
                           vat_number=ident(VAT_PREFIX), tax_code=ident(TAX_CODE_PREFIX),
                           email=mech("email"), phone=mech("phone"),
                           external_ref=ident(REF_PREFIX), outcome=outcome)

    async def find_customer(self, external_ref: str) -> ErpCustomer | None:
        found = await self._parties([["identifiers.code", "=", REF_PREFIX + external_ref]])
        return self._customer(found[0]) if found else None

    async def find_customer_by_email(self, email: str) -> ErpCustomer | None:
        found = await self._parties([["contact_mechanisms", "where", [
            ["type", "=", "email"], ["value", "ilike", email.replace("%", "\\%")]]]])
        return self._customer(found[0]) if found else None

    async def get_customer(self, code: str) -> ErpCustomer:
        found = await self._parties([["code", "=", code]])
        if not found:
            raise ErpNotFound(f"no party with code {code!r} in Tryton")
        return self._customer(found[0])

    async def upsert_customer(self, data: CustomerData) -> ErpCustomer:
        return (await self.upsert_customers([data]))[0]

    @staticmethod
    def _wanted_idents(d: CustomerData) -> list[str]:
        out = [REF_PREFIX + d.external_ref]
        if d.vat_number:
            out.append(VAT_PREFIX + d.vat_number)
        if d.tax_code:
            out.append(TAX_CODE_PREFIX + d.tax_code)
        return out

    @staticmethod
    def _wanted_mechs(d: CustomerData) -> list[tuple[str, str]]:
        out = []
        if d.email:
            out.append(("email", d.email))
        if d.phone:
            out.append(("phone", d.phone))
        return out

    async def upsert_customers(self, data: Sequence[CustomerData]) -> list[ErpCustomer]:
        items = list(data)
        if not items:
            return []
        refs = list(dict.fromkeys(d.external_ref for d in items))
        current: dict[str, dict] = {}
        for chunk in _chunks([REF_PREFIX + r for r in refs]):
            for p in await self._parties([["identifiers.code", "in", chunk]]):
                c = self._customer(p)
                if c.external_ref is not None:
                    current.setdefault(c.external_ref, p)
        last: dict[str, CustomerData] = {d.external_ref: d for d in items}
        new = [last[r] for r in refs if r not in current]
        outcomes: dict[str, Outcome] = {}
        writes: list[Any] = []
        for ref, p in current.items():
            d = last[ref]
            idents = {i["code"] for i in p["_idents"] if not i["type"]}
            mechs = {(m["type"], m["value"]) for m in p["_mechs"] if m["type"] in ("email", "phone")}
            if (p["name"] == self._party_name(d) and idents == set(self._wanted_idents(d))
                    and mechs == set(self._wanted_mechs(d))):
                outcomes[ref] = "unchanged"
                continue
            outcomes[ref] = "updated"
            old_idents = [i["id"] for i in p["_idents"] if not i["type"]]
            old_mechs = [m["id"] for m in p["_mechs"] if m["type"] in ("email", "phone")]
            writes += [[p["id"]], {
                "name": self._party_name(d),
                "identifiers": [["delete", old_idents], ["create", [
                    {"code": c} for c in self._wanted_idents(d)]]],
                "contact_mechanisms": [["delete", old_mechs], ["create", [
                    {"type": t, "value": v} for t, v in self._wanted_mechs(d)]]]}]
        try:
            if writes:
                await self.rpc.model("party.party", "write", *writes)
        except TrytonRpcError as exc:
            raise ErpError(f"Tryton refused the customers: {exc.tryton_message}",
                           external_ref=items[0].external_ref if len(items) == 1 else None
                           ) from None
        values = [{
            "name": self._party_name(d),
            "identifiers": [["create", [{"code": c} for c in self._wanted_idents(d)]]],
            "contact_mechanisms": [["create", [
                {"type": t, "value": v} for t, v in self._wanted_mechs(d)]]],
        } for d in new]
        await self._create("party.party", values, [d.external_ref for d in new], "customer")
        for d in new:
            outcomes[d.external_ref] = "created"
        parties: dict[str, dict] = {}
        for chunk in _chunks([REF_PREFIX + r for r in refs]):
            for p in await self._parties([["identifiers.code", "in", chunk]]):
                c = self._customer(p)
                if c.external_ref is not None:
                    parties.setdefault(c.external_ref, p)
        results = []
        seen: set[str] = set()
        for d in items:
            outcome = outcomes[d.external_ref] if d.external_ref not in seen else "unchanged"
            seen.add(d.external_ref)
            results.append(self._customer(parties[d.external_ref], outcome))
        return results

    @staticmethod
    def _party_name(d: CustomerData) -> str:
        return d.name or d.company or d.external_ref

    async def _create(self, model: str, values: list[dict], refs: list[str | None],
                      what: str) -> list[int]:
        """Create all in one call; when Tryton refuses, one at a time to name the one at
        fault (the ones before it are created: a rerun finds them)."""
        if not values:
            return []
        try:
            return await self.rpc.model(model, "create", values)
        except TrytonRpcError as exc:
            if len(values) == 1:
                raise ErpError(f"Tryton refused the {what}: {exc.tryton_message}",
                               external_ref=refs[0]) from None
        ids: list[int] = []
        for v, ref in zip(values, refs, strict=True):
            ids += await self._create(model, [v], [ref], what)
        return ids

    # -- destinations ---------------------------------------------------------
    async def _country(self, code: str) -> int:
        code = code.upper()
        if code not in self._countries:
            found = await self.rpc.search_read("country.country", [["code", "=", code]], ["id"])
            if found:
                self._countries[code] = found[0]["id"]
            else:
                [cid] = await self.rpc.model("country.country", "create",
                                             [{"name": code, "code": code}])
                self._countries[code] = cid
        return self._countries[code]

    @staticmethod
    def _street(d: DestinationData) -> str:
        return "\n".join(x for x in (d.address1, d.address2) if x)

    _ADDR_FIELDS = ["party", "party.code", "party_name", "street_unstructured", "postal_code",
                    "city", "country", "country.code"]

    @staticmethod
    def _address_key(a: dict) -> tuple:
        return (a["party_name"] or "", (a["street_unstructured"] or "").strip(),
                a["postal_code"] or "", a["city"] or "", (a.get("country.") or {}).get("code", ""))

    def _dest_key(self, d: DestinationData) -> tuple:
        name = d.name if not d.company else f"{d.company} - {d.name}"
        return (name, self._street(d), d.postcode or "", d.city, d.country.upper())

    @staticmethod
    def _destination(a: dict, customer_code: str, d: DestinationData | None,
                     outcome: Outcome | None) -> ErpDestination:
        street = (a["street_unstructured"] or "").split("\n")
        return ErpDestination(
            code=str(a["id"]), customer_code=customer_code,
            name=d.name if d else (a["party_name"] or ""), address1=street[0],
            city=a["city"] or "", country=(a.get("country.") or {}).get("code", ""),
            company=d.company if d else None,
            address2="\n".join(street[1:]) or None, postcode=a["postal_code"],
            province=d.province if d else None, phone=d.phone if d else None,
            external_ref=d.external_ref if d else None, outcome=outcome)

    async def upsert_destination(self, customer_code: str, data: DestinationData) -> ErpDestination:
        return (await self.upsert_destinations([(customer_code, data)]))[0]

    async def upsert_destinations(
        self, items: Sequence[tuple[str, DestinationData]]
    ) -> list[ErpDestination]:
        if not items:
            return []
        codes = list(dict.fromkeys(c for c, _ in items))
        parties = {p["code"]: p["id"] for p in await self.rpc.search_read(
            "party.party", [["code", "in", codes]], ["code"])}
        for c, d in items:
            if c not in parties:
                raise ErpNotFound(f"no customer {c!r} in Tryton for the destination",
                                  external_ref=d.external_ref)
        existing: dict[tuple, dict] = {}
        for a in await self.rpc.search_read("party.address",
                                            [["party", "in", list(parties.values())]],
                                            self._ADDR_FIELDS, order=[["id", "ASC"]]):
            existing.setdefault((a["party"],) + self._address_key(a), a)
        todo: dict[tuple, dict] = {}
        for c, d in items:
            key = (parties[c],) + self._dest_key(d)
            if key not in existing and key not in todo:
                todo[key] = {"party": parties[c], "party_name": key[1],
                             "street_unstructured": key[2], "postal_code": d.postcode or None,
                             "city": d.city, "country": await self._country(d.country)}
        created: set[tuple] = set()
        if todo:
            keys = list(todo)
            ref_of = {(parties[c],) + self._dest_key(d): d.external_ref for c, d in items}
            ids = await self._create("party.address", [todo[k] for k in keys],
                                     [ref_of.get(k) for k in keys], "address")
            for a in await self._read("party.address", ids, self._ADDR_FIELDS):
                existing[(a["party"],) + self._address_key(a)] = a
            created = set(keys)
        results = []
        for c, d in items:
            key = (parties[c],) + self._dest_key(d)
            outcome: Outcome = "created" if key in created else "unchanged"
            created.discard(key)
            results.append(self._destination(existing[key], c, d, outcome))
        return results

    # -- articles ------------------------------------------------------------------
    async def _unit(self) -> int:
        if self._uom is None:
            found = await self.rpc.search_read("product.uom", [["symbol", "=", "u"]], ["id"])
            if not found:
                raise ErpError("Tryton has no unit of measure 'u'")
            self._uom = found[0]["id"]
        return self._uom

    async def _account_category(self) -> int:
        if self._category is None:
            name = self.settings.account_category
            domain = [["accounting", "=", True]] + ([["name", "=", name]] if name else [])
            found = await self.rpc.search_read("product.category", domain, ["id"],
                                               order=[["id", "ASC"]], limit=1)
            if not found:
                raise ErpError(
                    f"no account category {name!r} in Tryton" if name
                    else "no account category (product.category with accounting) in Tryton",
                    hint="create one in Tryton, or name it with: sincro erp use tryton "
                    "... --account-category NAME")
            self._category = found[0]["id"]
        return self._category

    async def warehouse(self) -> int:
        if self._warehouse is None:
            domain = [["type", "=", "warehouse"]]
            if self.settings.warehouse:
                domain.append(["code", "=", self.settings.warehouse])
            found = await self.rpc.search_read("stock.location", domain, ["id"],
                                               order=[["id", "ASC"]], limit=1)
            if not found:
                raise ErpError(f"no warehouse {self.settings.warehouse or ''} in Tryton".strip())
            self._warehouse = found[0]["id"]
        return self._warehouse

    async def _products(self, domain: list) -> list[dict]:
        fields = ["code", "name", "list_price_used", "active", "default_uom",
                  self.settings.stock]
        ctx = dict(self.rpc.context, locations=[await self.warehouse()],
                   stock_date_end=enc(date.today()))
        return await self.rpc.call("model.product.product.search_read", domain, 0, None,
                                   [["code", "ASC"]], fields, ctx)

    def _article(self, p: dict, outcome: Outcome | None = None) -> ErpArticle:
        qty = p.get(self.settings.stock) or 0
        return ErpArticle(code=p["code"], description=p["name"],
                          price=Decimal(p["list_price_used"] or 0), vat_rate=Decimal("0"),
                          stock=int(qty), active=bool(p["active"]), outcome=outcome)

    async def find_articles(self, codes: Sequence[str]) -> dict[str, ErpArticle]:
        out: dict[str, ErpArticle] = {}
        for chunk in _chunks(list(dict.fromkeys(codes))):
            for p in await self._products([["code", "in", chunk]]):
                out.setdefault(p["code"], self._article(p))
        return out

    articles_stock_price = find_articles

    async def list_articles(self, pattern: str | None = None) -> list[ErpArticle]:
        domain: list = [["code", "!=", None]]
        if pattern is not None:
            like = pattern.replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            domain.append(["code", "like", like.replace("?", "_")])
        found = [self._article(p) for p in await self._products(domain)]
        if pattern is not None:
            found = [a for a in found if fnmatch.fnmatchcase(a.code, pattern)]
        return found

    async def create_article(self, data: ArticleData) -> ErpArticle:
        return (await self.create_articles([data]))[0]

    async def create_articles(self, data: Sequence[ArticleData]) -> list[ErpArticle]:
        items = list(data)
        existing = await self.find_articles([d.code for d in items])
        new = list({d.code: d for d in items if d.code not in existing}.values())
        if new:
            unit, category = await self._unit(), await self._account_category()
            try:
                await self.rpc.model("product.template", "create", [{
                    "name": d.description, "type": "goods", "default_uom": unit,
                    "salable": True, "sale_uom": unit, "list_price": _q4(d.price),
                    "account_category": category, "active": d.active,
                    "products": [["create", [{"suffix_code": d.code, "active": d.active}]]],
                } for d in new])
            except TrytonRpcError as exc:
                raise ErpError(f"Tryton refused the articles: {exc.tryton_message}") from None
            existing.update(await self.find_articles([d.code for d in new]))
        made = {d.code for d in new}
        results = []
        for d in items:
            a = existing[d.code]
            outcome: Outcome = "created" if d.code in made else "unchanged"
            made.discard(d.code)
            results.append(ErpArticle(a.code, a.description, a.price, d.vat_rate
                                      if outcome == "created" else a.vat_rate, a.stock,
                                      a.active, outcome))
        return results

    # -- documents --------------------------------------------------------------
    _SALE_FIELDS = ["number", "description", "reference", "sale_date", "party", "party.code",
                    "shipment_address", "invoice_address", "currency.code", "state",
                    "shipment_state", "invoice_state", "untaxed_amount", "total_amount",
                    "lines", "shipments", "invoices", "write_date", "create_date"]

    async def _sales(self, domain: list) -> list[dict]:
        return await self.rpc.search_read("sale.sale", domain, self._SALE_FIELDS,
                                          order=[["id", "ASC"]])

    def _document(self, s: dict, lines: list[dict] | None = None) -> ErpDocument:
        state = "cancelled" if s["state"] == "cancelled" else (
            "invoiced" if s["invoice_state"] in ("awaiting payment", "paid") else
            "shipped" if s["shipment_state"] == "sent" else "open")
        doc_lines = tuple(
            ErpDocumentLine(kind=("article" if ln.get("product") else
                                  "discount" if (ln["unit_price"] or 0) < 0 else "shipping"),
                            article_code=(ln.get("product.") or {}).get("code"),
                            description=ln["description"] or "", quantity=int(ln["quantity"] or 0),
                            unit_price=Decimal(ln["unit_price"] or 0),
                            unit_price_tax_incl=Decimal(ln["unit_price"] or 0),
                            vat_rate=Decimal("0"), discount_pct=Decimal("0"))
            for ln in (lines or []) if ln["type"] == "line")
        return ErpDocument(
            number=s["number"] or f"({s['id']})", external_ref=s["description"] or None,
            date=s["sale_date"] or date.today(),
            customer_code=(s.get("party.") or {}).get("code", ""),
            destination_code=str(s["shipment_address"]) if s["shipment_address"] else None,
            invoice_destination_code=str(s["invoice_address"]) if s["invoice_address"] else None,
            currency=(s.get("currency.") or {}).get("code", ""), payment=None, carrier=None,
            shop_reference=s["reference"], total_tax_excl=Decimal(s["untaxed_amount"] or 0),
            total_tax_incl=Decimal(s["total_amount"] or 0), state=state, lines=doc_lines)

    async def _lines(self, sales: list[dict]) -> dict[int, list[dict]]:
        ids = [i for s in sales for i in s["lines"]]
        rows = await self._read("sale.line", ids, ["sale", "type", "product", "product.code",
                                                   "description", "quantity", "unit_price"])
        out: dict[int, list[dict]] = {}
        for r in sorted(rows, key=lambda r: r["id"]):
            out.setdefault(r["sale"], []).append(r)
        return out

    async def find_document(self, external_ref: str) -> ErpDocument | None:
        found = await self._sales([["description", "=", external_ref]])
        if not found:
            return None
        return self._document(found[0], (await self._lines(found[:1])).get(found[0]["id"]))

    async def get_document(self, number: str) -> ErpDocument:
        found = await self._sales([["number", "=", number]])
        if not found:
            raise ErpNotFound(f"no sale {number!r} in Tryton")
        return self._document(found[0], (await self._lines(found[:1])).get(found[0]["id"]))

    async def insert_order(self, doc: OrderDocumentData) -> InsertResult:
        return (await self.insert_orders([doc]))[0]

    async def _by_ref(self, refs: list[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for chunk in _chunks(refs):
            for s in await self._sales([["description", "in", chunk]]):
                out.setdefault(s["description"], s)
        return out

    async def _sale_values(self, d: OrderDocumentData, parties: dict[str, int],
                           products: dict[str, dict], unit: int) -> dict:
        if d.customer_code not in parties:
            raise ErpNotFound(f"no customer {d.customer_code!r} in Tryton",
                              external_ref=d.external_ref)
        ship = int(d.destination_code) if d.destination_code else None
        inv = int(d.invoice_destination_code) if d.invoice_destination_code else ship
        ship = ship or inv
        if not inv:
            raise ErpError("the order has no address (Tryton needs one to quote the sale)",
                           external_ref=d.external_ref)
        lines = []
        for ln in d.lines:
            price = ln.unit_price
            if ln.discount_pct:
                price = price * (Decimal(100) - ln.discount_pct) / Decimal(100)
            price = _q4(price)
            if ln.article_code:
                p = products.get(ln.article_code)
                if p is None:
                    raise ErpNotFound(f"no article {ln.article_code!r} in Tryton",
                                      external_ref=d.external_ref)
                lines.append({"type": "line", "product": p["id"], "quantity": ln.quantity,
                              "unit": p["default_uom"] or unit, "unit_price": price,
                              "description": ln.description})
            else:
                lines.append({"type": "line", "quantity": ln.quantity, "unit_price": price,
                              "description": ln.description})
        if d.shipping and d.shipping.amount_tax_excl:
            lines.append({"type": "line", "quantity": 1, "description": d.shipping.description,
                          "unit_price": _q4(d.shipping.amount_tax_excl)})
        for disc in d.discounts:
            lines.append({"type": "line", "quantity": 1, "description": disc.description,
                          "unit_price": -_q4(disc.amount_tax_excl)})
        values = {"party": parties[d.customer_code], "invoice_address": inv,
                  "shipment_address": ship, "sale_date": d.date, "reference": d.shop_reference,
                  "description": d.external_ref, "lines": [["create", lines]]}
        if d.currency:
            if d.currency not in self._currencies:
                found = await self.rpc.search_read("currency.currency",
                                                   [["code", "=", d.currency]], ["id"])
                if not found:
                    raise ErpError(f"no currency {d.currency} in Tryton",
                                   external_ref=d.external_ref)
                self._currencies[d.currency] = found[0]["id"]
            values["currency"] = self._currencies[d.currency]
        return values

    async def insert_orders(self, docs: Sequence[OrderDocumentData]) -> list[InsertResult]:
        """Create the sales not there yet (one call), quote and confirm them (one call
        each), read them back. A sale found in draft/quotation is taken further; a sale
        whose queued processing failed is reported as an ErpError naming it."""
        items = list(docs)
        if not items:
            return []
        refs = list(dict.fromkeys(d.external_ref for d in items))
        first = {d.external_ref: d for d in reversed(items)}
        sales = await self._by_ref(refs)
        new = [first[r] for r in refs if r not in sales]
        advanced: set[str] = set()
        if new:
            codes = list({ln.article_code for d in new for ln in d.lines if ln.article_code})
            products = {p["code"]: p for p in await self.rpc.search_read(
                "product.product", [["code", "in", codes]], ["code", "default_uom"])}
            parties = {p["code"]: p["id"] for p in await self.rpc.search_read(
                "party.party", [["code", "in", list({d.customer_code for d in new})]],
                ["code"])}
            unit = await self._unit()
            values = [await self._sale_values(d, parties, products, unit) for d in new]
            try:
                await self.rpc.model("sale.sale", "create", values)
            except TrytonRpcError:
                await self._create_each(new, values)  # find the one at fault
            sales.update(await self._by_ref([d.external_ref for d in new]))
            advanced.update(d.external_ref for d in new)
        draft = [r for r in refs if sales[r]["state"] == "draft"]
        if draft:
            await self._button("quote", draft, sales)
            advanced.update(draft)
        if self.settings.confirm:
            todo = [r for r in refs if sales[r]["state"] in ("draft", "quotation")]
            if todo:
                await self._button("confirm", todo, sales)
                advanced.update(todo)
        sales = await self._by_ref(refs)
        if self.settings.confirm and await self._process_stuck(sales, refs):
            sales = await self._by_ref(refs)
        results, seen = [], set()
        for d in items:
            s = sales[d.external_ref]
            created = d.external_ref in advanced and d.external_ref not in seen
            seen.add(d.external_ref)
            results.append(InsertResult(self._document(s), created))
        return results

    async def _create_each(self, docs: list[OrderDocumentData], values: list[dict]) -> None:
        for d, v in zip(docs, values, strict=True):
            try:
                await self.rpc.model("sale.sale", "create", [v])
            except TrytonRpcError as exc:
                raise ErpError(f"Tryton refused the sale: {exc.tryton_message}",
                               external_ref=d.external_ref) from None

    async def _button(self, button: str, refs: list[str], sales: dict[str, dict]) -> None:
        try:
            await self.rpc.model("sale.sale", button, [sales[r]["id"] for r in refs])
            return
        except TrytonRpcError:
            if len(refs) == 1:
                pass
        for r in refs:  # one at a time, to name the sale at fault
            try:
                await self.rpc.model("sale.sale", button, [sales[r]["id"]])
            except TrytonRpcError as exc:
                raise ErpError(f"Tryton could not {button} the sale: {exc.tryton_message}",
                               external_ref=r) from None

    async def _process_stuck(self, sales: dict[str, dict], refs: list[str]) -> bool:
        """Tryton processes a confirmed sale (shipment, invoice) in a queued task whose
        failure the confirm call does not report (it goes to ir.error and the sale
        stays 'confirmed'). Run ``process`` again on those, one at a time, so that the
        good ones go through and the error of a bad one is reported, naming it."""
        stuck = [r for r in refs if sales[r]["state"] == "confirmed"]
        if not stuck:
            return False
        failed: tuple[str, str] | None = None
        for r in stuck:
            try:
                await self.rpc.model("sale.sale", "process", [sales[r]["id"]])
            except TrytonRpcError as exc:
                failed = failed or (r, exc.tryton_message)
        if failed:
            r, message = failed
            number = sales[r]["number"] or sales[r]["id"]
            raise ErpError(f"Tryton could not process sale {number}: {message}",
                           hint="fix it in Tryton, then the sale is processed on the next run",
                           external_ref=r)
        return True

    # -- states ----------------------------------------------------------------------------
    async def state_changes(self, since_cursor: str | None,
                            limit: int = 1000) -> tuple[list[StateChange], str | None]:
        after = _parse_cursor(since_cursor)
        domain: list = [["description", "!=", None],
                        ["OR", ["state", "=", "cancelled"], ["shipment_state", "=", "sent"],
                         ["invoice_state", "in", ["awaiting payment", "paid"]]]]
        if after is not None:
            since = after[0] - timedelta(minutes=5)
            domain.append(["OR", ["write_date", ">=", since], ["create_date", ">=", since]])
        sales = await self._sales(domain)
        ship_ids = [i for s in sales if s["shipment_state"] == "sent" for i in s["shipments"]]
        inv_ids = [i for s in sales for i in s["invoices"]
                   if s["invoice_state"] in ("awaiting payment", "paid")]
        ships = {r["id"]: r for r in await self._read(
            "stock.shipment.out", ship_ids, ["number", "state", "effective_date", "write_date"])}
        invs = {r["id"]: r for r in await self._read(
            "account.invoice", inv_ids, ["number", "state", "invoice_date", "type",
                                         "move.create_date"])}
        events: list[tuple[tuple, StateChange]] = []
        for s in sales:
            number, ref = s["number"] or f"({s['id']})", s["description"]
            if s["state"] == "cancelled":
                at = s["write_date"] or s["create_date"]
                events.append(((at, s["id"], 3), StateChange(number, ref, "cancelled", at)))
                continue
            done = [ships[i] for i in s["shipments"] if i in ships and ships[i]["state"] == "done"]
            if s["shipment_state"] == "sent" and done:
                sh = max(done, key=lambda r: r["write_date"] or datetime.min.replace(tzinfo=UTC))
                at = sh["write_date"]
                events.append(((at, s["id"], 1), StateChange(
                    number, ref, "shipped", at, delivery_note_number=sh["number"],
                    delivery_note_date=sh["effective_date"])))
            posted = [invs[i] for i in s["invoices"] if i in invs
                      and invs[i]["state"] in ("posted", "paid")
                      and invs[i]["type"] == "out" and invs[i].get("move.")]
            if posted:
                inv = min(posted, key=lambda r: r["move."]["create_date"])
                at = inv["move."]["create_date"]
                events.append(((at, s["id"], 2), StateChange(
                    number, ref, "invoiced", at, invoice_number=inv["number"],
                    invoice_date=inv["invoice_date"])))
        events.sort(key=lambda e: e[0])
        if after is not None:
            events = [e for e in events if e[0] > after]
        out = []
        for key, c in events[:limit]:
            out.append(StateChange(c.document_number, c.external_ref, c.event, c.at,
                                   c.delivery_note_number, c.delivery_note_date,
                                   c.tracking_number, c.invoice_number, c.invoice_date,
                                   cursor=_format_cursor(key)))
        return out, (out[-1].cursor if out else since_cursor)


def _format_cursor(key: tuple) -> str:
    at, sid, kind = key
    return f"{at.astimezone(UTC).isoformat(timespec='microseconds')}|{sid}|{kind}"


def _parse_cursor(cursor: str | None) -> tuple | None:
    if not cursor:
        return None
    try:
        at, sid, kind = cursor.split("|")
        return (datetime.fromisoformat(at), int(sid), int(kind))
    except ValueError:
        raise ErpError(f"invalid Tryton state cursor {cursor!r}") from None


# -- the ERP choice, stored in the hub's settings table ------------------------------------
SETTING = "erp"


async def load_erp_setting(hub: Any) -> dict[str, Any]:
    """The configured ERP (``{"kind": "embedded"}`` when none is set)."""
    import json

    raw = await hub.scalar("SELECT value FROM settings WHERE name = ?", (SETTING,))
    if not raw:
        return {"kind": "embedded"}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError("the ERP setting is not valid JSON",
                          hint="set it again with: sincro erp use ...") from None
    return data if isinstance(data, dict) and data.get("kind") else {"kind": "embedded"}


async def save_erp_setting(hub: Any, data: dict[str, Any]) -> None:
    import json

    async with hub.transaction() as conn:
        await conn.execute("INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)",
                           (SETTING, json.dumps(data, sort_keys=True)))
