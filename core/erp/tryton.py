"""Tryton (trytond 8.0 LTS) as Sincro's ERP, over its JSON-RPC API with httpx.

Mapping:
- customer -> ``party.party`` named as the invoice needs it (the company, else the
  person); the person's name is the name of its e-mail and phone contact mechanisms.
  The Sincro external reference is an untyped identifier ``sincro:<ref>``; the VAT
  number is an identifier of type ``it_vat`` (Italian) or ``eu_vat`` (other EU) and the
  fiscal code one of type ``it_codicefiscale`` when they validate as Tryton validates
  them (python-stdnum's rules), else untyped ``VAT <number>`` / ``CF <code>`` so that
  an invalid one never stops the customer; the SDI code is an untyped identifier
  ``SDI <code>``; the PEC an e-mail contact mechanism named ``PEC``. The customer code
  is the party's code.
- destination -> ``party.address`` of the party (same text -> same address), with its
  ``subdivision`` (``IT-MI``) when Tryton has it; its code is the address id.
- article -> ``product.template`` + one ``product.product`` whose code is the
  Sincro article code; stock is the product's quantity (or forecast quantity)
  in the configured warehouse.
- order document -> ``sale.sale``: ``reference`` = the shop order reference,
  ``description`` = the external reference (the idempotency key); quoted and
  confirmed (or left as a quotation). Document number = the sale number. Each line
  carries the ``account.tax`` whose name (else description) is the line's VAT code,
  its rate checked; the untaxed, tax and total amounts are the shop's to the cent:
  a line's unit price is chosen so that Tryton's rounded amount is the shop's line
  amount, what is left of the untaxed total is an untaxed rounding line, and what is
  left of the tax (the shop's rounding, and the cent Tryton's own per-tax rounding can
  differ by) is a rounding line of unit price 0 carrying a fixed-amount tax of 0.01
  (``TrytonSettings.rounding_tax``) times the number of cents. Payment term (by name)
  and carrier (``sale_shipment_cost`` activated: by its product's code or name, or its
  party's name) are set when Tryton has them, else written in the sale's comment after
  the order's notes.
- credit note (a shop refund) -> a confirmed return sale (docs/FISCAL.md, "Refunds"):
  ``origin`` = the refunded sale, ``description`` = the credit note's external reference,
  the lines' quantities negated, its amounts the credit note's negated to the cent as for
  orders; shipment method "order" when the goods came back (Sincro receives and finishes
  the return shipment), else "manual" (no stock moves).

Calls are batched (one create / read / button call for a whole list). One RPC
call is one Tryton transaction, so a bulk method is all or nothing per step.
The JSON-RPC session is core/erp/tryton_rpc.py; the settings (``TrytonSettings``) and
the choice of this connector are core/erp/choice.py. The password is kept only in memory
and never appears in errors or reprs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from core.erp.choice import TrytonSettings
from core.erp.port import (
    ArticleData,
    Capability,
    CreditNoteData,
    CreditNoteResult,
    CustomerData,
    DestinationData,
    DocumentState,
    ErpArticle,
    ErpCreditNote,
    ErpCustomer,
    ErpDestination,
    ErpDocument,
    ErpDocumentLine,
    ErpError,
    ErpNotFound,
    InsertResult,
    LineKind,
    OrderDocumentData,
    Outcome,
    StateChange,
    VatSummary,
)
from core.erp.tryton_rpc import TrytonRpc, TrytonRpcError, enc

REF_PREFIX = "sincro:"
VAT_PREFIX = "VAT "
TAX_CODE_PREFIX = "CF "
SDI_PREFIX = "SDI "
PEC_NAME = "PEC"  # the name of the e-mail contact mechanism that holds the PEC
UNTYPED_PREFIXES = (REF_PREFIX, VAT_PREFIX, TAX_CODE_PREFIX, SDI_PREFIX)
# Tryton 8.0 names the Italian VAT number type "it_vat" (an alias of python-stdnum's it.iva;
# "it_iva" before 7.0)
FISCAL_TYPES = ("it_vat", "it_iva", "eu_vat", "it_codicefiscale")
DONE_STATES = ("confirmed", "processing", "done")
CENT = Decimal("0.01")
# the block Sincro appends to a sale's comment, after the order's notes
COMMENT_MARK = "-- Sincro --"
COMMENT_KEYS = ("Payment", "Carrier", "Conversion rate")
ROUNDING_DESCRIPTION = "Rounding"


def _q4(value: Decimal) -> Decimal:
    """Tryton's prices have 4 decimals and refuse more digits (even zeros)."""
    return Decimal(value).quantize(Decimal("0.0001"))


def _chunks(items: list, n: int = 500):
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _cents(value: Decimal) -> Decimal:
    """Half-up to the cent: how the VAT summary rounds a rate's tax."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _tryton_round(value: Decimal) -> Decimal:
    """How Tryton rounds an amount to the currency's cent (``currency.round``)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


def line_price(unit: Decimal, quantity: int, total: Decimal | None) -> Decimal:
    """The unit price (4 decimals) that gives the shop's line amount once Tryton
    multiplies it by the quantity and rounds: the shop's unit price when it does,
    else the nearest price that does."""
    price = _q4(unit)
    if total is None or not quantity or _tryton_round(price * quantity) == total:
        return price
    base = _q4(Decimal(total) / quantity)
    step = Decimal("0.0001")
    for k in range(200):
        for cand in (base + k * step, base - k * step):
            if _tryton_round(cand * quantity) == total:
                return cand
    return base


# -- fiscal identifiers, validated as Tryton validates them (python-stdnum) ------------
def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def partita_iva_ok(number: str) -> bool:
    """stdnum.it.iva.is_valid: 11 digits, a valid office code, the Luhn check digit."""
    n = re.sub(r"[ \-:]", "", number).upper().strip()
    if n.startswith("IT"):
        n = n[2:]
    if not (n.isascii() and n.isdigit()) or len(n) != 11 or int(n[:7]) == 0:
        return False
    if not ("001" <= n[7:10] <= "100" or n[7:10] in ("120", "121", "888", "999")):
        return False
    return _luhn_ok(n)


_CF_RE = re.compile(r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}"
                    r"[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$")
_CF_DATE = {**{x: n for n, x in enumerate("0123456789")},
            **{x: n for n, x in enumerate("LMNPQRSTUV")}}
_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                   [1, 0, 5, 7, 9, 13, 15, 17, 19, 21] + [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2,
                                                          4, 18, 20, 11, 3, 6, 8, 12, 14, 16,
                                                          10, 22, 25, 24, 23], strict=True))
_CF_EVEN = {**{x: n for n, x in enumerate("0123456789")},
            **{x: n for n, x in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}}


