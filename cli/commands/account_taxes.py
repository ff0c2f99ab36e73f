"""`sincro account taxes` and the account options of the fiscal documents (docs/FISCAL.md):
the tax map, the payment and carrier maps, the address fields PEC and SDI come from."""

from __future__ import annotations

import argparse
import json
import re
from decimal import Decimal
from typing import Any, Literal

from rich.table import Table
from rich.text import Text

from cli.commands.base import Context, set_handler
from core import accounts as acc
from core.errors import ConfigError
from core.sync import vat

_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MAP_KEY = re.compile(r"[^=,\x00-\x1f\x7f]{1,64}")
_MAP_VALUE = re.compile(r"[^=,\x00-\x1f\x7f]{0,64}")


def register(asub: argparse._SubParsersAction) -> None:
    t = asub.add_parser("taxes", help="the shop's tax rules groups and taxes, and the ERP VAT "
                        "codes they map to (for --tax-map)")
    t.add_argument("name", metavar="NAME")
    t.add_argument("--json", action="store_true", help="print JSON")
    set_handler(t, cmd_taxes)


def option_flags(g: argparse._ArgumentGroup) -> None:
    g.add_argument("--tax-map", metavar="MAP",
                   help="shop VAT rate or tax rules group to ERP VAT code, e.g. "
                   "22=22,10=10,0=N3.2,g9=ES:N4 (a 0 %% rate needs its nature N1..N7; "
                   "KEY= removes an entry; see 'sincro account taxes NAME')")
    g.add_argument("--payment-map", metavar="MAP",
                   help="shop payment module or name to ERP payment code, e.g. "
                   "ps_wirepayment=BB,ps_checkpayment=AS ('' clears; default: the shop's name)")
    g.add_argument("--carrier-map", metavar="MAP",
                   help="shop carrier id or name to ERP carrier code, e.g. 2=BRT,3=POSTE "
                   "('' clears; default: the carrier's name)")
    g.add_argument("--pec-fields", metavar="FIELDS",
                   help="address fields a shop module keeps the PEC in (default pec); labelled "
                   "'PEC: ...' in the address's other field is always read")
    g.add_argument("--sdi-fields", metavar="FIELDS",
                   help="address fields a shop module keeps the SDI code in (default "
                   "sdi,codice_destinatario)")
    g.add_argument("--customer-match", metavar="KEYS",
                   help="find the ERP's own customers before creating one, by these keys in "
                   "order: vat_number,tax_code,email (the default), or 'off'")
    g.add_argument("--article-match", metavar="KEYS",
                   help="find the ERP's own articles before coding one, by: reference,ean13 "
                   "(the default), or 'off'")


