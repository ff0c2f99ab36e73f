"""`sincro erp ...`: look into the embedded ERP and do what its operator would.

Shop data is shown as text, never as markup: every cell is a ``Text``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from functools import wraps
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from cli.commands.base import Context, set_handler
from core.amounts import shown
from core.erp.choice import (
    TrytonSettings,
    load_erp_setting,
    open_erp,
    save_erp_setting,
    uses_tryton,
)
from core.erp.embedded import TRANSITIONS, EmbeddedErp, export_document
from core.erp.port import ErpArticle, ErpCustomer, ErpDestination, ErpDocument, ErpError
from core.errors import ConfigError
from core.home import ensure_home
from core.textsafe import json_text, visible

ErpHandler = Callable[[argparse.Namespace, Context, EmbeddedErp], Awaitable[int]]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("erp", help="look into the embedded ERP, ship, invoice, set stock",
                       description="The embedded ERP (erp.db in the data directory).")
    esub = p.add_subparsers(dest="erp_cmd", metavar="COMMAND", required=True)

    c = esub.add_parser("customers", help="list customers")
    _json(c)
    set_handler(c, cmd_customers)

    c = esub.add_parser("customer", help="show one customer and its destinations")
    c.add_argument("code", metavar="CODE")
    _json(c)
    set_handler(c, cmd_customer)

    c = esub.add_parser("articles", help="list articles")
    c.add_argument("--pattern", metavar="GLOB", help="only codes matching this glob (e.g. 'PS-*')")
    _json(c)
    set_handler(c, cmd_articles)

    c = esub.add_parser("article", help="show one article")
    c.add_argument("code", metavar="CODE")
    _json(c)
    set_handler(c, cmd_article)

    c = esub.add_parser("documents", help="list order documents, newest first")
    c.add_argument("--state", choices=list(TRANSITIONS), help="only documents in this state")
    c.add_argument("--find", default="", metavar="TEXT",
                   help="only documents whose number, customer, shop reference, shop order or "
                   "state contains TEXT (any case)")
    c.add_argument("--limit", type=_positive, metavar="N", help="only the newest N (up to "
                   "1,000,000)")
    _json(c)
    set_handler(c, cmd_documents)

    c = esub.add_parser("document", help="show one document with its lines")
    c.add_argument("number", metavar="NUMBER", help="e.g. 2026/000123")
    _json(c)
    set_handler(c, cmd_document)

    c = esub.add_parser("credit-notes", help="list credit notes (the shop's refunds), newest "
                        "first")
    c.add_argument("--limit", type=_positive, metavar="N", help="only the newest N")
    _json(c)
    set_handler(c, cmd_credit_notes)

    c = esub.add_parser("credit-note", help="show one credit note with its lines")
    c.add_argument("number", metavar="NUMBER", help="e.g. 'NC 2026/000001'")
    _json(c)
    set_handler(c, cmd_credit_note)

    c = esub.add_parser("book-credit-note", help="mark a credit note booked (open -> booked)")
    c.add_argument("number", metavar="NUMBER", help="e.g. 'NC 2026/000001'")
    set_handler(c, cmd_book_credit_note)

    c = esub.add_parser("set-state", help="cancel, ship or invoice a document")
    c.add_argument("number", metavar="DOC", help="document number, e.g. 2026/000123")
    c.add_argument("state", choices=["cancelled", "shipped", "invoiced"])
    c.add_argument("--tracking", metavar="T", help="carrier tracking number (with shipped)")
    set_handler(c, cmd_set_state)

    c = esub.add_parser("set-stock", help="set an article's stock")
    c.add_argument("code", metavar="CODE")
    c.add_argument("stock", metavar="N")
    set_handler(c, cmd_set_stock)

    c = esub.add_parser("set-price", help="set an article's price (tax excluded)")
    c.add_argument("code", metavar="CODE")
    c.add_argument("price", metavar="PRICE", help="e.g. 12.50")
    set_handler(c, cmd_set_price)

    c = esub.add_parser("import", help="seed the office's existing customers or articles from "
                        "a CSV file (every line checked first; nothing half-written)",
                        description="CSV with a header line, comma or semicolon separated. "
                        "customers: name (required), code, company, vat_number, tax_code, "
                        "email, phone, pec, sdi_code, country. articles: code, description, "
                        "price (required), vat_rate, stock, ean13, active.")
    c.add_argument("what", choices=("customers", "articles"))
    c.add_argument("file", metavar="FILE.csv", type=Path)
    set_handler(c, cmd_import)

    c = esub.add_parser("export", help="everything in the ERP as JSON")
    _json(c)
    set_handler(c, cmd_export)

    c = esub.add_parser("use", help="choose the ERP Sincro works with (embedded or tryton)",
                        description="One ERP per Sincro home. The Tryton password is never "
                        "stored: give the name of the environment variable that holds it.")
    usub = c.add_subparsers(dest="erp_kind", metavar="ERP", required=True)
    u = usub.add_parser("embedded", help="the embedded ERP (erp.db in the data directory)")
    set_handler(u, cmd_use_embedded)
    u = usub.add_parser("tryton", help="a Tryton 8.0 server over JSON-RPC")
    u.add_argument("--url", required=True, metavar="URL", help="e.g. http://127.0.0.1:8000")
    u.add_argument("--db", required=True, metavar="NAME", help="the Tryton database")
    u.add_argument("--user", required=True, metavar="USER")
    u.add_argument("--password-env", required=True, metavar="VAR",
                   help="environment variable holding the password (never stored)")
    u.add_argument("--quotation", action="store_true",
                   help="leave imported sales as quotations (default: confirm them)")
    u.add_argument("--stock", choices=["quantity", "forecast_quantity"], default="quantity",
                   help="stock the listing rules read (default: quantity)")
    u.add_argument("--warehouse", metavar="CODE", help="warehouse code (default: the first)")
    u.add_argument("--account-category", metavar="NAME",
                   help="product category for new articles (default: the first accounting one)")
    set_handler(u, cmd_use_tryton)

    c = esub.add_parser("check", help="connect to the configured ERP and report on it")
    _json(c)
    set_handler(c, cmd_check)


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def _checked(check: Callable[[argparse.Namespace], object]):
    """Check the command's values before the ERP is opened (or created)."""

    def mark(handler: ErpHandler) -> ErpHandler:
        handler.check = check  # type: ignore[attr-defined]
        return handler

    return mark