def codice_fiscale_ok(code: str) -> bool:
    """stdnum.it.codicefiscale.is_valid: a company's 11 digits (as a partita IVA), or a
    person's 16 characters with their check character and a real birth date."""
    c = re.sub(r"[ \-:]", "", code).strip().upper()
    if len(c) == 11:
        return partita_iva_ok(c)
    if len(c) != 16 or not _CF_RE.match(c):
        return False
    check = sum(_CF_ODD[x] if i % 2 == 0 else _CF_EVEN[x] for i, x in enumerate(c[:15]))
    if "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[check % 26] != c[15]:
        return False
    day = (_CF_DATE[c[9]] * 10 + _CF_DATE[c[10]]) % 40
    month = "ABCDEHLMPRST".index(c[8]) + 1
    year = 1900 + _CF_DATE[c[6]] * 10 + _CF_DATE[c[7]]
    if year < 1920:
        year += 100
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def eu_vat_ok(number: str) -> bool:
    """stdnum.eu.vat.is_valid where python-stdnum is installed (it comes with trytond);
    without it a foreign VAT number is kept untyped."""
    try:
        from stdnum.eu import vat
    except ImportError:  # pragma: no cover - the tryton group brings it
        return False
    return bool(vat.is_valid(number))


def _identifier_country(kind: str | None, code: str) -> str | None:
    """The country of a fiscal identifier: Italian ones, and VAT numbers without a
    prefix (Sincro sends Italian ones so), are IT; another EU VAT number's prefix."""
    if kind in ("it_vat", "it_iva", "it_codicefiscale", "cf"):
        return "IT"
    if kind in ("eu_vat", "vat") and len(code) > 2 and code[:2].isalpha():
        return {"EL": "GR"}.get(code[:2].upper(), code[:2].upper())
    return "IT" if kind == "vat" and code else None


# -- the sale's comment: the order's notes, then what could not be a field -----------
def compose_comment(notes: str | None, extra: Sequence[tuple[str, str]]) -> str | None:
    block = "\n".join(f"{k}: {v}" for k, v in extra)
    if not block:
        return notes or None
    if not notes:
        return f"{COMMENT_MARK}\n{block}"
    return f"{notes}\n\n{COMMENT_MARK}\n{block}"


def parse_comment(comment: str | None) -> tuple[str | None, dict[str, str]]:
    """(notes, {"Payment": ..., "Carrier": ...}) from a comment ``compose_comment`` wrote;
    a comment whose last block is not Sincro's is all notes."""
    if not comment:
        return None, {}
    sep = f"\n\n{COMMENT_MARK}\n"
    if comment.startswith(COMMENT_MARK + "\n"):
        notes, block = "", comment[len(COMMENT_MARK) + 1:]
    elif sep in comment:
        notes, block = comment.rsplit(sep, 1)
    else:
        return comment, {}
    extra = {}
    for line in block.split("\n"):
        k, found, v = line.partition(": ")
        if not found or k not in COMMENT_KEYS:
            return comment, {}
        extra[k] = v
    return notes or None, extra


_NATURE = re.compile(r"^N[0-9](\.[0-9]+)?$")


def rate_text(rate: Decimal) -> str:
    """ "22", "5.5", "0": a rate as a tax's name or a message writes it."""
    text = f"{Decimal(rate).quantize(Decimal('0.001')).normalize():f}"
    return "0" if text in ("-0", "0.000") else text