def _pairs(text: str, what: str, example: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _MAP_KEY.fullmatch(key) or not _MAP_VALUE.fullmatch(value):
            raise ConfigError(f"invalid {what} entry {item!r}", hint=f"write KEY=CODE pairs "
                              f"separated by commas, e.g. {example}")
        out[key] = value
    return out


def _fields(text: str, what: str) -> list[str]:
    names = [f.strip() for f in text.split(",") if f.strip()]
    for n in names:
        if not _FIELD.fullmatch(n):
            raise ConfigError(f"invalid {what} field name {n!r}",
                              hint="lower-case field names of the shop's addresses, e.g. pec")
    return names


def apply(args: argparse.Namespace, options: acc.AccountOptions) -> acc.AccountOptions:
    """The options with the flags of this module applied (each checked)."""
    out = options.copy()
    if getattr(args, "tax_map", None) is not None:
        current = dict(options.get("tax_map") or {})
        for item in (p.strip() for p in args.tax_map.split(",") if p.strip()):
            key, sep, value = item.partition("=")
            if sep and not value.strip():  # KEY= removes it
                try:
                    k, _ = vat.parse_entry(key, "X")
                except vat.VatError:
                    k, _ = vat.parse_entry(key, "N4")
                current.pop(k, None)
                continue
            try:
                current.update(vat.parse_map(item))
            except vat.VatError as exc:
                raise ConfigError(f"invalid --tax-map: {exc}", hint="e.g. --tax-map "
                                  "22=22,10=10,4=4,0=N3.2 (see 'sincro account taxes NAME')"
                                  ) from None
        out["tax_map"] = current
    if getattr(args, "payment_map", None) is not None:
        out["payment_map"] = _pairs(args.payment_map, "--payment-map",
                                    "ps_wirepayment=BB,ps_checkpayment=AS")
    if getattr(args, "carrier_map", None) is not None:
        out["carrier_map"] = _pairs(args.carrier_map, "--carrier-map", "2=BRT,3=POSTE")
    if getattr(args, "pec_fields", None) is not None:
        out["pec_fields"] = _fields(args.pec_fields, "--pec-fields")
    if getattr(args, "sdi_fields", None) is not None:
        out["sdi_fields"] = _fields(args.sdi_fields, "--sdi-fields")
    matches: tuple[tuple[str, Literal["customer_match", "article_match"], tuple[str, ...]], ...] = (
        ("--customer-match", "customer_match", ("vat_number", "tax_code", "email")),
        ("--article-match", "article_match", ("reference", "ean13")))
    for flag, name, allowed in matches:
        value = getattr(args, name, None)
        if value is None:
            continue
        keys = [] if value.strip().lower() == "off" else [
            k.strip() for k in value.split(",") if k.strip()]
        bad = [k for k in keys if k not in allowed]
        if bad or len(set(keys)) != len(keys) or (not keys and value.strip().lower() != "off"):
            raise ConfigError(f"invalid {flag} {value!r}",
                              hint=f"keys in order from {', '.join(allowed)}, or off")
        out[name] = keys
    return out


async def shop_taxes(account: acc.Account) -> dict[str, Any]:
    """The shop's tax rules groups (with the rates of their rules) and taxes, each with the
    ERP VAT code the account's tax map gives it."""
    from core.sync.shop import open_shop

    async with open_shop(account) as shop:
        client = shop.client
        groups = await client.list_raw("tax_rule_groups", display="full", sort="[id_ASC]")
        rules = await client.list_raw("tax_rules", display="full", sort="[id_ASC]")
        await shop.lookups.ensure(taxes={int(str(r.get("id_tax") or 0) or 0) for r in rules})
        taxes = shop.lookups.taxes
    taxmap = vat.TaxMap(account.option("tax_map"), account.name)
    rates: dict[int, set[Decimal]] = {}
    for r in rules:
        try:
            gid, tid = int(str(r.get("id_tax_rules_group"))), int(str(r.get("id_tax") or 0))
        except ValueError:
            continue
        rates.setdefault(gid, set()).add(taxes[tid].rate if tid in taxes else Decimal(0))

    def mapping(rate: Decimal, group: int | None = None) -> dict[str, Any] | None:
        try:
            v = taxmap.resolve(rate, group)
        except vat.VatError:
            return None
        return {"code": v.code, "nature": v.nature}

    out_groups = []
    for g in groups:
        try:
            gid = int(str(g.get("id")))
        except ValueError:
            continue
        group_rates = sorted(rates.get(gid, set()), reverse=True)
        one = group_rates[0] if len(group_rates) == 1 else None
        out_groups.append({
            "id": gid, "name": str(g.get("name") or ""),
            "active": str(g.get("active") or "0") == "1",
            "rates": [vat.rate_key(r) for r in group_rates],
            "maps_to": mapping(one, gid) if one is not None else (
                mapping(Decimal(0), gid) if not group_rates else None),
        })
    out_taxes = [{"id": t.id, "name": t.name, "rate": vat.rate_key(t.rate),
                  "maps_to": mapping(t.rate)} for t in sorted(taxes.values(), key=lambda t: t.id)]
    return {"account": account.name, "tax_map": {**vat.DEFAULT_TAX_MAP,
                                                 **(account.option("tax_map") or {})},
            "groups": out_groups, "taxes": out_taxes}


def _shown(m: dict[str, Any] | None, key: str) -> str:
    if m is None:
        return f"unmapped (--tax-map {key}=...)"
    return m["code"] if not m["nature"] or m["nature"] == m["code"] else \
        f"{m['code']} ({m['nature']})"


async def cmd_taxes(args: argparse.Namespace, ctx: Context) -> int:
    account = await acc.get_account(await ctx.hub(), args.name)
    data = await shop_taxes(account)
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    table = Table("group", "name", "rates %", "ERP VAT code", box=None, pad_edge=False,
                  title="tax rules groups", title_justify="left")
    for g in data["groups"]:
        key = f"g{g['id']}" if len(g["rates"]) != 1 or g["rates"] == ["0"] else g["rates"][0]
        table.add_row(str(g["id"]), Text(g["name"]), ", ".join(g["rates"]) or "0",
                      Text(_shown(g["maps_to"], key)))
    ctx.out.print(table)
    table = Table("tax", "name", "rate %", "ERP VAT code", box=None, pad_edge=False,
                  title="taxes", title_justify="left")
    for t in data["taxes"]:
        table.add_row(str(t["id"]), Text(t["name"]), t["rate"], Text(_shown(t["maps_to"],
                                                                             t["rate"])))
    ctx.out.print(table)
    ctx.out.print(Text("tax map: " + ",".join(f"{k}={v}" for k, v in data["tax_map"].items())))
    return 0