def _with_erp(handler: ErpHandler):
    @wraps(handler)
    async def run(args: argparse.Namespace, ctx: Context) -> int:
        check = getattr(handler, "check", None)
        if check is not None:
            check(args)
        ensure_home(ctx.home)
        setting = await load_erp_setting(await ctx.hub())
        if uses_tryton(setting):
            raise ConfigError(f"`sincro erp {args.erp_cmd}` applies to the embedded ERP, "
                              "and this Sincro home uses Tryton",
                              hint="do it in Tryton itself, or switch with: "
                              "sincro erp use embedded")
        erp = await EmbeddedErp.open(ctx.erp_path)
        try:
            return await handler(args, ctx, erp)
        finally:
            await erp.close()

    return run


def _print_json(ctx: Context, data: Any) -> None:
    # out() writes as is: no markup, no emoji codes, no wrapping.
    ctx.out.out(json_text(json.dumps(data, indent=2, ensure_ascii=False)), highlight=False)


def _t(value: Any) -> Text:
    return Text(shown(value))


_NUMERIC = {"Price", "Stock", "Qty", "Total", "Unit", "Unit incl.", "VAT %", "Disc. %"}


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in _NUMERIC
                         else "left", overflow="fold")
    return table


# -- customers ---------------------------------------------------------------
def _customer_dict(c: ErpCustomer) -> dict[str, Any]:
    return {"code": c.code, "name": c.name, "company": c.company, "vat_number": c.vat_number,
            "tax_code": c.tax_code, "email": c.email, "phone": c.phone, "pec": c.pec,
            "sdi_code": c.sdi_code, "kind": c.kind, "country": c.country,
            "external_ref": c.external_ref}


def _destination_dict(d: ErpDestination) -> dict[str, Any]:
    return {"code": d.code, "name": d.name, "company": d.company, "address1": d.address1,
            "address2": d.address2, "postcode": d.postcode, "city": d.city,
            "province": d.province, "country": d.country, "phone": d.phone,
            "external_ref": d.external_ref}