@dataclass(frozen=True)
class _Tax:
    """An account.tax as the connector uses it."""

    id: int
    name: str
    description: str
    type: str  # percentage | fixed | none
    percent: Decimal | None  # the rate in %, 0 for "none", None for fixed
    amount: Decimal | None  # a fixed tax's amount
    start: date | None
    end: date | None
    listed: bool = True  # a top-level sale tax (the ones a code may name)

    @classmethod
    def of(cls, r: dict, listed: bool = True) -> _Tax:
        kind = r["type"]
        percent = (Decimal(r["rate"] or 0) * 100).normalize() + 0 if kind == "percentage" else (
            Decimal(0) if kind == "none" else None)
        return cls(r["id"], r["name"] or "", r.get("description") or "", kind, percent,
                   Decimal(r["amount"]) if r.get("amount") is not None else None,
                   r.get("start_date"), r.get("end_date"), listed)

    @property
    def nature(self) -> str | None:
        """A 0 % tax's e-invoice nature: its name (N4), else its description's first word
        ("N4 Esente art. 10")."""
        if self.percent:
            return None
        for text in (self.name, (self.description or "").split(" ", 1)[0]):
            if _NATURE.match(text.strip()):
                return text.strip()
        return None

    def valid_on(self, day: date) -> bool:
        return (self.start or date.min) <= day <= (self.end or date.max)


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
        self._subdivisions: dict[str, dict[str, int]] = {}  # country -> ISO code -> id
        self._ident_types: frozenset[str] | None = None
        self._taxes: dict[int, _Tax] | None = None
        self._payment_terms: dict[str, int] | None = None
        self._carriers: list[dict] | None = None  # None: not read yet; []: none or no module
        self._carrier_module: bool | None = None
        self._carrier_selections: list[dict] = []
        self._warehouse_country: int | None = None
        self._tax_ids: dict[tuple[str, Decimal], int] = {}

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
                          Capability.STATE_CHANGES, Capability.STOCK_PRICE,
                          Capability.CREDIT_NOTES})

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
                                                      ["type", "value", "name"])}
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
    def _managed_ident(i: dict) -> bool:
        """The identifiers Sincro keeps (others, added in Tryton, are left alone)."""
        if i["type"]:
            return i["type"] in FISCAL_TYPES
        return (i["code"] or "").startswith(UNTYPED_PREFIXES)

    @staticmethod
    def _managed_mech(m: dict) -> bool:
        return m["type"] in ("email", "phone")

    @staticmethod
    def _customer(p: dict, outcome: Outcome | None = None) -> ErpCustomer:
        vat = tax_code = sdi = ref = country = None
        for i in p["_idents"]:
            kind, code = i["type"], i["code"] or ""
            if kind in ("it_vat", "it_iva", "eu_vat") and vat is None:
                vat, country = code, country or _identifier_country(kind, code)
            elif kind == "it_codicefiscale" and tax_code is None:
                tax_code, country = code, country or _identifier_country(kind, code)
            elif not kind:
                for prefix in UNTYPED_PREFIXES:
                    if code.startswith(prefix):
                        value = code[len(prefix):]
                        if prefix == REF_PREFIX and ref is None:
                            ref = value
                        elif prefix == VAT_PREFIX and vat is None:
                            vat, country = value, country or _identifier_country("vat", value)
                        elif prefix == TAX_CODE_PREFIX and tax_code is None:
                            tax_code = value
                            country = country or _identifier_country("cf", value)
                        elif prefix == SDI_PREFIX and sdi is None:
                            sdi = value
                        break
        mechs = [m for m in p["_mechs"] if m["type"] in ("email", "phone")]
        pec = next((m["value"] for m in mechs if m["type"] == "email"
                    and m.get("name") == PEC_NAME), None)
        own = [m for m in mechs if m.get("name") != PEC_NAME]
        email = next((m["value"] for m in own if m["type"] == "email"), None)
        phone = next((m["value"] for m in own if m["type"] == "phone"), None)
        person = next((m["name"] for m in own if m.get("name")), None)
        name = person or p["name"]
        company = p["name"] if person and p["name"] != person else None
        return ErpCustomer(code=p["code"], name=name, company=company, vat_number=vat,
                           tax_code=tax_code, email=email, phone=phone, external_ref=ref,
                           outcome=outcome, pec=pec, sdi_code=sdi,
                           kind="company" if company or vat else "private", country=country)

    async def find_customer(self, external_ref: str) -> ErpCustomer | None:
        found = await self._parties([["identifiers.code", "=", REF_PREFIX + external_ref]])
        return self._customer(found[0]) if found else None

    async def find_customer_by_email(self, email: str) -> ErpCustomer | None:
        found = await self._parties([["contact_mechanisms", "where", [
            ["type", "=", "email"], ["value", "ilike", email.replace("%", "\\%")],
            ["OR", ["name", "=", None], ["name", "!=", PEC_NAME]]]]])
        return self._customer(found[0]) if found else None

    async def get_customer(self, code: str) -> ErpCustomer:
        found = await self._parties([["code", "=", code]])
        if not found:
            raise ErpNotFound(f"no party with code {code!r} in Tryton")
        return self._customer(found[0])

    async def upsert_customer(self, data: CustomerData) -> ErpCustomer:
        return (await self.upsert_customers([data]))[0]

    async def _identifier_types(self) -> frozenset[str]:
        """The identifier types this Tryton offers (party configuration may restrict them)."""
        if self._ident_types is None:
            try:  # the dynamic selection, as the client reads it
                pairs = await self.rpc.model("party.identifier", "get_types")
                self._ident_types = frozenset(p[0] for p in pairs if p and p[0])
            except TrytonRpcError:
                self._ident_types = frozenset(FISCAL_TYPES)
        return self._ident_types

    @staticmethod
    def _wanted_idents(d: CustomerData, types: frozenset[str]) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = [(None, REF_PREFIX + d.external_ref)]
        if d.vat_number:
            vat = d.vat_number
            it_type = next((t for t in ("it_vat", "it_iva") if t in types), None)
            if it_type and not vat[:2].isalpha() and partita_iva_ok(vat):
                out.append((it_type, vat))
            elif "eu_vat" in types and vat[:2].isalpha() and eu_vat_ok(vat):
                out.append(("eu_vat", vat))
            else:
                out.append((None, VAT_PREFIX + vat))
        if d.tax_code:
            if "it_codicefiscale" in types and codice_fiscale_ok(d.tax_code):
                out.append(("it_codicefiscale", d.tax_code))
            else:
                out.append((None, TAX_CODE_PREFIX + d.tax_code))
        if d.sdi_code:
            out.append((None, SDI_PREFIX + d.sdi_code))
        return out

    @staticmethod
    def _wanted_mechs(d: CustomerData) -> list[tuple[str, str, str | None]]:
        """(type, value, name): e-mail and phone named for the person, the PEC named PEC."""
        person = d.name or None
        out: list[tuple[str, str, str | None]] = []
        if d.email:
            out.append(("email", d.email, person))
        if d.phone:
            out.append(("phone", d.phone, person))
        if d.pec:
            out.append(("email", d.pec, PEC_NAME))
        return out

    async def upsert_customers(self, data: Sequence[CustomerData]) -> list[ErpCustomer]:
        items = list(data)
        if not items:
            return []
        types = await self._identifier_types()
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
            want_idents = self._wanted_idents(d, types)
            want_mechs = self._wanted_mechs(d)
            idents = {(i["type"] or None, i["code"]) for i in p["_idents"]
                      if self._managed_ident(i)}
            mechs = {(m["type"], m["value"], m.get("name") or None) for m in p["_mechs"]
                     if self._managed_mech(m)}
            if (p["name"] == self._party_name(d) and idents == set(want_idents)
                    and mechs == set(want_mechs)):
                outcomes[ref] = "unchanged"
                continue
            outcomes[ref] = "updated"
            old_idents = [i["id"] for i in p["_idents"] if self._managed_ident(i)]
            old_mechs = [m["id"] for m in p["_mechs"] if self._managed_mech(m)]
            writes += [[p["id"]], {
                "name": self._party_name(d),
                "identifiers": [["delete", old_idents], ["create", self._ident_values(
                    want_idents)]],
                "contact_mechanisms": [["delete", old_mechs], ["create", self._mech_values(
                    want_mechs)]]}]
        try:
            if writes:
                await self.rpc.model("party.party", "write", *writes)
        except TrytonRpcError as exc:
            raise ErpError(f"Tryton refused the customers: {exc.tryton_message}",
                           external_ref=items[0].external_ref if len(items) == 1 else None
                           ) from None
        values = [{
            "name": self._party_name(d),
            "identifiers": [["create", self._ident_values(self._wanted_idents(d, types))]],
            "contact_mechanisms": [["create", self._mech_values(self._wanted_mechs(d))]],
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
    def _ident_values(idents: list[tuple[str | None, str]]) -> list[dict]:
        return [{"type": t, "code": c} if t else {"code": c} for t, c in idents]

    @staticmethod
    def _mech_values(mechs: list[tuple[str, str, str | None]]) -> list[dict]:
        return [{"type": t, "value": v, "name": n} for t, v, n in mechs]

    @staticmethod
    def _party_name(d: CustomerData) -> str:
        """The name on the invoice: the company's, else the person's."""
        return d.company or d.name or d.external_ref

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

    async def _subdivision(self, country: str, province: str | None) -> int | None:
        """The country's subdivision with ISO code ``IT-MI`` for province "MI", when Tryton
        has it (and the address may use its type); None otherwise. A country's
        subdivisions are read once (two calls)."""
        if not province:
            return None
        cc, prov = country.upper(), province.upper()
        if cc not in self._subdivisions:
            types = await self.rpc.search_read("party.address.subdivision_type",
                                               [["country_code", "=", cc]], ["types"])
            allowed = [t for r in types for t in (r["types"] or [])]
            domain: list = [["country.code", "=", cc]]
            if allowed:
                domain.append(["type", "in", allowed])
            found: dict[str, int] = {}
            for r in await self.rpc.search_read("country.subdivision", domain, ["code"],
                                                order=[["id", "ASC"]]):
                found.setdefault((r["code"] or "").upper(), r["id"])
            self._subdivisions[cc] = found
        code = prov if prov.startswith(cc + "-") else f"{cc}-{prov}"
        return self._subdivisions[cc].get(code)

    @staticmethod
    def _street(d: DestinationData) -> str:
        return "\n".join(x for x in (d.address1, d.address2) if x)

    _ADDR_FIELDS = ["party", "party.code", "party_name", "street_unstructured", "postal_code",
                    "city", "country", "country.code", "subdivision", "subdivision.code"]

    @staticmethod
    def _address_key(a: dict) -> tuple:
        return (a["party_name"] or "", (a["street_unstructured"] or "").strip(),
                a["postal_code"] or "", a["city"] or "", (a.get("country.") or {}).get("code", ""),
                a.get("subdivision") or None)

    async def _dest_key(self, d: DestinationData) -> tuple:
        name = d.name if not d.company else f"{d.company} - {d.name}"
        return (name, self._street(d), d.postcode or "", d.city, d.country.upper(),
                await self._subdivision(d.country, d.province))

    @staticmethod
    def _province(a: dict) -> str | None:
        code = (a.get("subdivision.") or {}).get("code") or ""
        return code.split("-", 1)[1] if "-" in code else (code or None)

    def _destination(self, a: dict, customer_code: str, d: DestinationData | None,
                     outcome: Outcome | None) -> ErpDestination:
        street = (a["street_unstructured"] or "").split("\n")
        return ErpDestination(
            code=str(a["id"]), customer_code=customer_code,
            name=d.name if d else (a["party_name"] or ""), address1=street[0],
            city=a["city"] or "", country=(a.get("country.") or {}).get("code", ""),
            company=d.company if d else None,
            address2="\n".join(street[1:]) or None, postcode=a["postal_code"],
            province=self._province(a), phone=d.phone if d else None,
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
        keys = [(parties[c],) + await self._dest_key(d) for c, d in items]
        todo: dict[tuple, dict] = {}
        for (c, d), key in zip(items, keys, strict=True):
            if key not in existing and key not in todo:
                todo[key] = {"party": parties[c], "party_name": key[1],
                             "street_unstructured": key[2], "postal_code": d.postcode or None,
                             "city": d.city, "country": await self._country(d.country)}
                if key[6]:
                    todo[key]["subdivision"] = key[6]
        created: set[tuple] = set()
        if todo:
            new_keys = list(todo)
            ref_of = {k: d.external_ref for (_c, d), k in zip(items, keys, strict=True)}
            ids = await self._create("party.address", [todo[k] for k in new_keys],
                                     [ref_of.get(k) for k in new_keys], "address")
            for a in await self._read("party.address", ids, self._ADDR_FIELDS):
                existing[(a["party"],) + self._address_key(a)] = a
            created = set(new_keys)
        results = []
        for (c, d), key in zip(items, keys, strict=True):
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

    # -- taxes, payment terms, carriers ------------------------------------------------
    async def _load_taxes(self) -> dict[int, _Tax]:
        """Every sale tax of the company (top-level, group none or sale), by id."""
        rows = await self.rpc.search_read(
            "account.tax", [["parent", "=", None],
                            ["OR", ["group", "=", None], ["group.kind", "in", ["sale", "both"]]]],
            ["name", "description", "type", "rate", "amount", "start_date", "end_date"],
            order=[["sequence", "ASC NULLS FIRST"], ["id", "ASC"]])
        self._taxes = {r["id"]: _Tax.of(r) for r in rows}
        return self._taxes

    async def _taxes_by_id(self, ids: Sequence[int]) -> dict[int, _Tax]:
        taxes = self._taxes if self._taxes is not None else await self._load_taxes()
        missing = [i for i in dict.fromkeys(ids) if i not in taxes]
        if missing:  # a tax set by hand in Tryton, a child or a purchase tax: read it
            for r in await self._read("account.tax", missing, [
                    "name", "description", "type", "rate", "amount", "start_date",
                    "end_date"]):
                taxes[r["id"]] = _Tax.of(r, listed=False)
        return taxes

    @staticmethod
    def _named(taxes: Sequence[_Tax], code: str) -> list[_Tax]:
        key = code.strip().casefold()
        by_name = [t for t in taxes if t.listed and t.name.strip().casefold() == key]
        return by_name or [t for t in taxes if t.listed
                           and (t.description or "").strip().casefold() == key]

    async def _tax_for(self, code: str, rate: Decimal, when: date, ref: str) -> int:
        """The account.tax for a line's VAT code: named so (else so described), valid on
        the sale's date, at the line's rate. Read once per connector, again when missing."""
        code = code or rate_text(rate)
        key = (code, Decimal(rate))
        if key in self._tax_ids:
            return self._tax_ids[key]
        for attempt in (0, 1):
            taxes = await self._load_taxes() if attempt or self._taxes is None else self._taxes
            named = [t for t in self._named(list(taxes.values()), code)
                     if t.type != "fixed" and t.valid_on(when)]
            good = [t for t in named if t.percent == Decimal(rate)]
            if good:
                self._tax_ids[key] = good[0].id
                return good[0].id
        if named:
            rates = ", ".join(sorted({f"{rate_text(t.percent or Decimal(0))} %" for t in named}))
            raise ErpError(f"the Tryton tax {code!r} is at {rates}, the order's line at "
                           f"{rate_text(rate)} %",
                           hint="fix the tax in Tryton, or map the shop's rate to another "
                           "tax's name with the account's tax map", external_ref=ref)
        raise ErpError(f"no sale tax {code!r} ({rate_text(rate)} %) in Tryton",
                       hint=f"create an account.tax named {code!r} (or with that description) "
                       f"at {rate_text(rate)} % in Tryton, or map the rate to an existing tax's "
                       "name with the account's tax map", external_ref=ref)

    async def _rounding_tax(self, ref: str) -> _Tax:
        name = self.settings.rounding_tax
        for attempt in (0, 1):
            taxes = await self._load_taxes() if attempt or self._taxes is None else self._taxes
            found = [t for t in self._named(list(taxes.values()), name)
                     if t.type == "fixed" and t.amount]
            if found:
                return found[0]
        raise ErpError(f"the order needs a rounding line but Tryton has no rounding tax "
                       f"{name!r}",
                       hint=f"create an account.tax named {name!r}, type fixed amount, amount "
                       "0.01, for sales (README, Tryton)", external_ref=ref)

    async def _payment_term(self, name: str | None) -> int | None:
        if not name:
            return None
        if self._payment_terms is None or name not in self._payment_terms:
            rows = await self.rpc.search_read("account.invoice.payment_term", [], ["name"],
                                              order=[["id", "ASC"]])
            self._payment_terms = {}
            for r in rows:
                self._payment_terms.setdefault(r["name"], r["id"])
        return self._payment_terms.get(name)

    async def carrier_module(self) -> bool:
        """Whether sales have a carrier (the sale_shipment_cost module is activated)."""
        if self._carrier_module is None:
            fields = await self.rpc.model("sale.sale", "fields_get", ["carrier"])
            self._carrier_module = "carrier" in fields
        return self._carrier_module

    async def _load_carriers(self) -> list[dict]:
        self._carriers = await self.rpc.search_read(
            "carrier", [["carrier_product.salable", "=", True]],
            ["party.name", "carrier_product.code", "carrier_product.name"],
            order=[["id", "ASC"]])
        self._carrier_selections = await self.rpc.search_read(
            "carrier.selection", [], ["carrier", "from_country", "to_country"],
            order=[["sequence", "ASC NULLS FIRST"], ["id", "ASC"]])
        if self._carrier_selections:
            [wh] = await self.rpc.model("stock.location", "read", [await self.warehouse()],
                                        ["address.country"])
            self._warehouse_country = ((wh.get("address.") or {}).get("country"))
        return self._carriers

    @staticmethod
    def _carrier_name(c: dict) -> str:
        return ((c.get("carrier_product.") or {}).get("name")
                or (c.get("party.") or {}).get("name") or str(c["id"]))

    async def _carrier_for(self, name: str | None, to_country: int | None) -> int | None:
        """The carrier whose product has this code (else name), else whose party has this
        name, and that Tryton offers for the shipment's country; None when there is none."""
        if not name or not await self.carrier_module():
            return None
        for attempt in (0, 1):
            carriers = (self._carriers if self._carriers is not None and not attempt
                        else await self._load_carriers())
            key = name.strip().casefold()
            for field, sub in (("carrier_product.", "code"), ("carrier_product.", "name"),
                               ("party.", "name")):
                for c in carriers:
                    if ((c.get(field) or {}).get(sub) or "").strip().casefold() == key \
                            and self._carrier_available(c["id"], to_country):
                        return c["id"]
        return None

    def _carrier_available(self, carrier: int, to_country: int | None) -> bool:
        """carrier.selection as Tryton applies it: no rule offers every carrier."""
        if not self._carrier_selections:
            return True
        for sel in self._carrier_selections:
            if sel["from_country"] not in (None, self._warehouse_country):
                continue
            if sel["to_country"] not in (None, to_country):
                continue
            if sel["carrier"] == carrier:
                return True
        return False

    # -- documents --------------------------------------------------------------
    _SALE_FIELDS = ["number", "description", "reference", "sale_date", "party", "party.code",
                    "shipment_address", "invoice_address", "currency.code", "state",
                    "shipment_state", "invoice_state", "untaxed_amount", "total_amount",
                    "lines", "shipments", "invoices", "write_date", "create_date", "comment",
                    "payment_term", "payment_term.name"]

    async def _sales(self, domain: list, extra: Sequence[str] = ()) -> list[dict]:
        fields = list(self._SALE_FIELDS) + list(extra)
        if await self.carrier_module():
            fields.append("carrier")
            if self._carriers is None:
                await self._load_carriers()
        return await self.rpc.search_read("sale.sale", domain, fields, order=[["id", "ASC"]])

    def _document(self, s: dict, lines: list[dict] | None = None) -> ErpDocument:
        state: DocumentState = "cancelled" if s["state"] == "cancelled" else (
            "invoiced" if s["invoice_state"] in ("awaiting payment", "paid") else
            "shipped" if s["shipment_state"] == "sent" else "open")
        taxes = self._taxes or {}
        doc_lines: list[ErpDocumentLine] = []
        groups: dict[tuple[Decimal, str, str | None], Decimal] = {}
        for ln in lines or []:
            if ln["type"] != "line":
                continue
            line_taxes = [taxes[t] for t in ln.get("taxes") or [] if t in taxes]
            vat = next((t for t in line_taxes if t.type != "fixed"), None)
            fixed = any(t.type == "fixed" for t in line_taxes)
            unit = Decimal(ln["unit_price"] or 0)
            amount = Decimal(ln.get("amount") or 0)
            rate = (vat.percent or Decimal(0)) if vat else Decimal(0)
            code = vat.name if vat else ""
            nature = vat.nature if vat else None
            kind: LineKind
            if ln.get("product"):
                kind = "article"
            elif fixed or (vat is None and ln["description"] == ROUNDING_DESCRIPTION):
                kind = "rounding"
            elif unit < 0:
                kind = "discount"
            else:
                kind = "shipping"
            if vat is not None and kind != "rounding":
                groups[(rate, code, nature)] = groups.get((rate, code, nature), Decimal(0)) + amount
            doc_lines.append(ErpDocumentLine(
                kind=kind, article_code=(ln.get("product.") or {}).get("code"),
                description=ln["description"] or "", quantity=int(ln["quantity"] or 0),
                unit_price=unit, unit_price_tax_incl=_q4(unit * (1 + rate / 100)),
                vat_rate=rate, discount_pct=Decimal("0"), vat_code=code, vat_nature=nature,
                total_tax_excl=amount, total_tax_incl=amount + _cents(amount * rate / 100)))
        summary = tuple(VatSummary(rate, code, nature, taxable, _cents(taxable * rate / 100))
                        for (rate, code, nature), taxable in sorted(
                            groups.items(), key=lambda g: (-g[0][0], g[0][1])))
        untaxed = Decimal(s["untaxed_amount"] or 0)
        total = Decimal(s["total_amount"] or 0)
        rounding = (total - sum((r.taxable + r.tax for r in summary), Decimal(0))
                    if summary else Decimal(0))
        notes, extra = parse_comment(s.get("comment"))
        payment = (s.get("payment_term.") or {}).get("name") or extra.get("Payment")
        carrier = extra.get("Carrier")
        if s.get("carrier"):
            found = next((c for c in self._carriers or [] if c["id"] == s["carrier"]), None)
            carrier = self._carrier_name(found) if found else carrier
        try:
            conversion = Decimal(extra["Conversion rate"]) if "Conversion rate" in extra else None
        except InvalidOperation:
            conversion = None
        return ErpDocument(
            number=s["number"] or f"({s['id']})", external_ref=s["description"] or None,
            date=s["sale_date"] or date.today(),
            customer_code=(s.get("party.") or {}).get("code", ""),
            destination_code=str(s["shipment_address"]) if s["shipment_address"] else None,
            invoice_destination_code=str(s["invoice_address"]) if s["invoice_address"] else None,
            currency=(s.get("currency.") or {}).get("code", ""), payment=payment,
            carrier=carrier, shop_reference=s["reference"], total_tax_excl=untaxed,
            total_tax_incl=total, state=state, lines=tuple(doc_lines), vat_summary=summary,
            rounding=rounding, notes=notes, conversion_rate=conversion)

    async def _lines(self, sales: list[dict]) -> dict[int, list[dict]]:
        ids = [i for s in sales for i in s["lines"]]
        rows = await self._read("sale.line", ids, ["sale", "type", "product", "product.code",
                                                   "description", "quantity", "unit_price",
                                                   "amount", "taxes", "sequence"])
        await self._taxes_by_id([t for r in rows for t in r["taxes"] or []])
        out: dict[int, list[dict]] = {}
        for r in sorted(rows, key=lambda r: (r["sequence"] is not None, r["sequence"] or 0,
                                             r["id"])):
            out.setdefault(r["sale"], []).append(r)
        return out

    async def find_document(self, external_ref: str) -> ErpDocument | None:
        found = await self._sales([["description", "=", external_ref]])
        if not found:
            return None
        return self._document(found[0], (await self._lines(found[:1])).get(found[0]["id"]))

    async def find_documents(self, refs: Sequence[str]) -> dict[str, ErpDocument]:
        """Documents by external reference, with their lines, in a few calls (reconcile)."""
        sales = list((await self._by_ref(list(dict.fromkeys(refs)))).values())
        lines = await self._lines(sales)
        return {s["description"]: self._document(s, lines.get(s["id"])) for s in sales}

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
                           products: dict[str, dict], unit: int,
                           countries: dict[int, int | None]) -> dict:
        ref = d.external_ref
        if d.customer_code not in parties:
            raise ErpNotFound(f"no customer {d.customer_code!r} in Tryton", external_ref=ref)
        ship = int(d.destination_code) if d.destination_code else None
        inv = int(d.invoice_destination_code) if d.invoice_destination_code else ship
        ship = ship or inv
        if not inv:
            raise ErpError("the order has no address (Tryton needs one to quote the sale)",
                           external_ref=ref)
        lines: list[dict] = []

        async def tax(code: str, rate: Decimal) -> list:
            return [["add", [await self._tax_for(code, rate, d.date, ref)]]]

        for ln in d.lines:
            price = ln.unit_price
            if ln.discount_pct:
                price = price * (Decimal(100) - ln.discount_pct) / Decimal(100)
            price = line_price(price, ln.quantity, ln.total_tax_excl)
            line = {"type": "line", "quantity": ln.quantity, "unit_price": price,
                    "description": ln.description, "taxes": await tax(ln.vat_code, ln.vat_rate)}
            if ln.article_code:
                p = products.get(ln.article_code)
                if p is None:
                    raise ErpNotFound(f"no article {ln.article_code!r} in Tryton",
                                      external_ref=ref)
                line.update(product=p["id"], unit=p["default_uom"] or unit)
            lines.append(line)
        for charge in (d.shipping, d.wrapping):
            if charge and charge.amount_tax_excl:
                lines.append({"type": "line", "quantity": 1, "description": charge.description,
                              "unit_price": _q4(charge.amount_tax_excl),
                              "taxes": await tax(charge.vat_code, charge.vat_rate)})
        for disc in d.discounts:
            if disc.amount_tax_excl:
                lines.append({"type": "line", "quantity": 1, "description": disc.description,
                              "unit_price": -_q4(disc.amount_tax_excl),
                              "taxes": await tax(disc.vat_code, disc.vat_rate)})
        # what the lines leave of the shop's untaxed total: an untaxed rounding line
        untaxed = sum((_tryton_round(Decimal(ln["quantity"]) * ln["unit_price"])
                       for ln in lines), Decimal(0))
        left = Decimal(d.total_tax_excl) - untaxed
        if left:
            self._within_rounding(d, left, "untaxed")
            lines.append({"type": "line", "quantity": 1, "unit_price": _q4(left),
                          "description": ROUNDING_DESCRIPTION})
        extra: list[tuple[str, str]] = []
        values: dict[str, Any] = {
            "party": parties[d.customer_code], "invoice_address": inv,
            "shipment_address": ship, "sale_date": d.date, "reference": d.shop_reference,
            "description": ref, "lines": [["create", lines]]}
        term = await self._payment_term(d.payment)
        if term:
            values["payment_term"] = term
        elif d.payment:
            extra.append(("Payment", d.payment))
        if await self.carrier_module():
            values["shipment_cost_method"] = None  # the shop's shipping line is the cost
            carrier = await self._carrier_for(d.carrier, countries.get(ship) if ship is not None else None)
            if carrier:
                values["carrier"] = carrier
            elif d.carrier:
                extra.append(("Carrier", d.carrier))
        elif d.carrier:
            extra.append(("Carrier", d.carrier))
        if d.conversion_rate is not None and d.conversion_rate != 1:
            extra.append(("Conversion rate", str(d.conversion_rate)))
        comment = compose_comment(d.notes, extra)
        if comment:
            values["comment"] = comment
        if d.currency:
            values["currency"] = await self._currency(d.currency, ref)
        return values

    async def _currency(self, code: str, ref: str) -> int:
        if code not in self._currencies:
            found = await self.rpc.search_read("currency.currency", [["code", "=", code]],
                                               ["id"])
            if not found:
                raise ErpError(f"no currency {code} in Tryton", external_ref=ref)
            self._currencies[code] = found[0]["id"]
        return self._currencies[code]

    @staticmethod
    def _within_rounding(d: OrderDocumentData | CreditNoteData, diff: Decimal,
                         what: str) -> None:
        """A rounding line may carry the shop's rounding and a cent per line of Tryton's
        own rounding, never more: a larger difference is reported, not hidden."""
        discounts = d.discounts if isinstance(d, OrderDocumentData) else ()
        allowed = abs(Decimal(d.rounding)) + CENT * (len(d.lines) + len(discounts) + 3)
        if abs(diff) > allowed:
            raise ErpError(f"the sale's {what} amount would differ from the shop's by "
                           f"{diff} (more than rounding)",
                           hint="check the order's lines and totals (sincro reconcile)",
                           external_ref=d.external_ref)

    async def _settle_tax(self, refs: list[str], sales: dict[str, dict],
                          docs: Mapping[str, OrderDocumentData | CreditNoteData],
                          sign: int = 1) -> None:
        """Draft sales: what Tryton's tax lacks of the shop's (its rounding, and Tryton's
        own per-tax rounding) goes on a rounding line with the fixed 0.01 tax. ``sign`` -1:
        return sales, whose amounts are the credit note's negated."""
        rows = {r["id"]: r for r in await self._read(
            "sale.sale", [sales[r]["id"] for r in refs], ["tax_amount"])}
        new: list[dict] = []
        new_refs: list[str | None] = []
        for r in refs:
            d = docs[r]
            sid = sales[r]["id"]
            diff = (sign * (Decimal(d.total_tax_incl) - Decimal(d.total_tax_excl))
                    - Decimal(rows[sid]["tax_amount"] or 0))
            if not diff:
                continue
            self._within_rounding(d, diff, "tax")
            rt = await self._rounding_tax(r)
            assert rt.amount is not None  # _rounding_tax finds only taxes with an amount
            qty = diff / rt.amount
            if qty != qty.to_integral_value():
                raise ErpError(f"the rounding of {diff} is not a multiple of the rounding "
                               f"tax's {rt.amount}", external_ref=r)
            new.append({"sale": sid, "type": "line", "quantity": int(qty),
                        "unit_price": _q4(Decimal(0)), "description": ROUNDING_DESCRIPTION,
                        "taxes": [["add", [rt.id]]]})
            new_refs.append(r)
        await self._create("sale.line", new, new_refs, "rounding line")

    async def insert_orders(self, docs: Sequence[OrderDocumentData]) -> list[InsertResult]:
        """Create the sales not there yet (one call), settle their tax to the shop's (one
        read, at most one create), quote and confirm them (one call each), read them back.
        A sale found in draft/quotation is taken further; a sale whose queued processing
        failed is reported as an ErpError naming it."""
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
            countries: dict[int, int | None] = {}
            if (await self.carrier_module() and any(d.carrier for d in new)
                    and (self._carriers is not None or await self._load_carriers() is not None)
                    and self._carrier_selections):
                ship_ids = [int(x) for d in new for x in (d.destination_code,
                                                          d.invoice_destination_code) if x]
                countries = {a["id"]: a["country"] for a in await self._read(
                    "party.address", ship_ids, ["country"])}
            values = [await self._sale_values(d, parties, products, unit, countries)
                      for d in new]
            try:
                await self.rpc.model("sale.sale", "create", values)
            except TrytonRpcError:
                await self._create_each(new, values)  # find the one at fault
            sales.update(await self._by_ref([d.external_ref for d in new]))
            advanced.update(d.external_ref for d in new)
        draft = [r for r in refs if sales[r]["state"] == "draft"]
        if draft:
            await self._settle_tax(draft, sales, first)
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

    async def _create_each(self, docs: Sequence[OrderDocumentData | CreditNoteData],
                           values: list[dict]) -> None:
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

    # -- credit notes: confirmed return sales (docs/FISCAL.md, "Refunds") ---------------------
    async def _returns_by_ref(self, refs: list[str]) -> dict[str, dict]:
        """Return sales (with an origin) by their ``description``, the credit note's
        external reference."""
        out: dict[str, dict] = {}
        for chunk in _chunks(refs):
            for s in await self._sales([["description", "in", chunk], ["origin", "!=", None]],
                                       self._RETURN_FIELDS):
                out.setdefault(s["description"], s)
        return out

    _RETURN_FIELDS = ("origin", "shipment_method", "shipment_returns")

    async def _return_values(self, d: CreditNoteData, orders: dict[str, dict],
                             products: dict[str, dict], unit: int) -> dict:
        """The return sale of one credit note: the refunded order's party, addresses and
        payment term, its ``origin`` that sale (as Tryton's return wizard makes it), each
        line with the credit note's quantity negated at its VAT code, the shipping as a
        line without product, the untaxed rounding line; shipped back (a return shipment)
        only when the goods came back."""
        ref = d.external_ref
        order = orders.get(d.order_external_ref)
        if order is None:
            raise ErpNotFound(f"credit note {ref}: the order document {d.order_external_ref} "
                              "is not in Tryton", hint="the order goes in first",
                              external_ref=ref)
        party = (order.get("party.") or {}).get("code")
        if party != d.customer_code:
            raise ErpNotFound(f"credit note {ref}: sale {order['number']} is customer "
                              f"{party}'s, not {d.customer_code}'s", external_ref=ref)

        async def tax(code: str, rate: Decimal) -> list:
            return [["add", [await self._tax_for(code, rate, d.date, ref)]]]

        lines: list[dict] = []
        for i, ln in enumerate(d.lines, 1):
            line = {"type": "line", "quantity": -ln.quantity, "description": ln.description,
                    "unit_price": line_price(ln.unit_price, ln.quantity, ln.total_tax_excl),
                    "taxes": await tax(ln.vat_code, ln.vat_rate)}
            if ln.article_code:
                p = products.get(ln.article_code)
                if p is None:
                    raise ErpNotFound(f"credit note {ref}: line {i}: no article "
                                      f"{ln.article_code!r} in Tryton", external_ref=ref)
                line.update(product=p["id"], unit=p["default_uom"] or unit)
            lines.append(line)
        s = d.shipping
        if s is not None and s.amount_tax_excl:
            lines.append({"type": "line", "quantity": -1, "description": s.description,
                          "unit_price": _q4(s.amount_tax_excl),
                          "taxes": await tax(s.vat_code, s.vat_rate)})
        untaxed = sum((_tryton_round(-Decimal(ln["quantity"]) * ln["unit_price"])
                       for ln in lines), Decimal(0))
        left = Decimal(d.total_tax_excl) - untaxed
        if left:
            self._within_rounding(d, left, "untaxed")
            lines.append({"type": "line", "quantity": -1, "unit_price": _q4(left),
                          "description": ROUNDING_DESCRIPTION})
        values: dict[str, Any] = {
            "party": order["party"], "invoice_address": order["invoice_address"],
            "shipment_address": order["shipment_address"], "sale_date": d.date,
            "reference": d.shop_reference, "description": ref,
            "origin": f"sale.sale,{order['id']}",
            "shipment_method": "order" if d.goods_returned else "manual",
            "currency": await self._currency(d.currency, ref),
            "lines": [["create", lines]]}
        if order.get("payment_term"):
            values["payment_term"] = order["payment_term"]
        if await self.carrier_module():
            values["shipment_cost_method"] = None
        extra = ([("Conversion rate", str(d.conversion_rate))]
                 if d.conversion_rate is not None and d.conversion_rate != 1 else [])
        comment = compose_comment(d.notes, extra)
        if comment:
            values["comment"] = comment
        return values

    async def insert_credit_notes(self, docs: Sequence[CreditNoteData]) -> list[CreditNoteResult]:
        """A confirmed return sale per credit note not there yet (searched by its external
        reference first, as ``insert_orders``): created in one call, its tax settled to the
        credit note's, quoted and confirmed (left a quotation when the settings say so),
        read back; with ``goods_returned`` its return shipment is received and done, so the
        quantities are back in the warehouse."""
        items = list(docs)
        if not items:
            return []
        refs = list(dict.fromkeys(d.external_ref for d in items))
        first = {d.external_ref: d for d in reversed(items)}
        sales = await self._returns_by_ref(refs)
        new = [first[r] for r in refs if r not in sales]
        advanced: set[str] = set()
        if new:
            orders = await self._by_ref(list(dict.fromkeys(d.order_external_ref for d in new)))
            codes = list({ln.article_code for d in new for ln in d.lines if ln.article_code})
            products = {p["code"]: p for p in await self.rpc.search_read(
                "product.product", [["code", "in", codes]], ["code", "default_uom"])}
            unit = await self._unit()
            values = [await self._return_values(d, orders, products, unit) for d in new]
            try:
                await self.rpc.model("sale.sale", "create", values)
            except TrytonRpcError:
                await self._create_each(new, values)  # find the one at fault
            sales.update(await self._returns_by_ref([d.external_ref for d in new]))
            advanced.update(d.external_ref for d in new)
        draft = [r for r in refs if sales[r]["state"] == "draft"]
        if draft:
            await self._settle_tax(draft, sales, first, sign=-1)
            await self._button("quote", draft, sales)
            advanced.update(draft)
        if self.settings.confirm:
            todo = [r for r in refs if sales[r]["state"] in ("draft", "quotation")]
            if todo:
                await self._button("confirm", todo, sales)
                advanced.update(todo)
            sales = await self._returns_by_ref(refs)
            if await self._process_stuck(sales, refs):
                sales = await self._returns_by_ref(refs)
            if await self._receive_returns([sales[r] for r in refs
                                            if first[r].goods_returned]):
                sales = await self._returns_by_ref(refs)
        else:
            sales = await self._returns_by_ref(refs)
        notes = await self._credit_notes(list(sales.values()))
        results, seen = [], set()
        for d in items:
            created = d.external_ref in advanced and d.external_ref not in seen
            seen.add(d.external_ref)
            results.append(CreditNoteResult(notes[d.external_ref], created))
        return results

    async def _receive_returns(self, sales: list[dict]) -> bool:
        """The goods came back: the return shipments Tryton made from these sales, still
        draft or received, are received and done (stock back in the warehouse); ones the
        office cancelled or finished are left alone. Whether any was."""
        ids = [i for s in sales for i in s["shipment_returns"] or []]
        if not ids:
            return False
        rows = await self._read("stock.shipment.out.return", ids, ["state"])
        draft = [r["id"] for r in rows if r["state"] == "draft"]
        todo = draft + [r["id"] for r in rows if r["state"] == "received"]
        if not todo:
            return False
        try:
            if draft:
                await self.rpc.model("stock.shipment.out.return", "receive", draft)
            await self.rpc.model("stock.shipment.out.return", "do", todo)
        except TrytonRpcError as exc:
            refs = [s["description"] for s in sales]
            raise ErpError(f"Tryton could not receive the goods returned: {exc.tryton_message}",
                           hint="receive the return shipment in Tryton",
                           external_ref=refs[0] if len(refs) == 1 else None) from None
        return True

    async def _credit_notes(self, sales: list[dict]) -> dict[str, ErpCreditNote]:
        """Return sales as credit notes (amounts positive, as a credit note states them),
        by external reference, with the refunded sale's number and reference."""
        lines = await self._lines(sales)
        origins: dict[int, dict] = {}
        ids = [int(s["origin"].split(",", 1)[1]) for s in sales
               if (s.get("origin") or "").startswith("sale.sale,")]
        for r in await self._read("sale.sale", ids, ["number", "description"]):
            origins[r["id"]] = r
        out: dict[str, ErpCreditNote] = {}
        for s in sales:
            origin = (s.get("origin") or "")
            order = (origins.get(int(origin.split(",", 1)[1]))
                     if origin.startswith("sale.sale,") else None)
            note = self._credit_note(s, lines.get(s["id"]), order)
            if note.external_ref is not None:
                out.setdefault(note.external_ref, note)
        return out

    def _credit_note(self, s: dict, lines: list[dict] | None,
                     order: dict | None) -> ErpCreditNote:
        doc = self._document(s, lines)
        order_ref = (order or {}).get("description") or None
        ref = doc.external_ref if doc.external_ref != order_ref else None
        return ErpCreditNote(
            number=doc.number, external_ref=ref, order_external_ref=order_ref,
            order_number=(order or {}).get("number") or None, date=doc.date,
            customer_code=doc.customer_code, currency=doc.currency,
            total_tax_excl=-doc.total_tax_excl, total_tax_incl=-doc.total_tax_incl,
            state="booked" if s["invoice_state"] in ("awaiting payment", "partially paid",
                                                     "paid") else "open",
            goods_returned=s.get("shipment_method") != "manual",
            lines=tuple(replace(ln, quantity=-ln.quantity,
                                total_tax_excl=None if ln.total_tax_excl is None
                                else -ln.total_tax_excl,
                                total_tax_incl=None if ln.total_tax_incl is None
                                else -ln.total_tax_incl) for ln in doc.lines),
            vat_summary=tuple(replace(v, taxable=-v.taxable, tax=-v.tax)
                              for v in doc.vat_summary),
            rounding=-doc.rounding, shop_reference=doc.shop_reference,
            conversion_rate=doc.conversion_rate, notes=doc.notes)

    async def find_credit_notes(self, external_refs: Sequence[str]) -> dict[str, ErpCreditNote]:
        sales = await self._returns_by_ref(list(dict.fromkeys(external_refs)))
        return await self._credit_notes(list(sales.values()))

    async def credit_notes_of(self, order_external_ref: str) -> list[ErpCreditNote]:
        """Every return sale of the order's sale, oldest first (one the office made with
        Tryton's return wizard has no external reference of its own: None)."""
        order = (await self._by_ref([order_external_ref])).get(order_external_ref)
        if order is None:
            return []
        sales = await self._sales([["origin", "=", f"sale.sale,{order['id']}"]],
                                  self._RETURN_FIELDS)
        lines = await self._lines(sales)
        info = {"number": order["number"], "description": order["description"]}
        return [self._credit_note(s, lines.get(s["id"]), info) for s in sales]

    # -- states ----------------------------------------------------------------------------
    async def state_changes(self, since_cursor: str | None,
                            limit: int = 1000) -> tuple[list[StateChange], str | None]:
        after = _parse_cursor(since_cursor)
        # return sales (an origin: Sincro's credit notes, Tryton's return wizard) are no
        # order's state
        domain: list = [["description", "!=", None], ["origin", "=", None],
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