@_with_erp
async def cmd_customers(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    customers = await erp.list_customers()
    if args.json:
        _print_json(ctx, [_customer_dict(c) for c in customers])
        return 0
    if not customers:
        ctx.out.print(Text("no customers in the embedded ERP yet"))
        return 0
    table = _table(f"Customers ({len(customers)})",
                   ["Code", "Name", "Company", "VAT number", "Tax code", "E-mail", "Phone", "Ref"])
    for c in customers:
        table.add_row(*(_t(v) for v in (c.code, c.name, c.company, c.vat_number, c.tax_code,
                                         c.email, c.phone, c.external_ref)))
    ctx.out.print(table)
    return 0


@_with_erp
async def cmd_customer(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    c = await erp.get_customer(args.code)
    destinations = await erp.list_destinations(c.code)
    if args.json:
        _print_json(ctx, {**_customer_dict(c),
                          "destinations": [_destination_dict(d) for d in destinations]})
        return 0
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in _customer_dict(c).items():
        table.add_row(Text(label.replace("_", " ")), _t(value))
    ctx.out.print(table)
    if destinations:
        dt = _table("Destinations", ["Code", "Name", "Company", "Address", "Postcode", "City",
                                     "Province", "Country", "Phone"])
        for d in destinations:
            address = ", ".join(x for x in (d.address1, d.address2) if x)
            dt.add_row(*(_t(v) for v in (d.code, d.name, d.company, address, d.postcode, d.city,
                                          d.province, d.country, d.phone)))
        ctx.out.print(dt)
    return 0


# -- articles ----------------------------------------------------------------
def _article_dict(a: ErpArticle) -> dict[str, Any]:
    return {"code": a.code, "description": a.description, "price": str(a.price),
            "vat_rate": str(a.vat_rate), "stock": a.stock, "active": a.active}


def _check_pattern(args: argparse.Namespace) -> None:
    if args.pattern is not None:
        from core.listings import check_pattern

        check_pattern(args.pattern)


@_with_erp
@_checked(_check_pattern)
async def cmd_articles(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    articles = await erp.list_articles(args.pattern)
    if args.json:
        _print_json(ctx, [_article_dict(a) for a in articles])
        return 0
    if not articles:
        ctx.out.print(Text("no articles" + (f" matching {args.pattern}" if args.pattern else "")))
        return 0
    table = _table(f"Articles ({len(articles)})",
                   ["Code", "Description", "Price", "VAT %", "Stock", "Active"])
    for a in articles:
        table.add_row(_t(a.code), _t(a.description), _t(a.price), _t(a.vat_rate), _t(a.stock),
                      _t("yes" if a.active else "no"))
    ctx.out.print(table)
    return 0


@_with_erp
async def cmd_article(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    a = await erp.get_article(args.code)
    if args.json:
        _print_json(ctx, _article_dict(a))
        return 0
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in _article_dict(a).items():
        shown = ("yes" if value else "no") if label == "active" else value
        table.add_row(Text(label.replace("_", " ")), _t(shown))
    ctx.out.print(table)
    return 0


def parse_stock(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
            raise ConfigError(f"the stock cannot be negative: {visible(text)[:30]}")
        raise ConfigError(f"the stock must be a whole number, not {visible(text)[:30]!r}")
    if len(text) > 10 or int(text) > MAX_STOCK:
        raise ConfigError(f"the stock {visible(text)[:30]} is too large",
                          hint=f"give a whole number up to {MAX_STOCK:,}")
    return int(text)


@_with_erp
@_checked(lambda args: parse_stock(args.stock))
async def cmd_set_stock(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    a = await erp.set_stock(args.code, parse_stock(args.stock))
    ctx.out.print(Text(f"article {a.code}: stock {a.stock}"))
    return 0


@_with_erp
@_checked(lambda args: parse_price(args.price))
async def cmd_set_price(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    price = parse_price(args.price)
    a = await erp.set_price(args.code, price)
    ctx.out.print(Text(f"article {a.code}: price {a.price}"))
    return 0


def parse_price(text: str) -> Decimal:
    hint = "write it like 12.50 (a dot for decimals, tax excluded)"
    try:
        price = Decimal(text.strip())
    except InvalidOperation:
        raise ConfigError(f"the price must be a number, not {text!r}", hint=hint) from None
    if not price.is_finite():
        raise ConfigError(f"the price must be a number, not {text!r}", hint=hint)
    if price < 0:
        raise ConfigError(f"the price cannot be negative: {text}")
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        raise ConfigError(f"the price has more than 6 decimals: {text}")
    if price >= Decimal(10) ** 12:
        raise ConfigError(f"the price is too large: {text}")
    return price


MAX_LIMIT = 1_000_000
MAX_STOCK = 10**9


def _positive(text: str) -> int:
    try:
        value = int(text) if len(text) <= 30 else 0
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    if value > MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {MAX_LIMIT:,}")
    return value


# -- documents ---------------------------------------------------------------
@_with_erp
async def cmd_documents(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    docs = await erp.list_documents(args.state, search=args.find, limit=args.limit)
    if args.json:
        _print_json(ctx, [_document_summary(d) for d in docs])
        return 0
    if not docs:
        ctx.out.print(Text("no documents" + (f" {args.state}" if args.state else "")
                           + (f" matching {args.find!r}" if args.find.strip() else "")))
        return 0
    title = f"Documents ({len(docs)}"
    if args.limit is not None and len(docs) == args.limit:
        title += ", the newest: --limit shows more"
    table = _table(title + ")", ["Number", "Date", "Customer", "State", "Total",
                                                "Currency", "Shop ref", "External ref"])
    for d in docs:
        table.add_row(*(_t(v) for v in (d.number, d.date, d.customer_code, d.state,
                                         d.total_tax_incl, d.currency, d.shop_reference,
                                         d.external_ref)))
    ctx.out.print(table)
    return 0


def _document_summary(d: ErpDocument) -> dict[str, Any]:
    full = export_document(d)
    for key in ("lines", "shipping", "discounts", "wrapping", "vat_summary"):
        full.pop(key)
    return full


@_with_erp
async def cmd_document(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    d = await erp.get_document(args.number)
    if args.json:
        data = export_document(d)
        data["all_lines"] = [{"kind": ln.kind, "article_code": ln.article_code,
                              "description": ln.description, "quantity": ln.quantity,
                              "unit_price": str(ln.unit_price),
                              "unit_price_tax_incl": str(ln.unit_price_tax_incl),
                              "vat_rate": str(ln.vat_rate), "vat_code": ln.vat_code,
                              "vat_nature": ln.vat_nature, "discount_pct": str(ln.discount_pct)}
                             for ln in d.lines]
        _print_json(ctx, data)
        return 0
    _print_document(ctx, d)
    return 0


def _print_document(ctx: Context, d: ErpDocument) -> None:
    head = Table(show_header=False, box=None)
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    rows = [("number", d.number), ("date", d.date), ("state", d.state),
            ("customer", d.customer_code), ("destination", d.destination_code),
            ("invoice destination", d.invoice_destination_code), ("currency", d.currency),
            ("payment", d.payment), ("carrier", d.carrier), ("shop reference", d.shop_reference),
            ("external ref", d.external_ref), ("total tax excl.", d.total_tax_excl),
            ("total", d.total_tax_incl), ("delivery note", d.delivery_note_number),
            ("delivery note date", d.delivery_note_date), ("tracking", d.tracking_number),
            ("invoice", d.invoice_number), ("invoice date", d.invoice_date),
            ("conversion rate", d.conversion_rate), ("notes", d.notes)]
    for label, value in rows:
        if value is not None:
            head.add_row(Text(label), _t(value))
    ctx.out.print(head)
    table = _table("Lines", ["Kind", "Article", "Description", "Qty", "Unit", "Unit incl.",
                             "VAT %", "VAT code", "Disc. %"])
    for ln in d.lines:
        code = ln.vat_code if not ln.vat_nature or ln.vat_nature == ln.vat_code else \
            f"{ln.vat_code} ({ln.vat_nature})"
        table.add_row(*(_t(v) for v in (ln.kind, ln.article_code, ln.description, ln.quantity,
                                         ln.unit_price, ln.unit_price_tax_incl, ln.vat_rate,
                                         code, ln.discount_pct)))
    ctx.out.print(table)
    if d.vat_summary:
        summary = _table("VAT summary", ["Rate %", "Code", "Nature", "Taxable", "Tax"])
        for v in d.vat_summary:
            summary.add_row(*(_t(x) for x in (v.rate, v.code, v.nature, v.taxable, v.tax)))
        ctx.out.print(summary)
    if d.rounding:
        ctx.out.print(Text(f"rounding (the shop's own): {shown(d.rounding)}"))


# -- credit notes (docs/FISCAL.md, "Refunds") --------------------------------------
@_with_erp
async def cmd_credit_notes(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    from core.erp.embedded_credit_notes import export as export_credit_note

    notes = await erp.list_credit_notes(args.limit)
    if args.json:
        _print_json(ctx, [export_credit_note(n) for n in notes])
        return 0
    if not notes:
        ctx.out.print(Text("no credit notes"))
        return 0
    table = _table(f"Credit notes ({len(notes)})", ["Number", "Date", "Order document",
                                                     "Customer", "State", "Goods back",
                                                     "Total", "Currency", "External ref"])
    for n in notes:
        table.add_row(*(_t(v) for v in (n.number, n.date, n.order_number, n.customer_code,
                                         n.state, "yes" if n.goods_returned else "no",
                                         n.total_tax_incl, n.currency, n.external_ref)))
    ctx.out.print(table)
    return 0


@_with_erp
async def cmd_credit_note(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    from core.erp.embedded_credit_notes import export as export_credit_note

    n = await erp.get_credit_note(args.number)
    if args.json:
        _print_json(ctx, export_credit_note(n))
        return 0
    head = Table(show_header=False, box=None)
    head.add_column(style="bold")
    head.add_column(overflow="fold")
    for label, value in (("number", n.number), ("date", n.date), ("state", n.state),
                         ("refunded document", n.order_number), ("customer", n.customer_code),
                         ("currency", n.currency), ("shop reference", n.shop_reference),
                         ("external ref", n.external_ref),
                         ("goods returned", "yes" if n.goods_returned else "no"),
                         ("total tax excl.", n.total_tax_excl), ("total", n.total_tax_incl),
                         ("notes", n.notes)):
        if value is not None:
            head.add_row(Text(label), _t(value))
    ctx.out.print(head)
    table = _table("Lines", ["Kind", "Article", "Description", "Qty", "Unit", "Unit incl.",
                             "VAT %", "VAT code"])
    for ln in n.lines:
        code = ln.vat_code if not ln.vat_nature or ln.vat_nature == ln.vat_code else \
            f"{ln.vat_code} ({ln.vat_nature})"
        table.add_row(*(_t(v) for v in (ln.kind, ln.article_code, ln.description, ln.quantity,
                                         ln.unit_price, ln.unit_price_tax_incl, ln.vat_rate,
                                         code)))
    ctx.out.print(table)
    if n.vat_summary:
        summary = _table("VAT summary", ["Rate %", "Code", "Nature", "Taxable", "Tax"])
        for v in n.vat_summary:
            summary.add_row(*(_t(x) for x in (v.rate, v.code, v.nature, v.taxable, v.tax)))
        ctx.out.print(summary)
    return 0


@_with_erp
async def cmd_book_credit_note(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    n = await erp.book_credit_note(args.number)
    ctx.out.print(Text(f"credit note {n.number} booked"))
    return 0


def _check_tracking(args: argparse.Namespace) -> None:
    if args.tracking is not None and args.state != "shipped":
        raise ConfigError("--tracking goes only with shipped")
    if args.tracking is not None and (visible(args.tracking) != args.tracking
                                      or not 0 < len(args.tracking.strip()) <= 64):
        raise ConfigError(f"invalid tracking number {visible(args.tracking)[:70]!r}",
                          hint="one line of 1 to 64 characters, e.g. 1Z999AA10123456784")


@_with_erp
@_checked(_check_tracking)
async def cmd_set_state(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    d = await erp.set_state(args.number, args.state, tracking_number=args.tracking)
    extra = ""
    if args.state == "shipped":
        extra = f", delivery note {d.delivery_note_number}"
        if d.tracking_number:
            extra += f", tracking {d.tracking_number}"
    elif args.state == "invoiced":
        extra = f", invoice {d.invoice_number}"
    ctx.out.print(Text(f"document {d.number}: {d.state}{extra}"))
    return 0


@_with_erp
async def cmd_import(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    from core.erp import seed

    try:
        rows = (seed.customers(args.file) if args.what == "customers"
                else seed.articles(args.file))
    except seed.SeedError as exc:
        for problem in exc.problems:  # one line per bad line, then the summary
            print(f"sincro: {args.file.name}: {visible(problem)}", file=sys.stderr)
        raise
    if args.what == "customers":
        made, _ = await erp.seed(customers=rows)
    else:
        _, made = await erp.seed(articles=rows)
    ctx.out.print(Text(f"imported {len(made)} {args.what} from {args.file.name}"))
    return 0


@_with_erp
async def cmd_export(args: argparse.Namespace, ctx: Context, erp: EmbeddedErp) -> int:
    _print_json(ctx, await erp.export())
    return 0


# -- choosing and checking the ERP ---------------------------------------------
async def cmd_use_embedded(args: argparse.Namespace, ctx: Context) -> int:
    await save_erp_setting(await ctx.hub(), {"kind": "embedded"})
    ctx.out.print(Text(f"ERP: embedded ({ctx.erp_path})"))
    return 0


async def cmd_use_tryton(args: argparse.Namespace, ctx: Context) -> int:
    url = args.url.rstrip("/")
    from urllib.parse import urlsplit

    from core.accounts import valid_host

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        host = ""
    if (not url.startswith(("http://", "https://")) or visible(url) != url or " " in url
            or len(url) > 2000 or not valid_host(host)):
        raise ConfigError(f"invalid Tryton URL {visible(args.url)[:70]!r}",
                          hint="e.g. http://127.0.0.1:8000")
    env = args.password_env
    if not env.replace("_", "").isalnum() or env[0].isdigit():
        raise ConfigError(f"invalid environment variable name {env!r}",
                          hint="give the variable's NAME, e.g. --password-env TRYTON_PASSWORD")
    settings = TrytonSettings(url=url, db=args.db, user=args.user, password_env=env,
                              confirm=not args.quotation, stock=args.stock,
                              warehouse=args.warehouse, account_category=args.account_category)
    await save_erp_setting(await ctx.hub(), settings.to_json())
    ctx.out.print(Text(f"ERP: tryton {url} database {args.db} user {args.user} "
                       f"(password from ${env})"))
    ctx.out.print(Text("check the connection with: sincro erp check"))
    return 0


async def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    setting = await load_erp_setting(await ctx.hub())
    if not uses_tryton(setting):
        erp = await open_erp(setting, ctx.erp_path)
        await erp.close()
        if args.json:
            _print_json(ctx, {"erp": "embedded", "path": str(ctx.erp_path), "ok": True})
        else:
            ctx.out.print(Text(f"ERP: embedded ({ctx.erp_path}): ok"))
        return 0
    from core.erp.tryton import TrytonErp

    settings = TrytonSettings.from_json(setting)
    try:
        tryton = await open_erp(setting, ctx.erp_path)
    except ErpError as exc:
        if "no company" in exc.message:
            raise ConfigError(f"Tryton at {settings.url}: the company is not set up",
                              hint="create the company in Tryton (with its currency) and "
                              f"select it in the preferences of user {settings.user!r}") from None
        raise
    try:
        assert isinstance(tryton, TrytonErp)  # the setting says Tryton
        info = await tryton.check()
    finally:
        await tryton.close()
    problems = []
    if "sale" not in info["modules"]:
        problems.append("the `sale` module is not activated")
    info = {"erp": "tryton", "url": settings.url, "db": settings.db, **info,
            "ok": not problems, "problems": problems}
    if args.json:
        _print_json(ctx, info)
    else:
        ctx.out.print(Text(f"ERP: tryton {settings.url} database {settings.db}"))
        ctx.out.print(Text(f"server version: {info['version']}"))
        ctx.out.print(Text(f"modules: {', '.join(info['modules'])}"))
    if problems:
        raise ConfigError(f"Tryton at {settings.url}: {'; '.join(problems)}",
                          hint="activate it in Tryton (trytond-admin -u sale "
                          "--activate-dependencies) and run: sincro erp check")
    if not args.json:
        ctx.out.print(Text("ok"))
    return 0
